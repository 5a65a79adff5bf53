using Akka.Actor;
using Akka.Event;
using Gocker.Actors.Engine;
using Gocker.Actors.Events;
using Gocker.Actors.Faults;
using Gocker.Syscalls.Spawn;

namespace Gocker.Actors.Containers;

public sealed partial class ContainerActor
{
    // ---- re-adoption after a daemon restart -------------------------------------------------
    /// <summary>
    /// The record says the container was running (or paused) when the previous daemon died. Its
    /// process is taken back only if the recorded pid still names the process that started at the
    /// recorded time (ProcessAdopter); then its exit is watched with a pidfd, its output keeps going
    /// to the same files, and every verb works on it. Otherwise it exited while the daemon was down:
    /// whatever is left of it in its cgroup is killed, and it is recorded as exited with the status
    /// the kernel still had, or -1 with the reason. A container caught half-started (still "created"
    /// with a run dir) is cleaned the same way.
    /// </summary>
    async Task HandleReadopt()
    {
        var loaded = _record.Status;
        try { await ReadoptCore(); ResumePolicyAfterDaemonRestart(loaded); }
        finally { Context.Parent.Tell(new Settled(Id)); }
    }

    async Task ReadoptCore()
    {
        CgroupChild();
        var cgroupExists = false;
        try { cgroupExists = (await _cgroup.Ask<CgroupActor.Opened>(new CgroupActor.Open(), AskTimeout)).Existed; }
        catch (Exception ex) { _log.Warning("container {0}: re-opening its cgroup failed: {1}", Id[..12], ex.Message); }

        // Restarting: its last run was torn down before the daemon died; the policy resumes it.
        if (_record.Status is ContainerStatus.Created or ContainerStatus.Exited or ContainerStatus.Dead or ContainerStatus.Restarting)
        {
            if (cgroupExists) await KillAndRemoveCgroup();
            StartDetach();
            TryRemoveRun();
            return;
        }
        var runId = BeginRun(byPolicy: false).Id;
        var proc = _svc.Adopter.Adopt(_record.Pid, _record.PidStartTime, out var why);
        if (proc is not null)
        {
            _ns = Context.ActorOf(NamespaceActor.Props(_svc.Spawner, runId)
                .WithDispatcher(_svc.Options.ContainerDispatcher), $"run-{runId}");
            try
            {
                await _ns.Ask<NamespaceActor.Spawned>(new NamespaceActor.Adopt(proc), AskTimeout);
                if (Gocker.Syscalls.Spawn.ProcStat.Read(_record.Pid) is { IsZombie: true })
                {
                    // It died while no daemon watched and its new parent has not reaped it yet:
                    // settle it now rather than listing it as running for a moment.
                    var status = await proc.WaitForExitAsync().WaitAsync(AskTimeout);
                    await Teardown(status, note: "exited while gockerd was down");
                    return;
                }
                ReadoptTerminal();
                ReadoptOutput();
                await WatchOomOfReadopted(runId);
                if (_record.Status == ContainerStatus.Restarting) SetRecord(_record with { Status = ContainerStatus.Running });
                _log.Info("container {0}: re-adopted pid {1} ({2})", Id[..12], _record.Pid, _record.Status.DockerName());
                return;
            }
            catch (Exception ex) { why = $"re-adoption failed: {ex.Message}"; }
        }
        _log.Info("container {0}: exited while gockerd was down: {1}", Id[..12], why);
        // The pid is not ours any more (or gone): never signal it. The cgroup is ours by name.
        if (cgroupExists) await KillAndRemoveCgroup();
        await Teardown(new ExitStatus(-1, null), note: why);
    }

    /// <summary>A -t container's terminal: taken back from the keeper, so output is copied to the log
    /// again and attach, input and resize work. If the keeper is gone (or is not the recorded process)
    /// the container runs on without a terminal, and the log says so.</summary>
    void ReadoptTerminal()
    {
        if (!_record.Spec.Tty) return;
        string why = "no terminal keeper held it (the daemon that started it had none)";
        if (_record.Terminal is { } kept && Keeper is { } keeper)
        {
            var gapSince = LogGapSince();
            _stdio = ContainerStdio.Readopt(kept, keeper, Id, _record.Spec.StdinOnce, OpenLog(), out why);
            if (_stdio is not null)
            {
                _log.Info("container {0}: terminal /dev/pts/{1} taken back from the keeper (pid {2})", Id[..12], kept.Pts, kept.KeeperPid);
                ReportLogGap(gapSince, null);
                return;
            }
        }
        _log.Warning("container {0}: re-adopted without a terminal: {1}", Id[..12], why);
        if (_record.Terminal is not null) SetRecord(_record with { Terminal = null });
    }

