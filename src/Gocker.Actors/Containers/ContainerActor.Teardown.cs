using Akka.Actor;
using Akka.Event;
using Gocker.Actors.Engine;
using Gocker.Actors.Events;
using Gocker.Actors.Faults;
using Gocker.Syscalls.Spawn;

namespace Gocker.Actors.Containers;

/// <summary>The end of a run (exit, failed start, engine fault, re-adoption of a dead process) and
/// the removal of the container (`rm`, --rm).</summary>
public sealed partial class ContainerActor
{
    // ---- exit and teardown ----------------------------------------------------------------
    async Task HandleExited(NamespaceActor.ProcessExited m)
    {
        if (!IsLiveRun(m.RunId)) return;
        _log.Debug("container {0}: exited: {1}", Id[..12], m.Status);
        await Teardown(m.Status, exited: true);
    }

    /// <param name="exited">The run's process exited by itself (not a failed start, re-adoption or
    /// engine fault): its OOM count is read, and if the policy restarts it its cgroup and run dir
    /// are kept for the next run.</param>
    async Task Teardown(ExitStatus status, bool oom = false, string? note = null, bool exited = false)
    {
        if (status.ExitCode < 0 && note is null)
            note = "exit status unknown: the process was re-adopted after a daemon restart and reaped by another process before its status could be read";
        _run.TornDown = true;
        Timers.CancelAll();
        if (_stdio is { } stdio)
        {
            // Everything the container wrote to its terminal reaches the log before the exit is
            // announced (attached clients drain the file up to that point, then finish).
            _stdio = null;
            await stdio.FinishAsync(TimeSpan.FromSeconds(2));
        }
        // A kept terminal no daemon took back (its run ended while gockerd was down): the keeper drops it.
        else if (_record.Terminal is { } kept) Keeper?.Release(kept, Id);
        // Pipes no daemon took back (the run ended while gockerd was down): what the container wrote
        // meanwhile is still in them; taken back to be copied into the logs, then dropped.
        if (_output is null && !_record.Spec.Tty && (_record.Output ?? OutputKeeper.FindPipes(Id)) is { } keptPipes)
        {
            _output = ContainerOutput.Readopt(keptPipes, OpenLog(), out var why);
            if (_output is null)
            {
                _log.Warning("container {0}: its output pipes could not be taken back (output written while gockerd was down, if any, is lost): {1}", Id[..12], why);
                OutputKeeper.ReleasePipes(keptPipes, Id);
            }
        }
        // Everything the container wrote reaches the logs before the exit is announced.
        var releasing = await FinishOutput();
        CloseLog(endOfRun: true);
        if (_ns is not null) { Context.Stop(_ns); _ns = null; }
        // Any container may hold an endpoint record (e.g. one started under another default): always.
        // Before the cgroup removal, which it overlaps: the init is gone, and with its PID namespace
        // every process of the container, so nothing of it holds the netns any more.
        StartDetach();
        var errors = new List<string>();
        var keep = exited && KeepForRestart(status);
        _kept.Cgroup = false;
        long oomKills = 0;
        if (_cgroup is not null)
        {
            try
            {
                var ended = await _cgroup.Ask<CgroupActor.RunEnded>(new CgroupActor.EndRun(keep), AskTimeout);
                if (exited)
                {
                    oomKills = ended.OomKills;
                    oom = oomKills > 0 || _run.OomReported > 0;
                }
                _kept.Cgroup = ended.Kept;
                if (ended.RemoveError is { } e) errors.Add($"cgroup removal: {e}");
            }
            catch (Exception ex) { errors.Add($"cgroup removal: {ex.Message}"); }
        }
        _kept.RunDir = keep;
        if (!keep)
        {
            try { _layout.RemoveRun(_svc.Trash); }
            catch (Exception ex) { errors.Add($"run dir removal: {ex.Message}"); }
        }
        foreach (var e in errors) _log.Error("container {0}: teardown: {1}", Id[..12], e);

        var failure = _run.StartFailure;
        SetRecord(_record with
        {
            Status = ContainerStatus.Exited,
            Pid = 0,
            Terminal = null,
            Output = null,
            ExitCode = failure?.ExitCode ?? status.ExitCode,
            OomKilled = oom,
            Error = failure is not null ? failure.ToString() : string.Join("; ", note is null ? errors : errors.Prepend(note)),
            FinishedAt = _svc.Clock.GetUtcNow(),
        });
        // One `oom` per kill the live watch has not announced (all of them if it could not watch), before "die".
        ReportOomKills(oomKills);
        // A failed start that never ran the command has no "die" in Docker either.
        if (failure is null) Emit("die", ("exitCode", _record.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        if (_stoppers.Count > 0) Emit("stop");
        var result = new WaitResult(_record.ExitCode, oom, _record.Error.Length > 0 ? _record.Error : null);
        foreach (var w in _waiters.Where(w => w.Condition != WaitCondition.Removed).ToList())
        {
            w.Who.Tell(result);
            _waiters.Remove(w);
        }
        foreach (var s in _stoppers) s.Tell(new Ack());
        _stoppers.Clear();
        var tcs = _nextExit;
        _nextExit = new(TaskCreationOptions.RunContinuationsAsynchronously);
        tcs.TrySetResult();

        // The keeper has dropped this run's pipes before a next run (same tags) can hand it new ones;
        // a removal (never restarted) overlaps it with its own work instead.
        var removeNow = (_record.Spec.AutoRemove && !_run.StoppingForRestart) || _removal.Pending;
        if (!removeNow) await releasing;
        ApplyRestartPolicy(failure);
        if (_record.Status != ContainerStatus.Restarting) await ReleaseKeptRun();
        if (removeNow) await DoRemove(releasing);
        await releasing;
        ReplyPendingStart();
    }


    Task HandleRemoveByHand(Remove m)
    {
        if (_record.Status == ContainerStatus.Restarting)
        {
            if (!m.Force)
            {
                Sender.Tell(new Status.Failure(new ConflictException(
                    $"You cannot remove a restarting container {Id}. Stop the container before attempting removal or force remove")));
                return Task.CompletedTask;
            }
            CancelPendingRestart();
        }
        return HandleRemove(m);
    }

    async Task HandleRemove(Remove m)
    {
        if (RefuseWhileCopying(Sender, "remove")) return;
        if (m.Volumes) _removal.Volumes = true;
        if (_record.Status.IsUp())
        {
            if (!m.Force)
            {
                Sender.Tell(new Status.Failure(new ConflictException(
                    $"You cannot remove a running container {Id}. Stop the container before attempting removal or force remove")));
                return;
            }
            _removal.Requesters.Add(Sender);
            _removal.Pending = true;
            _ns?.Tell(new NamespaceActor.Signal(9));
            // A frozen process acts on SIGKILL only once thawed.
            if (_record.Status == ContainerStatus.Paused) _cgroup?.Tell(new CgroupActor.Thaw(), ActorRefs.Nobody);
            return;
        }
        if (_record.Status == ContainerStatus.Removing) { _removal.Requesters.Add(Sender); return; }
        _removal.Requesters.Add(Sender);
        await DoRemove();
    }

    /// <param name="overlapped">Work of the teardown that ran meanwhile (the keeper's release of the
    /// run's pipes): done before the removal is announced.</param>
    async Task DoRemove(Task? overlapped = null)
    {
        SetRecord(_record with { Status = ContainerStatus.Removing });
        if (_cgroup is not null)
        {
            try { await _cgroup.Ask<CgroupActor.Done>(new CgroupActor.Remove(), AskTimeout); } catch { /* logged at exit */ }
        }
        // `rm` returns only when nothing of the container is left, its network included (the
        // teardown needs neither the run nor the data dir: it overlaps their removal).
        if (_detach is null) StartDetach();
        _layout.RemoveRun(_svc.Trash);
        await _writer.Flush(); // a record written behind must not land in (or recreate) a removed dir
        // Clients still draining the log (an attached `run --rm`) open its newer generations by
        // path: they finish first (bounded: a client that does not read must not hold the removal).
        if (_record.StartedAt is not null)
            await Task.WhenAny(_svc.Logs.ReadersDone(_layout.DataDir), Task.Delay(TimeSpan.FromSeconds(2)));
        _layout.RemoveData(_svc.Trash);
        // Its volumes are free; its anonymous ones go with `rm -v` and with an --rm container (Docker).
        try
        {
            var gone = _svc.Volumes.Release(Id, ContainerSupervisor.VolumeNames(_record.Spec), _removal.Volumes || _record.Spec.AutoRemove);
            foreach (var v in gone) Context.System.EventStream.Publish(new Events.GockerEvent("volume", "destroy", v, new Dictionary<string, string>(StringComparer.Ordinal) { ["driver"] = "local" }, _svc.Clock.GetUtcNow()));
        }
        catch (Exception ex) { _log.Error("container {0}: releasing its volumes: {1}", Id[..12], ex.Message); }
        await AwaitDetach();
        if (overlapped is not null) await overlapped;
        Emit("destroy"); // before the answers: once `rm` returns, `events` has the destroy
        // Out of `ps`, and its name free, before `rm` (or the wait of `run --rm`) is answered (and no
        // later publish puts it back).
        _removal.Done = true;
        _svc.Listing.Remove(Id);
        Context.Parent.Tell(new Removed(Id));
        var result = new WaitResult(_record.ExitCode, _record.OomKilled, _record.Error.Length > 0 ? _record.Error : null);
        foreach (var w in _waiters) w.Who.Tell(result);
        _waiters.Clear();
        foreach (var r in _removal.Requesters) r.Tell(new Ack());
        _removal.Requesters.Clear();
        _nextExit.TrySetResult();
        // Not stopped here: requests the supervisor forwarded before it learnt of the removal are
        // still queued (they came in while the removal ran), and a stopped actor's mailbox goes to dead
        // letters, where each asker would wait for its timeout (`wait X; rm -f X` of an --rm container
        // took 60 s). Gone answers them; the supervisor's PoisonPill, sent when it gets Removed (and so
        // after everything it forwarded before), stops this actor.
        Become(Gone);
    }

    /// <summary>Removed: every request is answered "No such container", as the supervisor now does.</summary>
    void Gone()
    {
        ReceiveAny(_ =>
        {
            // Our own children's reports and replies are not requests (ChildFailed, late answers).
            if (Sender.IsNobody() || Sender.Path.Parent == Self.Path) return;
            Sender.Tell(new Status.Failure(new ContainerNotFoundException(Id)));
        });
    }

    /// <summary>Releases the container's network (veth, IP, NAT and port rules) off the actor's path.
    /// Idempotent; a crash before it completes is cleaned by CleanupStale at the next daemon start.</summary>
    void StartDetach()
    {
        if (_svc.Network is not { } net) return;
        var id = Id;
        var log = _log;
        var previous = _detach;
        var recyclable = !MayHaveChangedItsNetns(_record.Spec);
        _detach = Task.Run(async () =>
        {
            if (previous is not null) { try { await previous; } catch { } }
            // Every caller runs after the init is gone (its PID namespace, and so every process of
            // the container, with it): the netns can be let go before the DELs (see VethReaper).
            try { await net.DetachAsync(id, containerGone: true, mayRecycle: recyclable); }
            catch (Exception ex) { log.Error("container {0}: network teardown: {1}", id[..12], ex.Message); throw; }
        });
    }

    /// <summary>A container that could change its network namespace (interfaces, routes, firewall,
    /// sysctls) must not hand it to the next container through the netns pool; nor may a remapped one,
    /// whose namespace belongs to its own user namespace (its root had every right over it).</summary>
    static bool MayHaveChangedItsNetns(ContainerSpec s)
    {
        const ulong netAdmin = 1UL << Gocker.Syscalls.Security.CapabilitySet.NET_ADMIN, sysAdmin = 1UL << Gocker.Syscalls.Security.CapabilitySet.SYS_ADMIN;
        return s.Privileged || s.Userns is not null || ((s.Capabilities ?? 0) & (netAdmin | sysAdmin)) != 0 ||
               s.Sysctls.Any(x => x.Key.StartsWith("net.", StringComparison.Ordinal));
    }

    async Task AwaitDetach()
    {
        if (_detach is null) return;
        try { await _detach; } catch { /* logged */ }
    }

    async Task KillAndRemoveCgroup()
    {
        try
        {
            await _cgroup!.Ask<CgroupActor.Done>(new CgroupActor.KillAll(), AskTimeout);
            await _cgroup.Ask<CgroupActor.Done>(new CgroupActor.Remove(), AskTimeout);
        }
        catch (Exception ex) { _log.Error("container {0}: removing its stale cgroup failed: {1}", Id[..12], ex.Message); }
    }

    void TryRemoveRun()
    {
        try { _layout.RemoveRun(_svc.Trash); }
        catch (Exception ex) { _log.Error("container {0}: run dir removal: {1}", Id[..12], ex.Message); }
    }
}
