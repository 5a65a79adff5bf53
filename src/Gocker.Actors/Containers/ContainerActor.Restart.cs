using System.Globalization;
using Akka.Actor;
using Akka.Event;
using Gocker.Actors.Restart;
using Gocker.Syscalls.Spawn;

namespace Gocker.Actors.Containers;

/// <summary>
/// The restart policy (Docker's `--restart`): after a run ends, RestartPolicyDecider says whether
/// and when to start it again; a timer (Timers, so TestScheduler drives it in specs) carries it
/// out. Verbs by hand go through the *ByHand handlers here first: stop/kill mark the run as
/// stopped by hand (never undone by the policy), and cancel a pending restart.
/// </summary>
public sealed partial class ContainerActor
{
    /// <summary>The policy's timer fired (Generation guards against a cancelled one still queued).</summary>
    sealed record RestartDue(int Generation);

    const string RestartTimerKey = "restart";
    int _restartGeneration;

    /// <summary>The decision for the exit record being written (SetRecord asks first, so that it can
    /// skip writing an exit record that "restarting" replaces at once); ApplyRestartPolicy uses it.</summary>
    RestartDecision? _plannedDecision;

    void ReceiveRestartMessages() => ReceiveAsync<RestartDue>(HandleRestartDue);

    /// <summary>Decides for an exit record about to be written; true when the policy restarts it.
    /// A daemon crash before the "restarting" write is harmless: the next daemon finds the recorded
    /// run gone, tears it down and applies the policy.</summary>
    bool PlanRestart(ContainerRecord exited)
    {
        _plannedDecision = Decide(exited, _run.StartFailure);
        return _plannedDecision is RestartDecision.Restart;
    }

    RestartDecision? Decide(ContainerRecord r, ExecResult? startFailure)
    {
        var policy = r.Spec.Restart;
        if (policy.IsNone || r.Spec.AutoRemove || _removal.Pending) return null;
        // A start by hand that failed: its caller gets the error, as in Docker; no restart loop.
        if (startFailure is not null && !_run.ByPolicy) return null;
        var runTime = startFailure is null && r.StartedAt is { } s && r.FinishedAt is { } f && f > s ? f - s : TimeSpan.Zero;
        return RestartPolicyDecider.Decide(new RestartInput(policy, r.ExitCode, r.OomKilled,
            r.ManuallyStopped, runTime, r.RestartCount, r.RestartDelay), Random.Shared.NextDouble());
    }

    /// <summary>Teardown asks before it touches the cgroup: will the policy start this run again?
    /// The answer assumes no OOM kill (the cgroup is not kept when one was counted, and the real
    /// decision is made on the exit record); a group member's group decides, so never.</summary>
    bool KeepForRestart(ExitStatus status)
    {
        if (_run.StartFailure is not null || !string.IsNullOrEmpty(_record.Spec.Group)) return false;
        var exited = _record with
        {
            Status = ContainerStatus.Exited, ExitCode = status.ExitCode, OomKilled = false, FinishedAt = _svc.Clock.GetUtcNow(),
        };
        return Decide(exited, null) is RestartDecision.Restart;
    }

    /// <summary>Removes the cgroup and run dir kept for a restart that is not going to happen.</summary>
    async Task ReleaseKeptRun()
    {
        if (_kept.Cgroup && _cgroup is not null)
        {
            _kept.Cgroup = false;
            try { await _cgroup.Ask<CgroupActor.Done>(new CgroupActor.Remove(), AskTimeout); }
            catch (Exception ex) { _log.Error("container {0}: removing its kept cgroup failed: {1}", Id[..12], ex.Message); }
        }
        _kept.Cgroup = false;
        if (_kept.RunDir)
        {
            _kept.RunDir = false;
            TryRemoveRun();
        }
    }

    /// <summary>Called by Teardown once the run's exit is recorded and its waiters answered.</summary>
    void ApplyRestartPolicy(ExecResult? startFailure)
    {
        var planned = _plannedDecision;
        _plannedDecision = null;
        if (ReportToGroup(startFailure)) return;   // a group member: its group decides (ContainerActor.Group.cs)
        var decision = planned ?? Decide(_record, startFailure);
        switch (decision)
        {
            case RestartDecision.Restart r:
                ScheduleRestart(r.Delay, r.RestartCount, r.BaseDelay, r.Reason);
                break;
            case RestartDecision.NoRestart n:
                Emit("restart-skipped", ("reason", n.Reason), ("restartCount", Str(_record.RestartCount)));
                break;
        }
    }

