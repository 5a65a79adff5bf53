using Akka.Actor;
using Akka.Event;
using Gocker.Syscalls.Spawn;

namespace Gocker.Actors.Containers;

/// <summary>Owns one `exec` process inside a running container: spawn it into the container's
/// namespaces (held at its go pipe), release it once it is in the container's cgroup, signal it,
/// and stop when it has exited. A child of the ContainerActor, one per exec.</summary>
public sealed class ExecActor : ReceiveActor
{
    public sealed record Spawn(ExecSpawnRequest Request);
    /// <summary>Exit completes when the process has exited and was reaped.</summary>
    public sealed record Spawned(int Pid, Task<ExitStatus> Exit);
    public sealed record Release;
    public sealed record Signal(int Number);
    sealed record Exited;

    readonly ILoggingAdapter _log = Context.GetLogger();
    readonly IExecSpawner _spawner;
    IInitProcess? _process;
    bool _released, _exited;

    public static Props Props(IExecSpawner spawner) => Akka.Actor.Props.Create(() => new ExecActor(spawner));

    public ExecActor(IExecSpawner spawner)
    {
        _spawner = spawner;
        Receive<Spawn>(m => ChildReply.Answer(Sender, _log, () =>
        {
            if (_process is not null) throw new InvalidOperationException("this exec already has a process");
            _process = _spawner.SpawnInto(m.Request);
            var exit = _process.WaitForExitAsync();
            exit.ContinueWith(_ => new Exited(), TaskScheduler.Default).PipeTo(Self);
            return new Spawned(_process.Pid, exit);
        }));
        Receive<Release>(_ => ChildReply.Answer(Sender, _log, () =>
        {
            _released = true;
            return (_process ?? throw new InvalidOperationException("no exec process")).Release();
        }));
        Receive<Signal>(m => { if (!_exited) _process?.Signal(m.Number); });
        Receive<Exited>(_ => { _exited = true; Context.Stop(Self); });
    }

    /// <summary>An exec never released (its cgroup placement failed, or the container went away
    /// meanwhile) is killed and reaped: it must not run anything.</summary>
    protected override void PostStop() => OwnedProcess.Finish(_process, _exited, _released);
}
