using Akka.Event;
using Akka.Actor;
using Gocker.Actors.Faults;
using Gocker.Syscalls.Cgroups;

namespace Gocker.Actors.Containers;

/// <summary>Owns one container's cgroup: create with limits, place the init, read OOM and stats,
/// remove. One message at a time, so the container's cgroup writes are serialised.</summary>
public sealed class CgroupActor : ReceiveActor
{
    public sealed record Create(CgroupLimits Limits);
    public sealed record Created(string Path);
    public sealed record AddProcess(int Pid);
    /// <summary>Takes over the existing cgroup of a re-adopted container; answers Opened.</summary>
    public sealed record Open;
    public sealed record Opened(bool Existed);
    public sealed record Freeze;
    public sealed record Thaw;
    public sealed record ListProcesses;
    public sealed record ProcessList(IReadOnlyList<int> Pids);
    public sealed record ReadOomKills;
    public sealed record OomKills(long Count);
    public sealed record ReadStats;
    public sealed record KillAll;
    public sealed record Remove;
    public sealed record Done;
    /// <summary>A run ended: reads its OOM kill count and removes the cgroup, or, with Keep (the
    /// restart policy starts the container again), keeps it for the next run when it can be reused
    /// (IRecyclableCgroup: empty, unfrozen, no OOM counted). One round trip on the restart path.</summary>
    public sealed record EndRun(bool Keep);
    /// <summary>Kept: the cgroup stays (the next Create answers at once with it). RemoveError: the
    /// removal failed (the OOM count is still good).</summary>
    public sealed record RunEnded(long OomKills, bool Kept, string? RemoveError = null);

    readonly Akka.Event.ILoggingAdapter _log = Context.GetLogger();
    readonly ICgroupManager _manager;
    readonly string _parent;
    readonly string _name;
    readonly FaultInjector? _faults;
    ICgroup? _cgroup;

    /// <summary><paramref name="faults"/>: consulted before the start-path writes (create, place the
    /// init), with <paramref name="name"/> (the container id) as the key.</summary>
    public static Props Props(ICgroupManager manager, string parent, string name, FaultInjector? faults = null) =>
        Akka.Actor.Props.Create(() => new CgroupActor(manager, parent, name, faults));

    public CgroupActor(ICgroupManager manager, string parent, string name, FaultInjector? faults = null)
    {
        _manager = manager;
        _parent = parent;
        _name = name;
        _faults = faults;
        Receive<Create>(m => Reply(() => HandleCreate(m)));
        Receive<AddProcess>(m => Reply(() =>
        {
            _faults?.ThrowIfArmed(_name, FaultKind.CgroupWrite);
            Require().AddProcess(m.Pid);
            return new Done();
        }));
        Receive<ReadOomKills>(_ => Reply(() => new OomKills(_cgroup?.OomKillCount() ?? 0)));
        Receive<ReadStats>(_ => Reply(() => Require().Stats()));
        Receive<Open>(_ => Reply(() =>
        {
            if (_cgroup is null && _manager.Exists(_parent, _name)) _cgroup = _manager.Open(_parent, _name);
            return new Opened(_cgroup is not null);
        }));
        Receive<Freeze>(_ => Reply(() => { Require().Freeze(); return new Done(); }));
        Receive<Thaw>(_ => Reply(() => { Require().Thaw(); return new Done(); }));
        Receive<ListProcesses>(_ => Reply(() => new ProcessList(Require().Processes())));
        Receive<KillAll>(_ => Reply(() => { _cgroup?.KillAll(); return new Done(); }));
        Receive<Remove>(_ => Reply(HandleRemove));
        Receive<EndRun>(m => Reply(() => HandleEndRun(m)));
    }

    object HandleEndRun(EndRun m)
    {
        if (_cgroup is null) return new RunEnded(0, false);
        long oom = 0;
        try { oom = _cgroup.OomKillCount(); }
        catch (Exception ex) { _log.Warning("cgroup {0}/{1}: reading the OOM count failed: {2}", _parent, _name, ex.Message); }
        if (m.Keep && oom == 0)
        {
            try { if (_cgroup is IRecyclableCgroup r && r.TryRecycle()) return new RunEnded(0, true); }
            catch (Exception ex) { _log.Warning("cgroup {0}/{1}: not reusable, removing it: {2}", _parent, _name, ex.Message); }
        }
        try { HandleRemove(); }
        catch (Exception ex) { return new RunEnded(oom, false, ex.Message); }
        return new RunEnded(oom, false);
    }

    object HandleCreate(Create m)
    {
        if (_cgroup is not null) return new Created(_cgroup.RelativePath);
        _faults?.ThrowIfArmed(_name, FaultKind.CgroupWrite);
        // A cgroup left by a crashed run of this same container is ours to clean, never to share.
        if (_manager.Exists(_parent, _name)) _manager.Open(_parent, _name).Remove();
        _cgroup = _manager.Create(_parent, _name, m.Limits);
        return new Created(_cgroup.RelativePath);
    }

    object HandleRemove()
    {
        _cgroup?.Remove();
        _cgroup = null;
        return new Done();
    }

    /// <summary>Restarted by the ContainerActor's strategy after an exception escaped: the fresh
    /// instance takes the container's cgroup back by name, so teardown can still remove it.</summary>
    protected override void PostRestart(Exception reason)
    {
        base.PostRestart(reason);
        try { if (_manager.Exists(_parent, _name)) _cgroup = _manager.Open(_parent, _name); }
        catch (Exception ex) { _log.Error("re-opening cgroup {0}/{1} after a restart failed: {2}", _parent, _name, ex.Message); }
    }

    ICgroup Require() => _cgroup ?? throw new InvalidOperationException($"cgroup {_parent}/{_name} was not created");

    void Reply(Func<object> op) => ChildReply.Answer(Sender, _log, op);
}
