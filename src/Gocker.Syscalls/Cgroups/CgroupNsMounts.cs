using System.Runtime.CompilerServices;

namespace Gocker.Syscalls.Cgroups;

/// <summary>
/// What a container gets at /sys/fs/cgroup (InitSpec.CgroupMounts), as runc lays it out, computed by
/// the daemon once per cgroup driver and mounted by gocker-init (Mounts.CgroupMounts). One entry per
/// line, fields separated by one space:
///   "cgroup2 ."               v2: a cgroup2 mount at /sys/fs/cgroup itself
///   "cgroup DIR SUBSYS"       v1/hybrid: /sys/fs/cgroup is a tmpfs, DIR a v1 hierarchy mounted with
///                             exactly its subsystems (e.g. "cgroup cpu,cpuacct cpu,cpuacct")
///   "cgroup2 unified"         hybrid: the cgroup2 tree at /sys/fs/cgroup/unified
///   "link NAME DIR"           a co-mounted controller's name as a symlink (cpu -> cpu,cpuacct)
/// Only the v1 hierarchies the container is placed in (the driver's controllers): in one it is not
/// placed in (blkio, name=systemd) the root of its cgroup namespace would be the daemon's cgroup there,
/// i.e. the host's tree, which a container must not see.
/// </summary>
public static class CgroupNsMounts
{
    /// <summary>Every controller name a v1 hierarchy's mount options may carry.</summary>
    static readonly HashSet<string> KernelControllers = ["cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "net_cls",
        "net_prio", "blkio", "perf_event", "hugetlb", "pids", "rdma", "misc"];

    static readonly ConditionalWeakTable<ICgroupManager, string[]> Cache = new();

    /// <summary>The plan for this driver (cached: mountinfo is read once per driver). Empty for a driver
    /// that is not one of the kernel's (tests' fakes): nothing is mounted then.</summary>
    public static string[] For(ICgroupManager manager) =>
        Cache.GetValue(manager, m => Plan(m, () => File.ReadAllText("/proc/self/mountinfo")));

    /// <summary>Pure: the plan from the driver's mounts and the host's mountinfo text.</summary>
    public static string[] Plan(ICgroupManager manager, Func<string> mountinfo) => manager switch
    {
        V2CgroupManager => ["cgroup2 ."],
        V1CgroupManager v1 => V1Plan(v1.ControllerMounts, mountinfo()),
        HybridCgroupManager h => [.. V1Plan(h.ControllerMounts, mountinfo()), "cgroup2 unified"],
        _ => [],
    };

    static string[] V1Plan(IReadOnlyDictionary<string, string> controllerMounts, string mountinfo)
    {
        var mounts = MountInfo.Parse(mountinfo);
        var plan = new List<string>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        var links = new List<(string Name, string Dir)>();
        foreach (var mountPoint in controllerMounts.Values.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            var dir = Path.GetFileName(mountPoint.TrimEnd('/'));
            // The hierarchy's whole subsystem set: the kernel refuses (EBUSY) a mount that names only part of it.
            var entry = mounts.LastOrDefault(m => m.FsType == "cgroup" && m.MountPoint == mountPoint)
                ?? throw new SyscallException("cgroup namespace mounts", mountPoint, "not a cgroup v1 mount in /proc/self/mountinfo");
            var subsys = entry.SuperOptions.Where(o => KernelControllers.Contains(o) || o.StartsWith("name=", StringComparison.Ordinal)).ToArray();
            if (dir.Length == 0 || dir.Contains(' ') || subsys.Length == 0 || !names.Add(dir))
                throw new SyscallException("cgroup namespace mounts", mountPoint, "cannot be laid out under /sys/fs/cgroup");
            plan.Add($"cgroup {dir} {string.Join(',', subsys)}");
            foreach (var s in subsys)
                if (s != dir && !s.StartsWith("name=", StringComparison.Ordinal)) links.Add((s, dir));
        }
        foreach (var (name, dir) in links)
            if (names.Add(name)) plan.Add($"link {name} {dir}");
        return [.. plan];
    }
}
