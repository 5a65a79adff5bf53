namespace Gocker.Syscalls.Cgroups;

/// <summary>A cgroup in the v1 hierarchies: one directory per mounted hierarchy (co-mounted
/// controllers such as "cpu,cpuacct" share a directory).</summary>
public sealed class V1Cgroup : ICgroup, IRecyclableCgroup
{
    readonly CgroupFs _fs;
    readonly IReadOnlyDictionary<string, string> _dirs; // controller -> directory

    public string RelativePath { get; }
    public IReadOnlyList<string> Directories { get; }

    internal V1Cgroup(CgroupFs fs, IReadOnlyDictionary<string, string> controllerMounts, string relativePath)
    {
        _fs = fs;
        RelativePath = relativePath;
        _dirs = controllerMounts.ToDictionary(kv => kv.Key, kv => Path.Combine(kv.Value, relativePath));
        Directories = _dirs.Values.Distinct().Order(StringComparer.Ordinal).ToList();
    }

    string? Dir(string controller) => _dirs.GetValueOrDefault(controller);

    internal static V1Cgroup CreateInto(CgroupFs fs, IReadOnlyDictionary<string, string> mounts, string parent,
        string name, CgroupLimits limits, List<string> created)
    {
        var rel = parent + "/" + name;
        RequireControllers(mounts, limits, rel);
        if (limits.CpusetCpus is not null) CpusetList.Parse(limits.CpusetCpus); // syntax, before touching anything
        var cg = new V1Cgroup(fs, mounts, rel);
        foreach (var dir in cg.Directories)
            if (Directory.Exists(dir)) throw AlreadyExists(dir);

        var cpusetRoot = mounts.GetValueOrDefault("cpuset");
        foreach (var root in mounts.Values.Distinct())
        {
            // v1 quirk: a new cpuset cgroup starts with empty cpuset.cpus/mems and refuses tasks
            // (ENOSPC) until they are set; inherit from the parent at every level, ours included.
            CgroupTree.EnsureParents(fs, root, parent, root == cpusetRoot ? level => InheritCpuset(fs, level) : null);
            var leaf = Path.Combine(root, rel);
            if (!fs.Mkdir(leaf)) throw AlreadyExists(leaf);
            created.Add(leaf);
            if (root == cpusetRoot) InheritCpuset(fs, leaf);
        }
        cg.ApplyLimits(limits);
        return cg;
    }

    internal static SyscallException AlreadyExists(string dir) =>
        new("create cgroup", dir, "already exists (a cgroup is never shared between containers)");

    static void RequireControllers(IReadOnlyDictionary<string, string> mounts, CgroupLimits l, string rel)
    {
        void Need(bool wanted, string controller, string what)
        {
            if (wanted && !mounts.ContainsKey(controller))
                throw new SyscallException("create cgroup", rel, $"{what} needs the v1 {controller} controller, which is not mounted");
        }
        Need(l.MemoryBytes is not null, "memory", "a memory limit");
        Need(l.CpuQuotaMicros is not null || l.CpuShares is not null, "cpu", "a CPU limit");
        Need(l.CpusetCpus is not null, "cpuset", "--cpuset-cpus");
        Need(l.PidsMax is not null, "pids", "a pids limit");
        Need(l.Devices is not null, "devices", "a device allow-list");
    }

    static void InheritCpuset(CgroupFs fs, string dir)
    {
        var parentDir = Path.GetDirectoryName(dir)!;
        foreach (var file in (string[])["cpuset.cpus", "cpuset.mems"])
        {
            if (!string.IsNullOrWhiteSpace(fs.TryRead(dir, file))) continue;
            fs.Write(dir, file, fs.Read(parentDir, file).Trim());
        }
    }

    void ApplyLimits(CgroupLimits l)
    {
        if (l.MemoryBytes is { } mem)
        {
            var dir = Dir("memory")!;
            fs_Write(dir, "memory.limit_in_bytes", mem);
            // Without this, a container with swap available could exceed its limit through swap.
            // limit_in_bytes goes first: memsw may never be below it.
            if (_fs.FileExists(dir, "memory.memsw.limit_in_bytes")) fs_Write(dir, "memory.memsw.limit_in_bytes", mem);
        }
        if (l.CpuQuotaMicros is { } quota)
        {
            var dir = Dir("cpu")!;
            // period first: the kernel checks quota against the current period
            fs_Write(dir, "cpu.cfs_period_us", l.CpuPeriodMicros);
            fs_Write(dir, "cpu.cfs_quota_us", quota);
        }
        if (l.CpuShares is { } shares) fs_Write(Dir("cpu")!, "cpu.shares", shares);
        if (l.CpusetCpus is { } cpus)
        {
            var dir = Dir("cpuset")!;
            var available = _fs.Read(Path.GetDirectoryName(dir)!, "cpuset.cpus");
            var set = CpusetList.ValidateAgainst(cpus, available);
            _fs.Write(dir, "cpuset.cpus", CpusetList.Format(set));
        }
        if (l.PidsMax is { } pids) _fs.Write(Dir("pids")!, "pids.max", pids > 0 ? pids.ToString() : "max");
        if (l.Devices is { } devices) ApplyDevices(Dir("devices")!, devices);
    }

    /// <summary>Deny everything, then each rule in order. Why: without it the container inherits the
    /// parent's "a *:* rwm" and, having CAP_MKNOD, can mknod and read the host's disks. One rule per
    /// write: the kernel parses one rule per write(2).</summary>
    void ApplyDevices(string dir, IReadOnlyList<DeviceRule> rules)
    {
        _fs.Write(dir, "devices.deny", "a");
        foreach (var r in rules)
            // "a" alone: the kernel reads only the type of an 'a' rule
            _fs.Write(dir, r.Allow ? "devices.allow" : "devices.deny", r.Type == 'a' ? "a" : r.ToV1Text());
    }

