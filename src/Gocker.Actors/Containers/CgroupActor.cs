using Akka.Event;
using Akka.Actor;
using Gocker.Actors.Faults;
using Gocker.Syscalls.Cgroups;

namespace Gocker.Actors.Containers;

/// <summary>Owns one container's cgroup: create with limits, place the init, read OOM and stats,
/// remove. One message at a time, so the container's cgroup writes are serialised.</summary>
public sealed class CgroupActor : ReceiveActor, IWithTimers
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
    /// <summary>`update`: writes the limits that are set in it to the live cgroup; answers Done.</summary>
    public sealed record Update(CgroupLimits Limits);
    public sealed record Remove;
    public sealed record Done;
    /// <summary>A run ended: reads its OOM kill count and removes the cgroup, or, with Keep (the
    /// restart policy starts the container again), keeps it for the next run when it can be reused
    /// (IRecyclableCgroup: empty, unfrozen, no OOM counted). One round trip on the restart path.</summary>
    public sealed record EndRun(bool Keep);
    /// <summary>Kept: the cgroup stays (the next Create answers at once with it). RemoveError: the
    /// removal failed (the OOM count is still good).</summary>
    public sealed record RunEnded(long OomKills, bool Kept, string? RemoveError = null);
    /// <summary>Watch the cgroup's OOM kills for run <paramref name="RunId"/>: each new kill the
    /// kernel counts is told to the parent as <see cref="OomKillsSeen"/>, until EndRun or Remove.
    /// <paramref name="Seen"/>: the kills already known (0 for a new run; a re-adopted run's count,
    /// asked first with ReadOomKills), so only later ones are told.</summary>
    public sealed record WatchOom(int RunId, long Seen);
    /// <summary>To the parent: the cgroup's OOM kill count rose to <paramref name="Count"/> during
    /// run <paramref name="RunId"/> (a total, so a late or repeated message adds nothing).</summary>
    public sealed record OomKillsSeen(int RunId, long Count);
    /// <summary>From the watcher's thread: the kernel signalled (Generation: which watch).</summary>
    sealed record OomSignalled(long Generation);
    /// <summary>v1: read the count again after a signal that came before the kill was counted.</summary>
    sealed record OomRecheck(long Generation, int Attempt);

    /// <summary>v1 signals before the kill is counted (OomWatch.SignalsBeforeCount): the count is
    /// read again after 1, 2, 4 ... 1024 ms (about 2 s in all), only after a signal, never while
    /// idle. A kill counted later still reaches the events at the exit (EndRun's count).</summary>
    const int MaxOomRechecks = 11;

    readonly Akka.Event.ILoggingAdapter _log = Context.GetLogger();
    readonly ICgroupManager _manager;
    readonly string _parent;
    readonly string _name;
    readonly FaultInjector? _faults;
    ICgroup? _cgroup;
    public ITimerScheduler Timers { get; set; } = null!;
    OomWatch? _oomWatch;
    long _oomGeneration;
    int _oomRun;
    long _oomSeen;

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
        Receive<Update>(m => Reply(() => { Require().Update(m.Limits); return new Done(); }));
        Receive<Remove>(_ => Reply(HandleRemove));
        Receive<EndRun>(m => Reply(() => HandleEndRun(m)));
        Receive<WatchOom>(HandleWatchOom);
        Receive<OomSignalled>(m => { if (m.Generation == _oomGeneration) CheckOomKills(0); });
        Receive<OomRecheck>(m => { if (m.Generation == _oomGeneration) CheckOomKills(m.Attempt); });
    }

    void HandleWatchOom(WatchOom m)
    {
        StopOomWatch();
        if (_cgroup is null) return;
        var generation = ++_oomGeneration;
        _oomRun = m.RunId;
        _oomSeen = m.Seen;
        var self = Self;
        try { _oomWatch = _cgroup.WatchOom(() => self.Tell(new OomSignalled(generation))); }
        catch (Exception ex)
        {
            // Not fatal: the kills are still counted, and reported at the exit.
            _log.Warning("cgroup {0}/{1}: OOM kills will only be reported at the exit: watching them failed: {2}", _parent, _name, ex.Message);
            return;
        }
        // A kill between the placement of the init and the watch's registration has no signal to come.
        CheckOomKills(MaxOomRechecks);
    }

    /// <param name="attempt">Rechecks done since the signal (MaxOomRechecks: none to schedule).</param>
    void CheckOomKills(int attempt)
    {
        if (_cgroup is null || _oomWatch is null) return;
        long count;
        try { count = _cgroup.OomKillCount(); }
        catch (Exception ex)
        {
            _log.Warning("cgroup {0}/{1}: reading the OOM count failed: {2}", _parent, _name, ex.Message);
            return;
        }
        if (count > _oomSeen)
        {
            _oomSeen = count;
            Context.Parent.Tell(new OomKillsSeen(_oomRun, count));
        }
        else if (_oomWatch.SignalsBeforeCount && attempt < MaxOomRechecks)
            Timers.StartSingleTimer("oom-recheck", new OomRecheck(_oomGeneration, attempt + 1), TimeSpan.FromMilliseconds(1 << attempt));
    }

    void StopOomWatch()
    {
        _oomGeneration++; // signals and rechecks of the old watch are dropped
        Timers.Cancel("oom-recheck");
        _oomWatch?.Dispose();
        _oomWatch = null;
    }

    protected override void PostStop()
    {
        StopOomWatch();
        base.PostStop();
    }

    object HandleEndRun(EndRun m)
    {
        StopOomWatch();
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
        StopOomWatch();
        _cgroup?.Remove();
        _cgroup = null;
        return new Done();
    }

    ICgroup Require() => _cgroup ?? throw new InvalidOperationException($"cgroup {_parent}/{_name} was not created");

    void Reply(Func<object> op) => ChildReply.Answer(Sender, _log, op);
}
