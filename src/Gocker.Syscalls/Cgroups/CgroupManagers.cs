namespace Gocker.Syscalls.Cgroups;

/// <summary>Pure cgroup v1: one hierarchy per mounted controller (or co-mounted group).</summary>
public sealed class V1CgroupManager : ICgroupManager
{
    /// <summary>The v1 controllers Gocker uses; others (blkio, net_cls, name=systemd) are left alone.</summary>
    public static readonly string[] Controllers = ["cpu", "cpuacct", "cpuset", "memory", "pids", "freezer", "devices"];

    readonly CgroupFs _fs;
    /// <summary>controller → mount point, e.g. cpu → /sys/fs/cgroup/cpu,cpuacct.</summary>
    public IReadOnlyDictionary<string, string> ControllerMounts { get; }
    public CgroupMode Mode => CgroupMode.V1;

    public V1CgroupManager(IReadOnlyDictionary<string, string> controllerMounts, ICgroupFsGuard? guard = null)
    {
        if (controllerMounts.Count == 0) throw new ArgumentException("no v1 controller mounts given", nameof(controllerMounts));
        ControllerMounts = controllerMounts;
        _fs = new CgroupFs(guard ?? KernelCgroupFsGuard.Instance);
    }

    public ICgroup Create(string parent, string name, CgroupLimits limits)
    {
        Validate(parent, name);
        var created = new List<string>();
        try { return V1Cgroup.CreateInto(_fs, ControllerMounts, parent, name, limits, created); }
        catch { CgroupTree.RollBack(_fs, created); throw; }
    }

    public ICgroup Open(string parent, string name)
    {
        Validate(parent, name);
        return new V1Cgroup(_fs, ControllerMounts, parent + "/" + name);
    }

    public bool Exists(string parent, string name) => Open(parent, name).Directories.Any(Directory.Exists);

    internal static void Validate(string parent, string name)
    {
        CgroupName.ValidateParent(parent);
        CgroupName.ValidateName(name);
    }
}

/// <summary>Pure cgroup v2 (unified): one tree, controllers enabled down to Gocker's parent.</summary>
public sealed class V2CgroupManager : ICgroupManager
{
    readonly CgroupFs _fs;
    public string Root { get; }
    public CgroupMode Mode => CgroupMode.V2;

    public V2CgroupManager(string root, ICgroupFsGuard? guard = null)
    {
        Root = root;
        _fs = new CgroupFs(guard ?? KernelCgroupFsGuard.Instance);
    }

    public ICgroup Create(string parent, string name, CgroupLimits limits)
    {
        V1CgroupManager.Validate(parent, name);
        var created = new List<string>();
        try { return V2Cgroup.CreateInto(_fs, Root, parent, name, limits, enableControllers: true, created); }
        catch { CgroupTree.RollBack(_fs, created); throw; }
    }

    public ICgroup Open(string parent, string name)
    {
        V1CgroupManager.Validate(parent, name);
        return new V2Cgroup(_fs, Root, parent + "/" + name);
    }

    public bool Exists(string parent, string name) => Open(parent, name).Directories.Any(Directory.Exists);
}

/// <summary>Hybrid: v1 controllers for limits plus a directory in the (controller-less) cgroup2 tree.</summary>
public sealed class HybridCgroupManager : ICgroupManager
{
    readonly CgroupFs _fs;
    public IReadOnlyDictionary<string, string> ControllerMounts { get; }
    public string UnifiedRoot { get; }
    public CgroupMode Mode => CgroupMode.Hybrid;

    public HybridCgroupManager(IReadOnlyDictionary<string, string> controllerMounts, string unifiedRoot, ICgroupFsGuard? guard = null)
    {
        if (controllerMounts.Count == 0) throw new ArgumentException("no v1 controller mounts given", nameof(controllerMounts));
        ControllerMounts = controllerMounts;
        UnifiedRoot = unifiedRoot;
        _fs = new CgroupFs(guard ?? KernelCgroupFsGuard.Instance);
    }

    public ICgroup Create(string parent, string name, CgroupLimits limits)
    {
        V1CgroupManager.Validate(parent, name);
        var probe = Open(parent, name);
        foreach (var dir in probe.Directories)
            if (Directory.Exists(dir)) throw V1Cgroup.AlreadyExists(dir);
        var created = new List<string>();
        try
        {
            // Device rules go to the v1 devices controller if it is mounted, else (as on a v2 host)
            // to an eBPF program on the cgroup2 directory; never both.
            bool v1Devices = ControllerMounts.ContainsKey("devices");
            var v1 = V1Cgroup.CreateInto(_fs, ControllerMounts, parent, name, v1Devices ? limits : limits with { Devices = null }, created);
            var v2 = V2Cgroup.CreateInto(_fs, UnifiedRoot, parent, name,
                v1Devices ? CgroupLimits.None : new CgroupLimits { Devices = limits.Devices }, enableControllers: false, created);
            return new HybridCgroup(_fs, v1, v2);
        }
        catch { CgroupTree.RollBack(_fs, created); throw; }
    }

    public ICgroup Open(string parent, string name)
    {
        V1CgroupManager.Validate(parent, name);
        var rel = parent + "/" + name;
        return new HybridCgroup(_fs, new V1Cgroup(_fs, ControllerMounts, rel), new V2Cgroup(_fs, UnifiedRoot, rel));
    }

    public bool Exists(string parent, string name) => Open(parent, name).Directories.Any(Directory.Exists);
}
