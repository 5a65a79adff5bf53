using Akka.Actor;
using Akka.Event;
using Gocker.Actors.Engine;
using Gocker.Actors.Events;
using Gocker.Actors.Faults;
using Gocker.Syscalls.Spawn;

namespace Gocker.Actors.Containers;

/// <summary>stop, kill and wait.</summary>
public sealed partial class ContainerActor
{
    async Task HandleStopByHand(Stop m)
    {
        if (_record.Status == ContainerStatus.Restarting)
        {
            var sender = Sender;
            await StopPendingRestart();
            Emit("stop");
            sender.Tell(new Ack());
            return;
        }
        if (_record.Status == ContainerStatus.Running && _ns is not null) MarkStoppedByHand();
        HandleStop(m);
    }

    /// <summary>Docker: SIGKILL and the stop signal (SIGTERM unless --stop-signal) disable the policy
    /// until the next start; other signals (SIGHUP, SIGUSR1...) leave it in place.</summary>
    async Task HandleKillByHand(Kill m)
    {
        var fatal = m.Signal == 9 || m.Signal == StopSignalNumber;
        if (_record.Status == ContainerStatus.Restarting)
        {
            var sender = Sender;
            if (!fatal)
            {
                sender.Tell(new Status.Failure(new ConflictException($"Container {Id} is not running (it is restarting)")));
                return;
            }
            await StopPendingRestart();
            Emit("kill", ("signal", Str(m.Signal)));
            sender.Tell(new Ack());
            return;
        }
        if (fatal && _record.Status == ContainerStatus.Running && _ns is not null) MarkStoppedByHand();
        HandleKill(m);
    }

    void MarkStoppedByHand()
    {
        // Persisted at once: if the daemon dies before the exit, unless-stopped must still stay down.
        if (!_record.ManuallyStopped) SetRecord(_record with { ManuallyStopped = true });
    }

    // ---- other verbs ----------------------------------------------------------------------
    void HandleWait(Wait m)
    {
        var running = _record.Status.IsUp();
        if (m.Condition == WaitCondition.NotRunning && !running)
            Sender.Tell(new WaitResult(_record.ExitCode, _record.OomKilled, _record.Error.Length > 0 ? _record.Error : null));
        else
            _waiters.Add((Sender, m.Condition));
    }

    void HandleKill(Kill m)
    {
        if (RejectPaused("kill")) return;
        if (!_record.Status.CanKill() || _ns is null)
        {
            Sender.Tell(new Status.Failure(new ConflictException($"Container {Id} is not running (it is {_record.Status.DockerName()})")));
            return;
        }
        _ns.Tell(new NamespaceActor.Signal(m.Signal));
        Emit("kill", ("signal", m.Signal.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Sender.Tell(new Ack());
    }

    void HandleStop(Stop m)
    {
        if (RejectPaused("stop")) return;
        if (!_record.Status.CanKill() || _ns is null) { Sender.Tell(new NotModified()); return; }
        _stoppers.Add(Sender);
        if (m.ForRestart) _run.StoppingForRestart = true;
        var signal = m.Signal ?? StopSignalNumber;
        _ns.Tell(new NamespaceActor.Signal(signal));
        Emit("kill", ("signal", signal.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        // A PID 1 that ignores the signal still stops: SIGKILL when the grace period ends (never
        // with a StopTimeout of -1).
        var timeout = m.Timeout ?? StopTimeoutOf(_record.Spec, _svc.Options.DefaultStopTimeout);
        if (timeout >= TimeSpan.Zero) Timers.StartSingleTimer($"kill-{_run.Id}", new KillTimeout(_run.Id), timeout);
    }

    void HandleKillTimeout(KillTimeout m)
    {
        if (m.RunId == _run.Id && _ns is not null) _ns.Tell(new NamespaceActor.Signal(9));
    }

    /// <summary>Docker refuses stop and kill on a paused container: its processes cannot act on a
    /// signal until thawed.</summary>
    bool RejectPaused(string verb)
    {
        if (_record.Status != ContainerStatus.Paused) return false;
        Sender.Tell(new Status.Failure(new ConflictException(
            $"cannot {verb} container {Id}: it is paused. Unpause the container before stopping or killing")));
        return true;
    }
}