    /// <summary>A non-tty container's output pipes: taken back from the keeper, so the copier goes on
    /// (what the container wrote meanwhile is in the pipes). If the keeper is gone the container has
    /// had no reader (its writes failed with EPIPE): its output is lost, and the log says so.</summary>
    void ReadoptOutput()
    {
        if (_record.Spec.Tty) return;
        string why = "no keeper held its pipes (the daemon that started it had none)";
        // Not recorded: the previous daemon may have died between the hand-off and the record's write.
        if ((_record.Output ?? OutputKeeper.FindPipes(Id)) is { } kept)
        {
            var gapSince = LogGapSince();
            _output = ContainerOutput.Readopt(kept, OpenLog(), out why);
            if (_output is not null)
            {
                _log.Info("container {0}: output pipes taken back from the keeper (pid {1})", Id[..12], kept.KeeperPid);
                ReportLogGap(gapSince, _output.Backlog);
                if (_record.Output != kept) SetRecord(_record with { Output = kept });
                return;
            }
        }
        _log.Warning("container {0}: re-adopted without its output: {1}", Id[..12], why);
        if (_record.Output is not null) SetRecord(_record with { Output = null });
    }

    /// <summary>A re-adopted run: kills counted before (reported by the daemon that watched them, or
    /// while none did) are not announced again; later ones are, as for any run.</summary>
    async Task WatchOomOfReadopted(int runId)
    {
        if (_cgroup is null) return;
        try { _run.OomReported = (await _cgroup.Ask<CgroupActor.OomKills>(new CgroupActor.ReadOomKills(), AskTimeout)).Count; }
        catch (Exception ex)
        {
            _log.Warning("container {0}: reading its OOM count failed, so its OOM kills are not watched: {1}", Id[..12], ex.Message);
            return;
        }
        _cgroup.Tell(new CgroupActor.WatchOom(runId, _run.OomReported));
    }

    /// <summary>
    /// Log timestamps across a daemon outage, recorded honestly rather than invented: while no daemon
    /// runs, the keeper holds the container's pipes (or terminal) but does not read them, so what the
    /// container writes meanwhile is read, and time-stamped, at re-adoption. The gap is recorded as
    /// a "log-gap" event (and a warning in the daemon's log) with its bounds: <c>since</c>, when the
    /// last chunk before the outage was logged (or the run's start), and <c>until</c>, now; every
    /// line the container wrote during the outage was written within them, and those read now
    /// (<c>pendingBytes</c>, what waited in the pipes) carry the time of <c>until</c>.
    /// Time-stamping at the source would need the keeper to read and spool the pipes, a reader per
    /// container outside the daemon: a cost on every start for an event (a daemon restart) that is
    /// rare; see docs/ARCHITECTURE.md "Log timestamps across a daemon outage".
    /// </summary>
    void ReportLogGap(DateTimeOffset since, long? pendingBytes)
    {
        var until = _svc.Clock.GetUtcNow();
        if (since > until) since = until;
        string Stamp(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", System.Globalization.CultureInfo.InvariantCulture);
        var attrs = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["name"] = _record.Spec.Name, ["image"] = _record.Spec.Image, ["since"] = Stamp(since), ["until"] = Stamp(until),
        };
        if (pendingBytes is { } n) attrs["pendingBytes"] = n.ToString(System.Globalization.CultureInfo.InvariantCulture);
        _log.Warning("container {0}: no daemon read its output from {1} to {2}: what it wrote meanwhile{3} is logged with the time of {2}",
            Id[..12], attrs["since"], attrs["until"], pendingBytes is { } p ? $" ({p} bytes waiting in its pipes)" : "");
        Context.System.EventStream.Publish(new GockerEvent("container", "log-gap", Id, attrs, until));
    }

    /// <summary>The gap's lower bound: when the log's newest chunk was logged, or the run's start if
    /// later. Read before the pipes are copied again (the backlog's chunks would move it).</summary>
    DateTimeOffset LogGapSince()
    {
        var lastNanos = OpenLog().LastNanos;
        var since = lastNanos > 0 ? DateTimeOffset.UnixEpoch.AddTicks(lastNanos / 100) : DateTimeOffset.MinValue;
        return _record.StartedAt is { } started && started > since ? started : since;
    }
}
