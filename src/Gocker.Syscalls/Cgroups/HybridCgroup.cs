namespace Gocker.Syscalls.Cgroups;

/// <summary>Hybrid mode: v1 controllers carry limits, stats and the freezer; the cgroup2 tree
/// (usually without controllers) gets a directory too, so the container's processes are placed
/// there and cgroup.kill can kill them atomically.</summary>
public sealed class HybridCgroup : ICgroup, IRecyclableCgroup
{
    readonly CgroupFs _fs;
    public V1Cgroup V1 { get; }
    public V2Cgroup V2 { get; }

    internal HybridCgroup(CgroupFs fs, V1Cgroup v1, V2Cgroup v2) { _fs = fs; V1 = v1; V2 = v2; }

    public string RelativePath => V1.RelativePath;
    public IReadOnlyList<string> Directories => [.. V1.Directories, .. V2.Directories];

    public void AddProcess(int pid)
    {
        V1.AddProcess(pid);
        V2.AddProcess(pid);
    }

    public IReadOnlyList<int> Processes() => V1.Processes().Concat(V2.Processes()).Distinct().Order().ToList();

    public long OomKillCount() => V1.OomKillCount();

    /// <summary>The limits live in the v1 controllers (the cgroup2 tree carries none here).</summary>
    public void Update(CgroupLimits limits) => V1.Update(limits);

    /// <summary>Where the count is read: the v1 memory controller (the cgroup2 tree has none in hybrid mode).</summary>
    public OomWatch? WatchOom(Action onSignal) => V1.WatchOom(onSignal);

    public CgroupStats Stats()
    {
        var s = V1.Stats();
        // without v1 cpuacct, the v2 core cpu.stat still counts CPU time
        return V1.CpuUsageNanos() is null ? s with { CpuUsageNanos = V2.CpuUsageNanos() ?? 0 } : s;
    }

    public void Freeze() { if (V1.HasFreezer) V1.Freeze(); else V2.Freeze(); }
    public void Thaw() { if (V1.HasFreezer) V1.Thaw(); else V2.Thaw(); }

    public void KillAll()
    {
        if (!V2.CanKill) { V1.KillAll(); return; }
        V2.KillAll();
        // SIGKILL stays pending on tasks frozen by the v1 freezer
        if (V1.HasFreezer) V1.Thaw();
    }

    public void Remove()
    {
        // One pass over all directories so processes are killed once, whichever hierarchy is busy.
        CgroupTree.RemoveAll(_fs, Directories, KillAll, () => Processes().Count > 0);
    }

    public bool TryRecycle()
    {
        if (OomKillCount() > 0 || Processes().Count > 0) return false;
        V1.ThawIfFrozen();
        V2.ThawIfFrozen();
        return true;
    }
}
