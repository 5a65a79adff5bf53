using Akka.Actor;
using Akka.Event;
using Gocker.Actors.Engine;
using Gocker.Actors.Events;
using Gocker.Actors.Faults;
using Gocker.Syscalls.Spawn;

namespace Gocker.Actors.Containers;

/// <summary>Verbs that are cgroup operations on a live container: pause, unpause, top, stats.</summary>
public sealed partial class ContainerActor
{
    // ---- pause, top, stats ----------------------------------------------------------------
    async Task HandlePause(bool freeze)
    {
        var sender = Sender;
        if (!(freeze ? _record.Status.CanPause() : _record.Status.CanUnpause()) || _cgroup is null)
        {
            var msg = freeze
                ? _record.Status == ContainerStatus.Paused ? $"Container {Id} is already paused" : $"Container {Id} is not running"
                : $"Container {Id} is not paused";
            sender.Tell(new Status.Failure(new ConflictException($"{msg} (it is {_record.Status.DockerName()})")));
            return;
        }
        try
        {
            await _cgroup.Ask<CgroupActor.Done>(freeze ? new CgroupActor.Freeze() : new CgroupActor.Thaw(), AskTimeout);
        }
        catch (Exception ex)
        {
            sender.Tell(new Status.Failure(new InvalidOperationException($"{(freeze ? "pause" : "unpause")} {Id[..12]}: {ex.Message}")));
            return;
        }
        // The process may have exited meanwhile (Teardown ran between messages? no: one message at a time).
        SetRecord(_record with { Status = freeze ? ContainerStatus.Paused : ContainerStatus.Running });
        Emit(freeze ? "pause" : "unpause");
        sender.Tell(new Ack());
    }

    async Task HandleTop()
    {
        var sender = Sender;
        if (!_record.Status.CanKill() || _cgroup is null)
        {
            sender.Tell(new Status.Failure(new ConflictException($"Container {Id} is not running (it is {_record.Status.DockerName()})")));
            return;
        }
        try { sender.Tell(await _cgroup.Ask<CgroupActor.ProcessList>(new CgroupActor.ListProcesses(), AskTimeout)); }
        catch (Exception ex) { sender.Tell(new Status.Failure(ex)); }
    }

    async Task HandleStats()
    {
        var sender = Sender;
        if (!_record.Status.CanKill() || _cgroup is null)
        {
            sender.Tell(new StatsResult(new Gocker.Syscalls.Cgroups.CgroupStats(0, 0, 0, 0), 0));
            return;
        }
        try
        {
            var stats = await _cgroup.Ask<Gocker.Syscalls.Cgroups.CgroupStats>(new CgroupActor.ReadStats(), AskTimeout);
            var procs = await _cgroup.Ask<CgroupActor.ProcessList>(new CgroupActor.ListProcesses(), AskTimeout);
            sender.Tell(new StatsResult(stats, procs.Pids.Count));
        }
        catch (Exception ex) { sender.Tell(new Status.Failure(ex)); }
    }
}
