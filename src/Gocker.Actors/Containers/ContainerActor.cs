using Akka.Actor;
using Akka.Event;
using Gocker.Actors.Engine;
using Gocker.Actors.Events;
using Gocker.Actors.Faults;
using Gocker.Syscalls.Spawn;

namespace Gocker.Actors.Containers;

/// <summary>
/// One container: runs its state machine and owns its two children, the CgroupActor (its cgroup)
/// and a NamespaceActor per run (its process). A container exiting is an event; an exception in a
/// child is a failure, handled by the per-step supervision policy (retry with backoff, or tear the
/// container down: nothing survives, no process, cgroup, run dir, and with --rm no data dir); see
/// ContainerActor.Faults.cs. The state machine is drawn in docs/ARCHITECTURE.md; each phase has its
/// file: Start, Stop, Teardown (and removal), Readopt, Cgroup (pause, top, stats), Output, Restart.
/// </summary>
public sealed partial class ContainerActor : ReceiveActor, IWithTimers
{
    // ---- messages -------------------------------------------------------------------------
    public sealed record Start;
    public sealed record Started(int Pid);
    public sealed record Wait(WaitCondition Condition);
    public enum WaitCondition { NotRunning, NextExit, Removed }
    public sealed record WaitResult(int ExitCode, bool OomKilled, string? Error);
    public sealed record Kill(int Signal);
    /// <param name="ForRestart">The stop half of `restart`: an `--rm` container is not removed by
    /// this exit (Docker's restart keeps it), the start that follows runs it again.</param>
    /// <param name="Timeout">Null: the container's StopTimeout, else the daemon's default.</param>
    /// <param name="Signal">Null: the container's stop signal (StopSignal, SIGTERM by default).</param>
    public sealed record Stop(TimeSpan? Timeout, bool ForRestart = false, int? Signal = null);
    /// <param name="Volumes">`rm -v`: the container's anonymous volumes go with it (named ones stay).</param>
    public sealed record Remove(bool Force, bool Volumes = false);
    public sealed record Inspect;
    public sealed record Pause;
    public sealed record Unpause;
    /// <summary>Answers CgroupActor.ProcessList (host pids) and the stats, for top and stats.</summary>
    public sealed record Top;
    public sealed record Stats;
    public sealed record StatsResult(Gocker.Syscalls.Cgroups.CgroupStats Stats, int ProcessCount);
    public sealed record Attach;
    /// <summary>Where to read the output from, and a task that completes when the current (or
    /// next, if not yet started) run has exited and its output files are complete.</summary>
    /// <summary>What an attaching client follows: the container's log from Position (its end when
    /// the client attached) until Exited.</summary>
    public sealed record AttachInfo(string DataDir, Gocker.Actors.Logs.LogPosition Position, Task Exited)
    {
        /// <summary>The daemon's log writers (to wake up when the log grows).</summary>
        public Gocker.Actors.Logs.ContainerLogs? Logs { get; init; }
        /// <summary>The run's terminal or stdin pipe (null: no -t/-i, or re-adopted after a daemon restart).</summary>
        public ContainerStdio? Stdio { get; init; }
        public bool Tty { get; init; }
    }
    public sealed record Ack;
    public sealed record NotModified;
    /// <summary>Published to the parent on every state change (it keeps the listing).</summary>
    public sealed record Changed(ContainerRecord Record);
    sealed record KillTimeout(int RunId);
    /// <summary>First message after a daemon restart: take the container's process and cgroup back.</summary>
    sealed record Readopt;
    /// <summary>The keeper took the run's output pipes (after the start's record was written).</summary>
    sealed record OutputKept(int RunId, Gocker.Syscalls.Keeper.KeptPipes Kept);
    /// <summary>Told to the parent once a container loaded from disk knows its real state (re-adopted
    /// or recorded as exited), so listings after a daemon restart never show a stale "Up".</summary>
    public sealed record Settled(string Id);
    /// <summary>To the supervisor, before `rm` (or --rm's wait) is answered: the name is free from
    /// here on (its mailbox gets this before any request a client sends once answered).</summary>
    public sealed record Removed(string Id);
    sealed record FinishFailedStart(int RunId, bool HasProcess, bool KillFirst, int ExitCode);

    static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(15);
    static readonly TimeSpan ReleaseTimeout = TimeSpan.FromSeconds(30);

