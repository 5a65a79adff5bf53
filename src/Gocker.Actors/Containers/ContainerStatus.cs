namespace Gocker.Actors.Containers;

/// <summary>Docker's container states. Guards live here so every verb checks them the same way.</summary>
public enum ContainerStatus { Created, Running, Paused, Restarting, Exited, Removing, Dead }

public static class ContainerStatusRules
{
    /// <summary>Restarting: a start (by hand or by the policy's timer) ends the wait.</summary>
    public static bool CanStart(this ContainerStatus s) => s is ContainerStatus.Created or ContainerStatus.Exited or ContainerStatus.Restarting;
    /// <summary>Running or Paused: a run is up (its process exists).</summary>
    public static bool IsUp(this ContainerStatus s) => s is ContainerStatus.Running or ContainerStatus.Paused;
    public static bool CanKill(this ContainerStatus s) => s.IsUp();
    public static bool CanPause(this ContainerStatus s) => s is ContainerStatus.Running;
    public static bool CanUnpause(this ContainerStatus s) => s is ContainerStatus.Paused;
    /// <summary>Docker refuses exec in a paused container (with its own message) as in a stopped one.</summary>
    public static bool CanExec(this ContainerStatus s) => s is ContainerStatus.Running;
    /// <summary>Created and Exited attach to the next run (`start -a` attaches before it starts).</summary>
    public static bool CanAttach(this ContainerStatus s) => s is not (ContainerStatus.Dead or ContainerStatus.Removing);
    public static bool CanRemove(this ContainerStatus s, bool force) =>
        force ? s is not ContainerStatus.Removing : s is ContainerStatus.Created or ContainerStatus.Exited or ContainerStatus.Dead;

    public static string DockerName(this ContainerStatus s) => s.ToString().ToLowerInvariant();

    /// <summary>Rejects an illegal transition with an error naming both states.</summary>
    public static void CheckTransition(ContainerStatus from, ContainerStatus to)
    {
        var ok = (from, to) switch
        {
            (ContainerStatus.Created, ContainerStatus.Running) => true,
            (ContainerStatus.Created, ContainerStatus.Exited) => true,   // start failed
            (ContainerStatus.Exited, ContainerStatus.Running) => true,
            (ContainerStatus.Exited, ContainerStatus.Exited) => true,    // a failed re-start
            (ContainerStatus.Running, ContainerStatus.Exited) => true,
            (ContainerStatus.Running, ContainerStatus.Paused) => true,
            (ContainerStatus.Paused, ContainerStatus.Running) => true,
            (ContainerStatus.Paused, ContainerStatus.Exited) => true,
            (ContainerStatus.Restarting, ContainerStatus.Running) => true,
            (ContainerStatus.Restarting, ContainerStatus.Exited) => true,
            (ContainerStatus.Exited, ContainerStatus.Restarting) => true,
            (_, ContainerStatus.Removing) => from is not ContainerStatus.Removing,
            (ContainerStatus.Removing, ContainerStatus.Dead) => true,
            (_, ContainerStatus.Dead) => true,
            _ => false,
        };
        if (!ok) throw new InvalidStateException($"cannot go from {from.DockerName()} to {to.DockerName()}");
    }
}

public class InvalidStateException(string message) : Exception(message);
public class ContainerNotFoundException(string reference) : Exception($"No such container: {reference}");
public class ConflictException(string message) : Exception(message);
public class BadRequestException(string message) : Exception(message);