    void ScheduleRestart(TimeSpan delay, int restartCount, TimeSpan? baseDelay, string reason)
    {
        var at = _svc.Clock.GetUtcNow() + delay;
        var next = _record with
        {
            Status = ContainerStatus.Restarting, RestartCount = restartCount, RestartDelay = baseDelay, NextRestartAt = at,
        };
        if (delay > TimeSpan.Zero) SetRecord(next);
        else
        {
            // A zero delay: the start's own record write ("running", with the new count) follows at
            // once, so this one (a file write and an fsync) is skipped. A daemon dying in between
            // finds the previous run's record, its process gone: it tears it down and applies the
            // policy again (the count on disk is then one behind, as when an exit record is skipped).
            ContainerStatusRules.CheckTransition(_record.Status, next.Status);
            _record = next;
            Publish();
        }
        var due = new RestartDue(++_restartGeneration);
        // No scheduler tick (10 ms) for a zero delay: the restart reaction time is the point of it.
        if (delay <= TimeSpan.Zero) Self.Tell(due, ActorRefs.NoSender);
        else Timers.StartSingleTimer(RestartTimerKey, due, delay);
        // After the timer exists: whoever reacts to the event (a spec advancing virtual time) finds it.
        Emit("restart-scheduled", ("delayMs", Str((long)delay.TotalMilliseconds)), ("restartCount", Str(restartCount)), ("reason", reason));
    }

    void CancelPendingRestart()
    {
        Timers.Cancel(RestartTimerKey);
        _restartGeneration++;
    }

    async Task HandleRestartDue(RestartDue m)
    {
        if (m.Generation != _restartGeneration || _record.Status != ContainerStatus.Restarting) return;
        await StartByPolicy();
    }

    async Task StartByPolicy()
    {
        _record = _record with { NextRestartAt = null };   // saved by the start's own record write
        var run = _runIds;
        await HandleStart(byPolicy: true);
        if (_record.Status == ContainerStatus.Running && _runIds == run + 1)
            Emit("restart", ("restartCount", Str(_record.RestartCount)));
    }

    async Task StopPendingRestart()
    {
        CancelPendingRestart();
        SetRecord(_record with { Status = ContainerStatus.Exited, ManuallyStopped = true, NextRestartAt = null });
        await ReleaseKeptRun();
    }

    // ---- daemon restart -----------------------------------------------------------------------
    /// <summary>
    /// After re-adoption: `always` containers come back (even stopped by hand, as Docker does),
    /// `unless-stopped` ones unless stopped by hand, and one that was waiting to restart when the
    /// daemon died keeps its schedule. Deliberately not Docker: an on-failure container that had
    /// given up, or was stopped by hand, stays down (Docker's restore starts it again when its
    /// last exit code was not 0, because its restart count starts from 0 again).
    /// </summary>
    void ResumePolicyAfterDaemonRestart(ContainerStatus loaded)
    {
        var policy = _record.Spec.Restart;
        if (policy.IsNone) return;
        if (_record.Status == ContainerStatus.Restarting)
        {
            if (loaded != ContainerStatus.Restarting) return;   // scheduled by the teardown of a run that died meanwhile
            var left = (_record.NextRestartAt ?? _svc.Clock.GetUtcNow()) - _svc.Clock.GetUtcNow();
            if (left < TimeSpan.Zero) left = TimeSpan.Zero;
            if (left > policy.Backoff.MaxDelay) left = policy.Backoff.MaxDelay;
            var due = new RestartDue(++_restartGeneration);
            if (left <= TimeSpan.Zero) Self.Tell(due, ActorRefs.NoSender);
            else Timers.StartSingleTimer(RestartTimerKey, due, left);
            Emit("restart-scheduled", ("delayMs", Str((long)left.TotalMilliseconds)), ("restartCount", Str(_record.RestartCount)),
                ("reason", "was waiting to restart when the daemon stopped"));
            return;
        }
        if (_record.Status != ContainerStatus.Exited || loaded != ContainerStatus.Exited) return;
        var comesBack = policy.Mode == RestartMode.Always || (policy.Mode == RestartMode.UnlessStopped && !_record.ManuallyStopped);
        if (!comesBack)
        {
            Emit("restart-skipped", ("reason", $"daemon restart: {RestartSettings.NameOf(policy.Mode)}{(_record.ManuallyStopped ? " and stopped by hand" : "")}"));
            return;
        }
        // Docker starts it as a fresh start: the stopped-by-hand flag and the backoff reset.
        _record = _record with { ManuallyStopped = false, RestartDelay = null };
        ScheduleRestart(TimeSpan.Zero, _record.RestartCount, null, $"daemon restart: {RestartSettings.NameOf(policy.Mode)}");
    }

    static string Str(long v) => v.ToString(CultureInfo.InvariantCulture);
}
