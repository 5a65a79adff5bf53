namespace Gocker.Syscalls.Cgroups;

/// <summary>What the host offers: the mode, the cgroup2 root (V2/Hybrid) and the v1 mount of each controller.</summary>
public sealed record CgroupLayout(CgroupMode Mode, string? UnifiedRoot, IReadOnlyDictionary<string, string> V1Mounts);

/// <summary>Picks the driver for this host. The daemon calls <see cref="Detect"/> once at start.</summary>
public static class CgroupManagerFactory
{
    /// <summary>Detects the host's cgroup mode and returns its driver (guarded by statfs).</summary>
    public static ICgroupManager Detect(string root = "/sys/fs/cgroup") =>
        FromLayout(DetectLayout(root, File.ReadAllText("/proc/self/mountinfo"), Magic));

    public static ICgroupManager FromLayout(CgroupLayout layout, ICgroupFsGuard? guard = null) => layout.Mode switch
    {
        CgroupMode.V2 => new V2CgroupManager(layout.UnifiedRoot!, guard),
        CgroupMode.V1 => new V1CgroupManager(layout.V1Mounts, guard),
        _ => new HybridCgroupManager(layout.V1Mounts, layout.UnifiedRoot!, guard),
    };

    static long Magic(string path) => CgroupNative.FilesystemMagic(path, out _);

    /// <summary>Pure detection: <paramref name="fsMagic"/> is statfs f_type of a path (-1 if absent).
    /// statfs(root) == CGROUP2 → V2. Otherwise the v1 controllers come from mountinfo (mount points
    /// as the kernel reports them, co-mounts like "cpu,cpuacct" included) and a cgroup2 mount at
    /// root/unified (or elsewhere under root, per mountinfo) makes it Hybrid.</summary>
    public static CgroupLayout DetectLayout(string root, string mountinfo, Func<string, long> fsMagic)
    {
        root = root.TrimEnd('/');
        if (root.Length == 0) root = "/";
        var empty = new Dictionary<string, string>();
        if (fsMagic(root) == CgroupNative.Cgroup2SuperMagic) return new CgroupLayout(CgroupMode.V2, root, empty);

        var mounts = MountInfo.Parse(mountinfo);
        bool Under(string mp) => mp.StartsWith(root + "/", StringComparison.Ordinal);

        var v1 = new Dictionary<string, string>();
        // Prefer the hierarchy's own root ("/") mounted under our root; bind mounts of subtrees
        // (as seen inside containers) only when nothing better exists.
        foreach (var m in mounts.Where(m => m.FsType == "cgroup").OrderBy(m => (Under(m.MountPoint) ? 0 : 2) + (m.Root == "/" ? 0 : 1)))
            foreach (var opt in m.SuperOptions)
                if (V1CgroupManager.Controllers.Contains(opt) && !v1.ContainsKey(opt))
                    v1[opt] = m.MountPoint;

        string? unified = null;
        var candidates = new List<string> { Path.Combine(root, "unified") };
        candidates.AddRange(mounts.Where(m => m.FsType == "cgroup2" && Under(m.MountPoint)).Select(m => m.MountPoint));
        foreach (var c in candidates)
            if (fsMagic(c) == CgroupNative.Cgroup2SuperMagic) { unified = c; break; }

        if (v1.Count > 0)
            return new CgroupLayout(unified is null ? CgroupMode.V1 : CgroupMode.Hybrid, unified, v1);
        if (unified is not null) return new CgroupLayout(CgroupMode.V2, unified, empty);
        throw new SyscallException("detect cgroups", root, "no cgroup v1 controller and no cgroup2 mount found");
    }
}
