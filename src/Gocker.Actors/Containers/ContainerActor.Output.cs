using Akka.Actor;
using Akka.Event;
using Gocker.Actors.Engine;
using Gocker.Actors.Events;
using Gocker.Actors.Faults;
using Gocker.Syscalls.Spawn;

namespace Gocker.Actors.Containers;

/// <summary>The run's I/O: its stdio (terminal or stdin pipe), its output pipes, its log, attach.</summary>
public sealed partial class ContainerActor
{
    /// <summary>The stdio of the coming run, made on first need (an attach before start, or the start).</summary>
    ContainerStdio? NextStdio()
    {
        if (_stdio is { IsSpawned: true }) { _stdio.Dispose(); _stdio = null; }
        return _stdio ??= ContainerStdio.Create(_record.Spec.Tty, _record.Spec.OpenStdin, _record.Spec.StdinOnce, Keeper, Id, _record.Spec.ConsoleSize);
    }

    void HandleAttach()
    {
        if (!_record.Status.CanAttach())
        {
            Sender.Tell(new Status.Failure(new ConflictException("You cannot attach to a stopped container, start it first")));
            return;
        }
        // An exited container is attached like a created one, to its next run: docker's `start -a`
        // attaches before it starts (the console refuses a plain `attach` to a stopped container).
        bool next = _record.Status is ContainerStatus.Created or ContainerStatus.Exited;
        try { Logs.LogFiles.MigrateLegacy(_layout.DataDir); }
        catch (IOException ex) { _log.Warning("container {0}: its log could not be moved to log/: {1}", Id[..12], ex.Message); }
        Sender.Tell(new AttachInfo(_layout.DataDir, Logs.LogFiles.End(_layout.DataDir), _nextExit.Task)
        { Stdio = next ? NextStdio() : _stdio, Tty = _record.Spec.Tty, Logs = _svc.Logs });
    }

    void HandleOutputKept(OutputKept m)
    {
        // Only while that run is the running one: a later teardown already released them.
        if (!IsLiveRun(m.RunId) || _output?.Kept != m.Kept) return;
        // Written behind: nothing waits for it (a daemon killed before it lands re-adopts the
        // container without its output, as if the keeper had failed).
        if (_record.Status.IsUp()) _ = SetRecordBehind(_record with { Output = m.Kept });
    }

    /// <summary>Drains the run's output into the logs (bounded) and returns the release of the
    /// keeper's copies, which runs meanwhile: the caller awaits it before it is done.</summary>
    async Task<Task> FinishOutput()
    {
        if (_output is not { } output) return Task.CompletedTask;
        _output = null;
        await output.DrainAsync(TimeSpan.FromSeconds(2));
        return output.ReleaseAsync(OutputKeeper, Id);
    }

    /// <summary>The keeper of the daemon (one per exec root): -t runs' terminals and other runs' pipes.</summary>
    Gocker.Syscalls.Keeper.TerminalKeeper OutputKeeper =>
        Gocker.Syscalls.Keeper.TerminalKeeper.For(_svc.Options.ExecRoot, _svc.InitPath, _svc.Cgroups, _svc.Options.CgroupParent);

    /// <summary>The daemon's terminal keeper (one per exec root, started with the first -t run).</summary>
    Gocker.Syscalls.Keeper.TerminalKeeper? Keeper => _record.Spec.Tty
        ? Gocker.Syscalls.Keeper.TerminalKeeper.For(_svc.Options.ExecRoot, _svc.InitPath, _svc.Cgroups, _svc.Options.CgroupParent)
        : null;

    /// <summary>The run's log writer (opened at the start or re-adoption, closed at the teardown).</summary>
    Logs.LogWriter? _logWriter;

    Logs.LogWriter OpenLog()
    {
        if (_logWriter is not null) return _logWriter;
        var system = Context.System;
        var (id, name, image, clock, log) = (Id, _record.Spec.Name, _record.Spec.Image, _svc.Clock, _log);
        // Called on the copier's thread: publishes straight to the event stream (thread-safe).
        Logs.LogWriter.Reporter report = (action, attrs) =>
        {
            var all = new Dictionary<string, string>(StringComparer.Ordinal) { ["name"] = name, ["image"] = image };
            foreach (var (k, v) in attrs) all[k] = v;
            log.Warning("container {0}: {1} {2}", id[..12], action, string.Join(' ', attrs.Select(a => a.Key + "=" + a.Value)));
            system.EventStream.Publish(new GockerEvent("container", action, id, all, clock.GetUtcNow()));
        };
        return _logWriter = _svc.Logs.Open(_layout.DataDir, _record.Spec.Log ?? _svc.Options.Logs, report);
    }

    /// <summary>Closes the log writer; at the end of a run of a "none" container its attach buffer is
    /// emptied (nothing of its output stays).</summary>
    void CloseLog(bool endOfRun)
    {
        if (_logWriter is not { } w) return;
        _logWriter = null;
        if (endOfRun && _record.Spec.Log is { Readable: false }) w.Clear();
        _svc.Logs.Close(w);
    }
}
