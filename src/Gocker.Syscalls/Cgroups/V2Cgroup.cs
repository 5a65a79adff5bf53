namespace Gocker.Syscalls.Cgroups;

/// <summary>A cgroup in a cgroup2 tree: a single directory.</summary>
public sealed class V2Cgroup : ICgroup, IRecyclableCgroup
{
    /// <summary>The domain controllers Gocker enables on the way down to its cgroups.</summary>
    static readonly string[] WantedControllers = ["cpuset", "cpu", "memory", "pids"];

    readonly CgroupFs _fs;
    public string Directory { get; }
    public string RelativePath { get; }
    public IReadOnlyList<string> Directories { get; }

    internal V2Cgroup(CgroupFs fs, string root, string relativePath)
    {
        _fs = fs;
        RelativePath = relativePath;
        Directory = Path.Combine(root, relativePath);
        Directories = [Directory];
    }

    /// <param name="enableControllers">false in hybrid mode, where v2 only places, freezes and kills.</param>
    internal static V2Cgroup CreateInto(CgroupFs fs, string root, string parent, string name, CgroupLimits limits,
        bool enableControllers, List<string> created)
    {
        var rel = parent + "/" + name;
        if (limits.CpusetCpus is not null) CpusetList.Parse(limits.CpusetCpus);
        var cg = new V2Cgroup(fs, root, rel);
        if (System.IO.Directory.Exists(cg.Directory)) throw V1Cgroup.AlreadyExists(cg.Directory);

        if (enableControllers)
        {
            // A controller reaches the leaf only if every ancestor enables it in subtree_control,
            // the root included (root is exempt from the no-internal-processes rule).
            EnableControllers(fs, root);
            var levels = CgroupTree.EnsureParents(fs, root, parent, level => EnableControllers(fs, level));
            var parentDir = levels[^1];
            RequireControllers(CgroupValues.Words(fs.TryRead(parentDir, "cgroup.subtree_control")), limits, parentDir);
        }
        else
        {
            if (!IsNone(limits))
                throw new SyscallException("create cgroup", cg.Directory, "limits requested on a v2 tree without controllers");
            CgroupTree.EnsureParents(fs, root, parent);
        }

        if (!fs.Mkdir(cg.Directory)) throw V1Cgroup.AlreadyExists(cg.Directory);
        created.Add(cg.Directory);
        cg.ApplyLimits(limits);
        if (limits.Devices is { } devices)
        {
            // No devices controller file on cgroup2: an eBPF program on the directory. Without it
            // a container (CAP_MKNOD) could mknod and read the host's disks.
            fs.Guard.EnsureCgroupDirectory(cg.Directory);
            DeviceFilter.Attach(cg.Directory, devices);
        }
        return cg;
    }

    /// <summary>No controller limit (device rules need no controller on cgroup2).</summary>
    static bool IsNone(CgroupLimits l) =>
        l.MemoryBytes is null && l.CpuQuotaMicros is null && l.CpuShares is null && l.CpusetCpus is null && l.PidsMax is null;

    static void EnableControllers(CgroupFs fs, string dir)
    {
        var available = CgroupValues.Words(fs.TryRead(dir, "cgroup.controllers"));
        var enabled = CgroupValues.Words(fs.TryRead(dir, "cgroup.subtree_control"));
        var missing = WantedControllers.Where(c => available.Contains(c) && !enabled.Contains(c)).ToList();
        if (missing.Count > 0) fs.Write(dir, "cgroup.subtree_control", string.Join(" ", missing.Select(c => "+" + c)));
    }

    static void RequireControllers(HashSet<string> enabled, CgroupLimits l, string parentDir)
    {
        void Need(bool wanted, string controller, string what)
        {
            if (wanted && !enabled.Contains(controller))
                throw new SyscallException("create cgroup", parentDir,
                    $"{what} needs the cgroup v2 {controller} controller, which is not available here (enabled: {string.Join(" ", enabled.Order())})");
        }
        Need(l.MemoryBytes is not null, "memory", "a memory limit");
        Need(l.CpuQuotaMicros is not null || l.CpuShares is not null, "cpu", "a CPU limit");
        Need(l.CpusetCpus is not null, "cpuset", "--cpuset-cpus");
        Need(l.PidsMax is not null, "pids", "a pids limit");
    }