    readonly EngineServices _svc;
    readonly ContainerLayout _layout;
    readonly ILoggingAdapter _log = Context.GetLogger();
    readonly RecordWriter _writer;
    ContainerRecord _record;
    IActorRef? _cgroup;
    /// <summary>The current run's NamespaceActor (its process); null between runs.</summary>
    IActorRef? _ns;

    // ---- state ------------------------------------------------------------------------------
    // The container's state is _record.Status (ContainerStatus.cs has the transitions and guards;
    // docs/ARCHITECTURE.md draws the machine). What is not in the record lives in three places:
    // the run (RunState, one per run, fresh at each start), what a run leaves for the next (_kept),
    // and the removal (RemovalState). No flag is reset by hand elsewhere.

    /// <summary>
    /// What belongs to one run: one init process, from the start (or re-adoption) that made it to the
    /// teardown that ended it. Each run gets a fresh one (BeginRun), so nothing of a run leaks into
    /// the next; an ended run stays current until then (its StartFailure is the last start's error).
    /// </summary>
    sealed class RunState(int id, bool byPolicy)
    {
        /// <summary>Tags the run's NamespaceActor, timers and OOM watch: reports of an older run are
        /// ignored. A retried rootfs failure spawns a fresh init in the same start: a new id (Respawn).</summary>
        public int Id { get; private set; } = id;
        /// <summary>Started by the restart policy or the group: a failed start is then a failed run
        /// (the policy or the group decides), not an error for a caller only.</summary>
        public bool ByPolicy { get; } = byPolicy;
        /// <summary>Teardown has run: the run's late reports (exit, OOM, kept pipes) change nothing.</summary>
        public bool TornDown;
        /// <summary>The start failed: its error becomes the record's, and no "die" is emitted.</summary>
        public ExecResult? StartFailure;
        /// <summary>Stopped by `restart`: its exit does not autoremove an --rm container.</summary>
        public bool StoppingForRestart;
        /// <summary>Stopped by its group: the exit is not reported back to the group.</summary>
        public bool GroupStopping;
        /// <summary>OOM kills already announced by an `oom` event.</summary>
        public long OomReported;

        public void Respawn(int id) => Id = id;
    }

    /// <summary>The `rm`: asked while the container ran (rm -f: done after the teardown), with -v,
    /// and done (nothing publishes the record again).</summary>
    sealed class RemovalState
    {
        public bool Pending;
        /// <summary>`rm -v`: the anonymous volumes go too.</summary>
        public bool Volumes;
        public bool Done;
        public readonly List<IActorRef> Requesters = [];
    }

    /// <summary>The last run id given out (ids only grow: a stale report never matches a new run).</summary>
    int _runIds;
    /// <summary>The current (or last) run; run 0 is the "no run yet" that counts as torn down.</summary>
    RunState _run = new(0, byPolicy: false) { TornDown = true };
    // _kept, the restart path's shortcut: a run that exited by itself and that the policy starts again
    // leaves its cgroup (emptied, unfrozen, no OOM counted: IRecyclableCgroup) and its run dir for
    // the next run, instead of rmdir + mkdir in every hierarchy (8 directories on a hybrid host).
    // Whatever ends the wait other than the policy's start (stop, kill, rm, a decision not to
    // restart after all) releases them: ReleaseKeptRun. A daemon that dies meanwhile leaves them to
    // the next daemon's re-adoption, which removes the cgroup and run dir of a container that is
    // not running.
    (bool Cgroup, bool RunDir) _kept;
    readonly RemovalState _removal = new();
    (IActorRef Requester, Exception Error)? _pendingStartReply;
    /// <summary>The last run's network teardown (DELs run off the exit path); removal waits for it.</summary>
    Task? _detach;
    /// <summary>This run's pty or stdin pipe (-t/-i); closed at teardown.</summary>
    ContainerStdio? _stdio;
    /// <summary>This run's stdout/stderr pipes (non-tty runs); drained and closed at teardown.</summary>
    ContainerOutput? _output;
    TaskCompletionSource _nextExit = new(TaskCreationOptions.RunContinuationsAsynchronously);
    readonly List<(IActorRef Who, WaitCondition Condition)> _waiters = [];
    readonly List<IActorRef> _stoppers = [];

    /// <summary>A new run (a start, or the re-adoption of a running process).</summary>
    RunState BeginRun(bool byPolicy) => _run = new RunState(++_runIds, byPolicy);

