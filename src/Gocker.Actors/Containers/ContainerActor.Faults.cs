using Akka.Actor;
using Akka.Event;
using Gocker.Actors.Faults;
using Gocker.Syscalls.Spawn;

namespace Gocker.Actors.Containers;

/// <summary>
/// Supervision of the engine's own faults, the one mechanism (docs/ARCHITECTURE.md, "Supervision").
///
/// A child never throws. Every failure of a CgroupActor or NamespaceActor reaches this actor as a
/// message: the Status.Failure answer to an Ask (ChildReply), or, for a failure outside any
/// request (a NamespaceActor's exit watch failing), <see cref="ChildFailed"/>. (An ExecActor answers
/// the same way; its failure fails that exec, see HandleExec, and never the container.) Why not Akka's
/// throw-and-directive: a child that throws is parked until its parent's directive is processed,
/// which cannot happen while the parent awaits that very child (a start awaits its children).
/// <see cref="SupervisorStrategy"/> is only the net for a bug: whatever still escapes a child is
/// turned into the same ChildFailed, and the child resumed.
///
/// Both are decided here with the step's policy (gocker.supervision.cgroup|spawn|mount,
/// SupervisionPolicy.cs): retry after a backoff, or tear down; each decision is a `fault` event.
/// - A start step (<see cref="Supervised{T}"/>): retry re-asks the same child after the backoff;
///   teardown throws StepFailedException, and the start fails through FailStart. Why the same
///   child: a failed Create, AddProcess or Spawn leaves the child's state as it was (the cgroup
///   handle and the process are set only on success; Create is idempotent), and the child keeps
///   what teardown needs (the cgroup to remove, the half-started init to kill and reap). A failed
///   rootfs setup (<see cref="MountFailed"/>) is different: that init has exited, so a retry is a
///   fresh init (new NamespaceActor and run id, the network attached again) after the dead one is
///   reaped. Backoffs run on the actor system's scheduler (virtual time in specs); meanwhile this
///   actor handles nothing else (the start is one message), which the policy bounds (at most 30 s).
/// - A failure outside a request (<see cref="HandleChildFailed"/>): retry leaves the child as it
///   is (nothing to re-ask; the event says so); teardown kills the container through the child and
///   through its cgroup, then the ordinary teardown, with the fault as the recorded error. A
///   NamespaceActor is never restarted: it owns the process handle, which a restart would drop.
/// </summary>
public sealed partial class ContainerActor
{
    /// <summary>Arms an injected fault for this container's next start(s); answers FaultArmed.</summary>
    public sealed record ArmFault(FaultKind Kind, int Count);
    public sealed record FaultArmed(string Id, FaultKind Kind, int Count);
    /// <summary>From a child (its Sender): it failed outside any request. Step names the child's
    /// kind ("cgroup", "namespace"), whose policy decides.</summary>
    public sealed record ChildFailed(string Step, string Error);

    /// <summary>Failures outside requests, per child (by name): the attempt a policy decides on.</summary>
    readonly Dictionary<string, int> _childFaults = new(StringComparer.Ordinal);

    SupervisionSettings Supervision => SupervisionSettings.For(Context.System);

    void ReceiveFaultMessages()
    {
        Receive<ArmFault>(HandleArmFault);
        ReceiveAsync<ChildFailed>(HandleChildFailed);
    }