    void ApplyLimits(CgroupLimits l)
    {
        var dir = Directory;
        if (l.MemoryBytes is { } mem)
        {
            _fs.Write(dir, "memory.max", mem.ToString());
            // no swap beyond the limit (file absent without swap accounting)
            if (_fs.FileExists(dir, "memory.swap.max")) _fs.Write(dir, "memory.swap.max", "0");
        }
        if (l.CpuQuotaMicros is { } quota)
            _fs.Write(dir, "cpu.max", $"{(quota > 0 ? quota.ToString() : "max")} {l.CpuPeriodMicros}");
        if (l.CpuShares is { } shares && shares > 0)
            _fs.Write(dir, "cpu.weight", CgroupValues.SharesToWeight(shares).ToString());
        if (l.CpusetCpus is { } cpus)
        {
            var available = _fs.TryRead(dir, "cpuset.cpus.effective") is { } eff && !string.IsNullOrWhiteSpace(eff)
                ? eff
                : _fs.Read(Path.GetDirectoryName(dir)!, "cpuset.cpus.effective");
            _fs.Write(dir, "cpuset.cpus", CpusetList.Format(CpusetList.ValidateAgainst(cpus, available)));
        }
        if (l.PidsMax is { } pids) _fs.Write(dir, "pids.max", pids > 0 ? pids.ToString() : "max");
    }

    public void AddProcess(int pid) => _fs.Write(Directory, "cgroup.procs", pid.ToString());

    public void Update(CgroupLimits l) => ApplyLimits(l with { Devices = null });

    public IReadOnlyList<int> Processes() => _fs.ReadPids(Directory).Distinct().Order().ToList();

    public long OomKillCount() => OomCounts.FromMemoryEvents(_fs.TryRead(Directory, "memory.events")) ?? 0;

    /// <summary>v2: inotify on memory.events, which the kernel marks modified at each of its events
    /// (oom, then oom_kill once the victim is picked); null without the memory controller.</summary>
    public OomWatch? WatchOom(Action onSignal) =>
        _fs.FileExists(Directory, "memory.events")
            ? CgroupEventWatcher.Shared.WatchModified(Path.Combine(Directory, "memory.events"), onSignal)
            : null;

    public CgroupStats Stats() => new(
        CgroupValues.Number(_fs.TryRead(Directory, "memory.current")) ?? 0,
        CgroupValues.Number(_fs.TryRead(Directory, "memory.max")) ?? 0,
        CpuUsageNanos() ?? 0,
        CgroupValues.Number(_fs.TryRead(Directory, "pids.current")) ?? 0);

    /// <summary>cpu.stat usage_usec in ns (cpu.stat exists even without the cpu controller).</summary>
    internal long? CpuUsageNanos() => CgroupValues.KeyedValue(_fs.TryRead(Directory, "cpu.stat"), "usage_usec") * 1000;

    public bool CanFreeze => _fs.FileExists(Directory, "cgroup.freeze");
    public bool CanKill => _fs.FileExists(Directory, "cgroup.kill");

    public void Freeze() => SetFrozen(true);
    public void Thaw() => SetFrozen(false);

    void SetFrozen(bool frozen)
    {
        if (!CanFreeze) throw new SyscallException("freeze", Directory, "cgroup.freeze not supported by this kernel");
        _fs.Write(Directory, "cgroup.freeze", frozen ? "1" : "0");
        // cgroup.freeze is the wish; cgroup.events "frozen" reports when every task got there.
        long want = frozen ? 1 : 0;
        bool ok = CgroupTree.WaitUntil(
            () => CgroupValues.KeyedValue(_fs.Read(Directory, "cgroup.events"), "frozen") == want,
            TimeSpan.FromSeconds(5));
        if (ok) return;
        if (frozen) _fs.Write(Directory, "cgroup.freeze", "0");
        throw new SyscallException("write", Path.Combine(Directory, "cgroup.freeze"),
            $"frozen {want} not reported in cgroup.events within 5 s");
    }

    public void KillAll()
    {
        // cgroup.kill (5.14+) kills atomically, forks included; older kernels get the listing loop.
        if (CanKill) { _fs.Write(Directory, "cgroup.kill", "1"); return; }
        bool frozen = false;
        if (CanFreeze) { try { Freeze(); frozen = true; } catch (SyscallException) { } }
        try { CgroupTree.KillListed(Processes, frozen ? Thaw : null, Directory); }
        finally { if (frozen) { try { Thaw(); } catch (SyscallException) { } } }
    }

    public void Remove() => CgroupTree.RemoveAll(_fs, Directories, KillAll, () => Processes().Count > 0);

    public bool TryRecycle()
    {
        if (OomKillCount() > 0 || Processes().Count > 0) return false;
        ThawIfFrozen();
        return true;
    }

    internal void ThawIfFrozen()
    {
        if (_fs.TryRead(Directory, "cgroup.freeze")?.Trim() == "1") Thaw();
    }
}