    /// <summary>A message tagged with <paramref name="runId"/> is about the current run, still live.</summary>
    bool IsLiveRun(int runId) => runId == _run.Id && !_run.TornDown;

    IActorRef CgroupChild() => _cgroup ??= Context.ActorOf(CgroupActor.Props(_svc.Cgroups, _svc.Options.CgroupParent, Id, _svc.Faults)
        .WithDispatcher(_svc.Options.ContainerDispatcher), "cgroup");

    public ITimerScheduler Timers { get; set; } = null!;
    string Id => _record.Spec.Id;

    public static Props Props(EngineServices svc, ContainerRecord record) =>
        Akka.Actor.Props.Create(() => new ContainerActor(svc, record)).WithDispatcher(svc.Options.ContainerDispatcher);

    public ContainerActor(EngineServices svc, ContainerRecord record)
    {
        _svc = svc;
        _record = record;
        _layout = ContainerLayout.For(svc.Options, record.Spec.Id);
        _writer = NewRecordWriter(svc, record, _layout, _log);
        ReceiveAsync<Start>(_ => HandleStartByHand());
        ReceiveAsync<NamespaceActor.ProcessExited>(HandleExited);
        ReceiveAsync<FinishFailedStart>(HandleFinishFailedStart);
        Receive<Wait>(HandleWait);
        ReceiveAsync<Kill>(HandleKillByHand);
        ReceiveAsync<Stop>(HandleStopByHand);
        Receive<KillTimeout>(HandleKillTimeout);
        ReceiveAsync<Remove>(HandleRemoveByHand);
        ReceiveRestartMessages();
        Receive<Inspect>(_ => Sender.Tell(_record));
        ReceiveAsync<Readopt>(_ => HandleReadopt());
        Receive<OutputKept>(HandleOutputKept);
        ReceiveAsync<Pause>(_ => HandlePause(freeze: true));
        ReceiveAsync<Unpause>(_ => HandlePause(freeze: false));
        ReceiveAsync<Top>(_ => HandleTop());
        ReceiveAsync<Stats>(_ => HandleStats());
        Receive<Attach>(_ => HandleAttach());
        Receive<CgroupActor.OomKillsSeen>(m =>
        {
            // A late message of a run already torn down: its kills were reported by the teardown.
            if (IsLiveRun(m.RunId)) ReportOomKills(m.Count);
        });
        ReceiveFaultMessages();
        ReceiveExec();
        ReceiveArchive();
        ReceiveGroupMessages();
        ReceiveVerbMessages();
        ReceiveNetworkMessages();
    }

    protected override bool AroundReceive(Receive receive, object message)
    {
        ContainerThreads.Enter(_svc.Options);
        return base.AroundReceive(receive, message);
    }

    protected override void PreStart()
    {
        Publish();
        // A record loaded from disk whose process may still run (or whose cgroup may be left).
        if (_record.Status != ContainerStatus.Created || Directory.Exists(_layout.RunDir)) Self.Tell(new Readopt());
        else Context.Parent.Tell(new Settled(Id));
    }


    /// <summary>Emits one `oom` per kill counted beyond those already reported in this run, and
    /// records State.OOMKilled at once (Docker sets it at the `oom` event, a child's kill included).</summary>
    void ReportOomKills(long count)
    {
        if (count <= _run.OomReported) return;
        var fresh = count - _run.OomReported;
        _run.OomReported = count;
        for (long i = 0; i < fresh; i++) Emit("oom");
        if (!_record.OomKilled && _record.Status.IsUp())
            _ = SetRecordBehind(_record with { OomKilled = true });
    }

    /// <summary>Publishes an event about this container on the system's EventStream (name and image
    /// always among its attributes, as in Docker's).</summary>
    void Emit(string action, params (string Key, string Value)[] extra)
    {
        var attrs = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["name"] = _record.Spec.Name,
            ["image"] = _record.Spec.Image,
        };
        if (_record.Spec.Group is { Length: > 0 } group) attrs["group"] = group;
        foreach (var (k, v) in extra) attrs[k] = v;
        Context.System.EventStream.Publish(new GockerEvent("container", action, Id, attrs, _svc.Clock.GetUtcNow()));
    }
}

/// <summary>The container could not be started; ExitCode is what `gocker run` exits with
/// (125 setup failure, 126 command not runnable, 127 command not found).</summary>
public class StartFailedException(string message, int exitCode) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}
