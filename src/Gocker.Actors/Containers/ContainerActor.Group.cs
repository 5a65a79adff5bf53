using Akka.Actor;
using Gocker.Syscalls.Spawn;

namespace Gocker.Actors.Containers;

/// <summary>
/// Membership of a supervision group (--group): the group, not the container's own policy, decides
/// restarts. An exit that was neither by hand nor by the group is reported on the EventStream
/// (GroupMemberExited, heard by the GroupsManager); the group then stops and starts members with
/// GroupStop and GroupRestart.
/// </summary>
public sealed partial class ContainerActor
{
    /// <summary>Stop on the group's behalf: the normal stop (SIGTERM, SIGKILL after Timeout), not
    /// marked as by hand, and its exit is not reported back. Answers Ack once exited, or NotModified.</summary>
    public sealed record GroupStop(TimeSpan Timeout);
    /// <summary>Start now on the group's behalf (RestartCount + 1). Answers Started, NotModified
    /// (running, or stopped by hand: it stays down) or a failure.</summary>
    public sealed record GroupRestart;
    /// <summary>Published on the EventStream: a member's run ended and its group must decide.</summary>
    public sealed record GroupMemberExited(string Group, string Id, int ExitCode);

    void ReceiveGroupMessages()
    {
        Receive<GroupStop>(m =>
        {
            if (_record.Status == ContainerStatus.Running && _ns is not null) _run.GroupStopping = true;
            // The member's own --stop-timeout wins over the group's (the daemon's default).
            HandleStop(new Stop(_record.Spec.StopTimeout is null ? m.Timeout : null));
        });
        ReceiveAsync<GroupRestart>(_ => HandleGroupRestart());
    }

    async Task HandleGroupRestart()
    {
        if (_record.Status is not (ContainerStatus.Created or ContainerStatus.Exited) || _record.ManuallyStopped || _removal.Pending)
        {
            Sender.Tell(new NotModified());
            return;
        }
        _record = _record with { RestartCount = _record.RestartCount + 1 };   // saved by the start's record write
        var run = _runIds;
        await HandleStart(byPolicy: true);   // a failed start is then a failed run, reported to the group
        if (_record.Status == ContainerStatus.Running && _runIds == run + 1)
            Emit("restart", ("restartCount", Str(_record.RestartCount)), ("by", "group"));
    }

    /// <summary>The hook in ApplyRestartPolicy: true when the container is a group member (its
    /// exit, if it needs a decision, went to the group).</summary>
    bool ReportToGroup(ExecResult? startFailure)
    {
        if (string.IsNullOrEmpty(_record.Spec.Group)) return false;
        _plannedDecision = null;
        if (_run.GroupStopping || _record.ManuallyStopped || _record.Spec.AutoRemove || _removal.Pending) return true;
        // A start by hand that failed: its caller has the error (as without a group).
        if (startFailure is not null && !_run.ByPolicy) return true;
        Context.System.EventStream.Publish(new GroupMemberExited(_record.Spec.Group, Id, _record.ExitCode));
        return true;
    }
}