    void fs_Write(string dir, string file, long value) => _fs.Write(dir, file, value.ToString());

    public void Update(CgroupLimits l)
    {
        RequireControllers(_dirs, l with { Devices = null }, RelativePath);
        if (l.MemoryBytes is { } mem)
        {
            var dir = Dir("memory")!;
            // memsw may never be below limit_in_bytes: raising goes memsw first, lowering limit first.
            bool memsw = _fs.FileExists(dir, "memory.memsw.limit_in_bytes");
            long current = long.TryParse(_fs.Read(dir, "memory.limit_in_bytes").Trim(), out var c) ? c : long.MaxValue;
            if (memsw && mem > current) fs_Write(dir, "memory.memsw.limit_in_bytes", mem);
            fs_Write(dir, "memory.limit_in_bytes", mem);
            if (memsw && mem <= current) fs_Write(dir, "memory.memsw.limit_in_bytes", mem);
        }
        if (l.CpuQuotaMicros is { } quota)
        {
            var dir = Dir("cpu")!;
            // A quota valid for the new period may not be for the old one: lift the quota first.
            fs_Write(dir, "cpu.cfs_quota_us", -1);
            fs_Write(dir, "cpu.cfs_period_us", l.CpuPeriodMicros);
            fs_Write(dir, "cpu.cfs_quota_us", quota);
        }
        ApplyLimits(l with { MemoryBytes = null, CpuQuotaMicros = null, Devices = null });
    }

    public void AddProcess(int pid)
    {
        foreach (var dir in Directories) _fs.Write(dir, "cgroup.procs", pid.ToString());
    }

    public IReadOnlyList<int> Processes() =>
        Directories.SelectMany(_fs.ReadPids).Distinct().Order().ToList();

    public long OomKillCount() =>
        Dir("memory") is { } d ? OomCounts.FromOomControl(_fs.TryRead(d, "memory.oom_control")) ?? 0 : 0;

    /// <summary>v1: an eventfd registered for memory.oom_control through cgroup.event_control. The
    /// kernel signals it when the cgroup enters an OOM, just before the killer picks its victim (so
    /// the kill is counted a moment later), and once more when the cgroup is removed.</summary>
    public OomWatch? WatchOom(Action onSignal) =>
        Dir("memory") is { } d ? CgroupEventWatcher.Shared.WatchV1Oom(_fs, d, onSignal) : null;

    public CgroupStats Stats()
    {
        long Num(string ctrl, string file) =>
            Dir(ctrl) is { } d ? CgroupValues.Number(_fs.TryRead(d, file)) ?? 0 : 0;
        return new CgroupStats(
            Num("memory", "memory.usage_in_bytes"), Num("memory", "memory.limit_in_bytes"),
            CpuUsageNanos() ?? 0, Num("pids", "pids.current"));
    }

    /// <summary>cpuacct.usage (ns), or null without the cpuacct controller.</summary>
    internal long? CpuUsageNanos() =>
        Dir("cpuacct") is { } d ? CgroupValues.Number(_fs.TryRead(d, "cpuacct.usage")) : null;

    public bool HasFreezer => Dir("freezer") is not null;

    public void Freeze() => SetFreezer("FROZEN");
    public void Thaw() => SetFreezer("THAWED");

    void SetFreezer(string state)
    {
        var dir = Dir("freezer") ?? throw new SyscallException("freeze", RelativePath, "the v1 freezer controller is not mounted");
        // FREEZING can linger while tasks finish a syscall; re-writing the state nudges stragglers (as runc does).
        bool ok = CgroupTree.WaitUntil(() =>
        {
            _fs.Write(dir, "freezer.state", state);
            return _fs.Read(dir, "freezer.state").Trim() == state;
        }, TimeSpan.FromSeconds(5));
        if (ok) return;
        var now = _fs.Read(dir, "freezer.state").Trim();
        if (state == "FROZEN") _fs.Write(dir, "freezer.state", "THAWED"); // don't leave it half-frozen
        throw new SyscallException("write", Path.Combine(dir, "freezer.state"), $"{state} not reached within 5 s (state {now})");
    }

    public void KillAll()
    {
        // Freeze so the list is stable (no forks, no exits, no pid reuse) while we signal it;
        // thaw afterwards or the SIGKILLs stay pending on frozen tasks.
        bool frozen = false;
        if (HasFreezer)
        {
            try { Freeze(); frozen = true; } catch (SyscallException) { /* kill anyway */ }
        }
        try
        {
            CgroupTree.KillListed(Processes, frozen ? Thaw : null, RelativePath);
        }
        finally
        {
            if (frozen && HasFreezer) { try { Thaw(); } catch (SyscallException) { } }
        }
    }

    public void Remove() => CgroupTree.RemoveAll(_fs, Directories, KillAll, () => Processes().Count > 0);

    public bool TryRecycle()
    {
        if (OomKillCount() > 0 || Processes().Count > 0) return false;
        ThawIfFrozen();
        return true;
    }

    /// <summary>A freeze must not pass from a run that ended to the next one (its init would stop at
    /// its first instruction): thaw unless the state already says THAWED.</summary>
    internal void ThawIfFrozen()
    {
        if (Dir("freezer") is not { } dir) return;
        var state = _fs.TryRead(dir, "freezer.state")?.Trim();
        if (state is not null && state != "THAWED") Thaw();
    }
}
