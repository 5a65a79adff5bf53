using Akka.Actor;

namespace Gocker.Actors.Containers;

/// <summary>The archive API (docker cp): who may touch the container's files, and how.</summary>
public sealed partial class ContainerActor
{
    /// <summary>Asks how to reach the container's filesystem. Answers <see cref="ArchiveAccess"/>: a
    /// running (or paused) container is reached through its init's root (Pid, PidStartTime of the
    /// record); a stopped one through its layers, under a lease: until <see cref="ArchiveRelease"/>,
    /// start and remove are refused (409), so its overlay is never mounted twice at once (two
    /// overlays on one upper dir corrupt it) and its dirs stay while they are used.</summary>
    public sealed record ArchiveOpen;
    public sealed record ArchiveAccess(ContainerRecord Record, bool Running, string DataDir, string UpperDir);
    /// <summary>Ends a lease taken by an ArchiveOpen that answered Running = false (no answer).</summary>
    public sealed record ArchiveRelease;

    int _archiveLeases;

    void ReceiveArchive()
    {
        Receive<ArchiveOpen>(_ =>
        {
            bool running = _record.Status.IsUp() && _record.Pid > 0;
            if (!running) _archiveLeases++;
            Sender.Tell(new ArchiveAccess(_record, running, _layout.DataDir, _layout.UpperDir));
        });
        Receive<ArchiveRelease>(_ => _archiveLeases = Math.Max(0, _archiveLeases - 1));
    }

    /// <summary>Start and remove wait for no one: while a copy holds the stopped container's files they are refused.</summary>
    bool RefuseWhileCopying(IActorRef sender, string what)
    {
        if (_archiveLeases == 0) return false;
        sender.Tell(new Status.Failure(new ConflictException(
            $"cannot {what} container {Id[..12]}: a copy to or from its filesystem is in progress; try again when it ends")));
        return true;
    }
}
