using Akka.Event;
using Akka.Actor;
using Gocker.Actors.Faults;
using Gocker.Syscalls.Spawn;

namespace Gocker.Actors.Containers;

/// <summary>Owns one run's process: spawn the init into fresh namespaces, release it to exec,
/// signal it, and report its exit to the parent. One NamespaceActor per run.</summary>
public sealed class NamespaceActor : ReceiveActor
{
    public sealed record Spawn(SpawnRequest Request);
    /// <summary>Takes over a process that is already running (re-adopted after a daemon restart).</summary>
    public sealed record Adopt(IInitProcess Process);
    public sealed record Spawned(int Pid);
    public sealed record Release;
    /// <summary>The init is in the container's cgroups (IInitProcess.Placed); no answer.</summary>
    public sealed record Placed;
    public sealed record Signal(int Number);
    /// <summary>Answers the ExitStatus once the process has exited (at once if it already has).</summary>
    public sealed record AwaitExit;
    public sealed record Done;
    /// <summary>Sent to the parent when the process has exited and was reaped.</summary>
    public sealed record ProcessExited(int RunId, ExitStatus Status);

    sealed record ExitObserved(ExitStatus Status);

    readonly Akka.Event.ILoggingAdapter _log = Context.GetLogger();
    readonly ISpawner _spawner;
    readonly int _runId;
    readonly FaultInjector? _faults;
    readonly string _containerId;
    IInitProcess? _process;
    bool _exited, _released;
    ExitStatus? _status;
    readonly List<IActorRef> _exitWaiters = [];

    /// <summary><paramref name="faults"/>: consulted before each spawn, keyed by <paramref name="containerId"/>.</summary>
    public static Props Props(ISpawner spawner, int runId, FaultInjector? faults = null, string containerId = "") =>
        Akka.Actor.Props.Create(() => new NamespaceActor(spawner, runId, faults, containerId));

    public NamespaceActor(ISpawner spawner, int runId, FaultInjector? faults = null, string containerId = "")
    {
        _spawner = spawner;
        _runId = runId;
        _faults = faults;
        _containerId = containerId;
        Receive<Spawn>(m => Reply(() => HandleSpawn(m)));
        Receive<Adopt>(m => Reply(() =>
        {
            if (_process is not null) throw new InvalidOperationException("this run already has a process");
            _process = m.Process;
            _released = true;
            _process.WaitForExitAsync().PipeTo(Self, success: s => new ExitObserved(s));
            return new Spawned(_process.Pid);
        }));
        Receive<Release>(_ => Reply(() => { _released = true; return Require().Release(); }));
        // Told, not asked: an init that died meanwhile says why at the Release that follows.
        Receive<Placed>(_ =>
        {
            try { if (!_released && !_exited) _process?.Placed(); }
            catch (Exception e) { _log.Warning("container {0}: telling the init it is placed: {1}", _containerId, e.Message); }
        });
        Receive<Signal>(m => Reply(() => HandleSignal(m)));
        Receive<ExitObserved>(HandleExit);
        Receive<AwaitExit>(_ =>
        {
            if (_status is not null) Sender.Tell(_status);
            else _exitWaiters.Add(Sender);
        });
        // The exit watch failed: never thrown (see ContainerActor.Faults.cs), the parent's policy decides.
        Receive<Status.Failure>(f =>
        {
            _log.Warning("run {0}: waiting for the container process failed: {1}", _runId, f.Cause.Message);
            Context.Parent.Tell(new ContainerActor.ChildFailed("namespace", "waiting for the container process failed"));
        });
    }

    object HandleSpawn(Spawn m)
    {
        if (_process is not null) throw new InvalidOperationException("this run already has a process");
        // Before the spawn, like a real spawn failure: nothing was started, the actor's state is unchanged.
        _faults?.ThrowIfArmed(_containerId, FaultKind.Spawn);
        _process = _spawner.Spawn(m.Request);
        _process.WaitForExitAsync().PipeTo(Self, success: s => new ExitObserved(s));
        return new Spawned(_process.Pid);
    }

    object HandleSignal(Signal m)
    {
        if (!_exited) Require().Signal(m.Number);
        return new Done();
    }

    void HandleExit(ExitObserved m)
    {
        _exited = true;
        _status = m.Status;
        // An init that died before its release keeps its exec-status pipe open until PostStop: its
        // report (why its setup failed) is still to be read by Release.
        if (_released) _process?.Dispose();
        foreach (var w in _exitWaiters) w.Tell(m.Status);
        _exitWaiters.Clear();
        Context.Parent.Tell(new ProcessExited(_runId, m.Status));
    }

    IInitProcess Require() => _process ?? throw new InvalidOperationException("no process spawned");

    void Reply(Func<object> op) => ChildReply.Answer(Sender, _log, op);

    /// <summary>A half-started init (never released) is killed and reaped; a released one is the
    /// user's running container and outlives the daemon (the next one re-adopts it).</summary>
    protected override void PostStop() => OwnedProcess.Finish(_process, _exited, _released);
}
