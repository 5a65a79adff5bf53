using Akka.Actor;
using Gocker.Api;

namespace Gocker.Actors.Containers;

/// <summary>rename and update (Docker's verbs), and the stop signal/timeout rules every stop path
/// uses (stop, restart, group stops).</summary>
public sealed partial class ContainerActor
{
    /// <summary>The supervisor has checked and reserved the new name; answers Ack.</summary>
    public sealed record Rename(string NewName);
    /// <summary>Validated here against the current spec; live limits go to the cgroup first. Answers
    /// Ack or a failure (nothing changed).</summary>
    public sealed record Update(ContainerUpdateRequest Request);

    void ReceiveVerbMessages()
    {
        Receive<Rename>(HandleRename);
        ReceiveAsync<Update>(HandleUpdate);
    }

    /// <summary>The signal a stop sends first: --stop-signal (or the image's), else SIGTERM.</summary>
    int StopSignalNumber
    {
        get
        {
            if (_record.Spec.StopSignal is not { } s) return 15;
            try { return SignalNames.Parse(s); }
            catch (BadRequestException) { return 15; } // validated at create; a hand-edited record falls back
        }
    }

    /// <summary>How long a stop waits before SIGKILL: the container's StopTimeout, else the daemon's
    /// default. Negative (StopTimeout -1): forever.</summary>
    public static TimeSpan StopTimeoutOf(ContainerSpec spec, TimeSpan fallback) => spec.StopTimeout switch
    {
        null => fallback,
        < 0 => TimeSpan.FromMilliseconds(-1),
        var s => TimeSpan.FromSeconds(s.Value),
    };

    void HandleRename(Rename m)
    {
        var old = _record.Spec.Name;
        if (old == m.NewName) { Sender.Tell(new Ack()); return; }
        SetRecord(_record with { Spec = _record.Spec with { Name = m.NewName } });
        Emit("rename", ("oldName", "/" + old));
        Sender.Tell(new Ack());
    }

    async Task HandleUpdate(Update m)
    {
        var sender = Sender;
        ContainerUpdate.Result result;
        try { result = ContainerUpdate.Apply(_record.Spec, m.Request); }
        catch (Exception ex) { sender.Tell(new Status.Failure(ex)); return; }
        // A live cgroup (running, paused, or kept for a policy restart) gets the new limits now; a
        // stopped container's next start creates its cgroup from the spec.
        if (result.ChangesLimits && _cgroup is not null && (_record.Status.CanKill() || _kept.Cgroup))
        {
            try { await _cgroup.Ask<CgroupActor.Done>(new CgroupActor.Update(result.Delta), AskTimeout); }
            catch (Exception ex)
            {
                sender.Tell(new Status.Failure(new BadRequestException($"Cannot update container {Id[..12]}: {ex.Message}")));
                return;
            }
        }
        SetRecord(_record with { Spec = result.Spec });
        Emit("update");
        sender.Tell(new Ack());
    }
}

public sealed partial class ContainerActor
{
    /// <summary>Docker: a -t container gets TERM=xterm unless its environment (the image's or -e) sets TERM.</summary>
    internal static string[] EnvWithTerm(ContainerSpec s) =>
        s.Tty && !s.Env.Any(e => e.StartsWith("TERM=", StringComparison.Ordinal)) ? [.. s.Env, "TERM=xterm"] : s.Env;
}