    void HandleArmFault(ArmFault m)
    {
        if (_record.Status is ContainerStatus.Removing or ContainerStatus.Dead)
        {
            Sender.Tell(new Status.Failure(new ConflictException($"container {Id[..12]} is {_record.Status.DockerName()}")));
            return;
        }
        try { _svc.Faults.Arm(Id, m.Kind, m.Count); }
        catch (ArgumentException ex) { Sender.Tell(new Status.Failure(new BadRequestException(ex.Message))); return; }
        Emit("fault-armed", ("kind", m.Kind.Name()), ("count", m.Count.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Sender.Tell(new FaultArmed(Id, m.Kind, _svc.Faults.Armed(Id, m.Kind)));
    }

    /// <summary>Runs one start step under its policy: on failure, retry after the backoff or give
    /// up with a StepFailedException naming the step (FailStart then tears the container down).</summary>
    async Task<T> Supervised<T>(FaultStep kind, string step, Func<Task<T>> op, Func<Task<bool>>? giveUpIf = null)
    {
        var policy = Supervision.For(kind);
        for (var failures = 1; ; failures++)
        {
            Exception error;
            try { return await op(); }
            catch (Exception ex) { error = ex; }
            var message = error is AskTimeoutException ? "timed out" : error.Message;
            // Not a fault of this step (e.g. the init died by itself): no retry, the caller finds the cause.
            if (giveUpIf is not null && await giveUpIf()) throw new StepFailedException(step, message, error);
            // A step that timed out may still be running inside its child: never retried.
            var (decision, delay) = error is AskTimeoutException ? (SupervisionDecision.Teardown, TimeSpan.Zero) : policy.Decide(failures);
            if (decision == SupervisionDecision.Teardown)
            {
                EmitFault(step, message, decision, failures, TimeSpan.Zero);
                throw new StepFailedException(step, failures > 1 ? $"{message} (gave up after {failures} attempts)" : message, error);
            }
            var attempt = failures;
            await Backoff(delay, () => EmitFault(step, message, SupervisionDecision.Retry, attempt, delay));
        }
    }

    /// <summary>The init failed its rootfs setup (<paramref name="exec"/>, the <paramref name="failures"/>-th
    /// time this start). Null: retry (the dead init is reaped, its actor stopped, its network released,
    /// the backoff waited); otherwise the failure to report.</summary>
    async Task<ExecResult?> MountFailed(ExecResult exec, int failures)
    {
        var (decision, delay) = Supervision.Mount.Decide(failures);
        var error = exec.ToString();
        if (decision == SupervisionDecision.Teardown)
        {
            EmitFault("mount", error, decision, failures, TimeSpan.Zero);
            return failures > 1 ? exec with { Message = $"{exec.Message} (gave up after {failures} attempts)" } : exec;
        }
        var ns = _ns!;
        try { await ns.Ask<ExitStatus>(new NamespaceActor.AwaitExit(), AskTimeout); }
        catch (Exception ex)
        {
            // It did not exit by itself: let the teardown kill and reap it.
            _log.Error("container {0}: init did not exit after its failed setup: {1}", Id[..12], ex.Message);
            EmitFault("mount", error, SupervisionDecision.Teardown, failures, TimeSpan.Zero);
            return exec;
        }
        Context.Stop(ns);
        _ns = null;
        // The dead init's network namespace had the endpoint: DEL it; the next attach waits for that.
        if (Networked) StartDetach();
        await Backoff(delay, () => EmitFault("mount", error, SupervisionDecision.Retry, failures, delay));
        return null;
    }

    /// <summary>How long a post-spawn failure waits to learn whether the init has died by itself.
    /// Real time, not the scheduler: a dead init is reported by the reaper within milliseconds.</summary>
    static readonly TimeSpan InitExitGrace = TimeSpan.FromSeconds(1);

    /// <summary>How long to wait for the reaper: when /proc already shows the init a zombie its exit
    /// is certain, and only a busy machine delays the reaper's notification.</summary>
    internal static TimeSpan ExitGraceFor(int pid, bool goneMeansExited = false) =>
        Gocker.Syscalls.Spawn.ProcStat.Read(pid) is { IsZombie: true } || (goneMeansExited && !Directory.Exists($"/proc/{pid}"))
            ? TimeSpan.FromSeconds(10) : InitExitGrace;

    /// <summary>True when the spawned init has exited by itself. It does so when its rootfs setup
    /// fails: it reports on the status pipe and exits without waiting for the go byte, and then
    /// placing it in its cgroup fails (ESRCH) and so does the CNI ADD (its netns is gone).</summary>
    static async Task<bool> InitExited(IActorRef ns, int pid)
    {
        var exit = ns.Ask<ExitStatus>(new NamespaceActor.AwaitExit(), AskTimeout);
        return await Task.WhenAny(exit, Task.Delay(ExitGraceFor(pid))) == exit && exit.IsCompletedSuccessfully;
    }

    /// <summary>A step between spawn and release failed. If the init died by itself, its own report
    /// (read from the exec-status pipe by Release, which cannot start anything now) is the real
    /// cause; otherwise the step's error stands.</summary>
    async Task<ExecResult> InitReportOrThrow(IActorRef ns, int pid, Exception setupError)
    {
        if (await InitExited(ns, pid))
        {
            var report = await ns.Ask<ExecResult>(new NamespaceActor.Release(), ReleaseTimeout);
            // An init that died without a word (killed) explains nothing: keep the step's error.
            if (!report.Ok) return report;
        }
        System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(setupError);
        throw setupError; // not reached
    }

    /// <summary>The init's rootfs steps (gocker-init's Init.Run): a failure there is the "mount" step.
    /// Other failures (command not found, workdir, capabilities) are never retried.</summary>
    public static bool IsRootfsSetup(ExecResult exec) =>
        !exec.Ok && exec.ExitCode == 125 && exec.Step is { } s &&
        (s.StartsWith("mount-", StringComparison.Ordinal) || s == "mask-paths" || s.StartsWith("volume ", StringComparison.Ordinal) || s == "pivot-root");

    /// <summary>A task that completes after <paramref name="delay"/> on the actor system's scheduler.
    /// <paramref name="announce"/> runs after the timer is scheduled, so a spec on virtual time that
    /// sees the event can advance the clock past it.</summary>
    Task Backoff(TimeSpan delay, Action announce)
    {
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (delay <= TimeSpan.Zero) tcs.SetResult();
        else Context.System.Scheduler.Advanced.ScheduleOnce(delay, () => tcs.TrySetResult());
        announce();
        return tcs.Task;
    }

    void EmitFault(string step, string error, SupervisionDecision decision, int attempt, TimeSpan delay, bool escaped = false)
    {
        var d = decision == SupervisionDecision.Retry ? "retry" : "teardown";
        if (decision == SupervisionDecision.Retry)
            _log.Warning("container {0}: {1} failed (attempt {2}): {3}; retrying in {4} ms", Id[..12], step, attempt, error, (long)delay.TotalMilliseconds);
        else
            _log.Warning("container {0}: {1} failed (attempt {2}): {3}; tearing the container down", Id[..12], step, attempt, error);
        var attrs = new List<(string, string)>
        {
            ("step", step), ("error", error), ("decision", d),
            ("attempt", attempt.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ("delay", ((long)delay.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture) + "ms"),
        };
        if (escaped) attrs.Add(("escaped", "true"));
        Emit("fault", [.. attrs]);
    }

    // ---- failures outside a request ------------------------------------------------------
    /// <summary>The net for a bug: an exception that escapes a child becomes a ChildFailed like
    /// any other, and the child resumes (a restart would drop a NamespaceActor's process handle).</summary>
    protected override SupervisorStrategy SupervisorStrategy() => new ChildFaultStrategy((child, cause) =>
    {
        Self.Tell(new ChildFailed(_cgroup is not null && child.Equals(_cgroup) ? "cgroup" : "namespace", cause.Message), child);
        return Directive.Resume;
    });

    async Task HandleChildFailed(ChildFailed m)
    {
        var policy = Supervision.For(m.Step == "cgroup" ? FaultStep.Cgroup : FaultStep.Spawn);
        var child = Sender.Path.Name;
        var attempt = _childFaults[child] = _childFaults.GetValueOrDefault(child) + 1;
        var (decision, _) = policy.Decide(attempt);
        // "escaped": outside a request (the event's attribute since the first version).
        EmitFault(m.Step, m.Error, decision, attempt, TimeSpan.Zero, escaped: true);
        if (decision != SupervisionDecision.Teardown || !_record.Status.CanKill()) return;
        // Tear down without relying on the child that failed (a NamespaceActor whose exit watch
        // failed would never report the exit): kill through it and through the cgroup, then the
        // usual teardown (cgroup, run dir, network), with the fault as the recorded reason.
        // Asked, not told: Teardown stops the NamespaceActor, and a stop (a system message) would
        // overtake a queued signal.
        try { if (_ns is not null) await _ns.Ask<NamespaceActor.Done>(new NamespaceActor.Signal(9), AskTimeout); }
        catch (Exception ex) { _log.Error("container {0}: killing through its process after an engine fault failed: {1}", Id[..12], ex.Message); }
        if (_cgroup is not null)
        {
            try
            {
                if (_record.Status == ContainerStatus.Paused) await _cgroup.Ask<CgroupActor.Done>(new CgroupActor.Thaw(), AskTimeout);
                await _cgroup.Ask<CgroupActor.Done>(new CgroupActor.KillAll(), AskTimeout);
            }
            catch (Exception ex) { _log.Error("container {0}: killing after an engine fault failed: {1}", Id[..12], ex.Message); }
        }
        await Teardown(ExitStatus.Killed(9), note: $"torn down after an engine fault in its {m.Step} actor: {m.Error}");
    }

    protected override void PostStop()
    {
        // A removed container's armed faults must not fire for a later container.
        _svc.Faults.Forget(Id);
        // The daemon's side of its terminal or stdin pipe (see ContainerStdio).
        _stdio?.Dispose();
        // Its output pipes' read ends (the keeper's copies stay for the next daemon).
        _output?.Dispose();
        CloseLog(endOfRun: false);
        // A daemon that stops leaves its last records on disk (a write behind is milliseconds).
        _writer.Flush().Wait(TimeSpan.FromSeconds(5));
        _writer.Dispose();
        base.PostStop();
    }

    /// <summary>OneForOneStrategy whose decider also knows which child failed.</summary>
    sealed class ChildFaultStrategy(Func<IActorRef, Exception, Directive> decide) : OneForOneStrategy(_ => Directive.Resume)
    {
        protected override Directive Handle(IActorRef child, Exception exception) => decide(child, exception);
    }
}

/// <summary>A start step failed for good (its policy said teardown, or its retries ran out).</summary>
public sealed class StepFailedException(string step, string message, Exception inner) : Exception(message, inner)
{
    public string Step { get; } = step;
}
