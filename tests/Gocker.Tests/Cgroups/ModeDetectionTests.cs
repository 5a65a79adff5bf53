using Gocker.Syscalls.Cgroups;

namespace Gocker.Tests.Cgroups;

public class ModeDetectionTests
{
    const long Tmpfs = 0x01021994, Cgroup2 = 0x63677270;

    // this project's machines, verbatim
    const string HybridMountinfo = """
        31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
        32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
        33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
        34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
        35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
        36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
        37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
        38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
        39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
        40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
        41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
        """;

    static Func<string, long> Magic(Dictionary<string, long> m) => p => m.TryGetValue(p, out var v) ? v : -1;

    [Fact]
    public void Hybrid_layout_maps_each_controller_to_its_mount()
    {
        var l = CgroupManagerFactory.DetectLayout("/sys/fs/cgroup", HybridMountinfo,
            Magic(new() { ["/sys/fs/cgroup"] = Tmpfs, ["/sys/fs/cgroup/unified"] = Cgroup2 }));
        Assert.Equal(CgroupMode.Hybrid, l.Mode);
        Assert.Equal("/sys/fs/cgroup/unified", l.UnifiedRoot);
        Assert.Equal(7, l.V1Mounts.Count); // blkio and name=systemd are not ours
        Assert.Equal("/sys/fs/cgroup/cpuacct", l.V1Mounts["cpuacct"]);
        Assert.Equal("/sys/fs/cgroup/memory", l.V1Mounts["memory"]);
        Assert.IsType<HybridCgroupManager>(CgroupManagerFactory.FromLayout(l));
    }

    [Fact]
    public void Co_mounted_controllers_share_a_mount_and_paths_come_from_mountinfo()
    {
        const string text = """
            25 18 0:21 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
            28 25 0:24 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:9 - cgroup cgroup rw,cpu,cpuacct
            29 25 0:25 / /sys/fs/cgroup/memory\040ctl rw,nosuid shared:10 master:3 - cgroup cgroup rw,memory
            30 25 0:26 / /sys/fs/cgroup/net_cls,net_prio rw - cgroup cgroup rw,net_cls,net_prio
            31 25 0:27 / /somewhere/else/pids rw - cgroup cgroup rw,pids
            32 25 0:27 /docker/abc /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids
            """;
        var l = CgroupManagerFactory.DetectLayout("/sys/fs/cgroup/", text, Magic(new() { ["/sys/fs/cgroup"] = Tmpfs }));
        Assert.Equal(CgroupMode.V1, l.Mode);
        Assert.Null(l.UnifiedRoot);
        Assert.Equal("/sys/fs/cgroup/cpu,cpuacct", l.V1Mounts["cpu"]);
        Assert.Equal("/sys/fs/cgroup/cpu,cpuacct", l.V1Mounts["cpuacct"]);
        Assert.Equal("/sys/fs/cgroup/memory ctl", l.V1Mounts["memory"]);
        Assert.Equal("/sys/fs/cgroup/pids", l.V1Mounts["pids"]); // under root wins over an outside mount
        Assert.False(l.V1Mounts.ContainsKey("net_cls"));
        Assert.IsType<V1CgroupManager>(CgroupManagerFactory.FromLayout(l));
    }

    [Fact]
    public void A_cgroup2_root_is_pure_v2_whatever_mountinfo_says()
    {
        var l = CgroupManagerFactory.DetectLayout("/sys/fs/cgroup", HybridMountinfo, Magic(new() { ["/sys/fs/cgroup"] = Cgroup2 }));
        Assert.Equal(CgroupMode.V2, l.Mode);
        Assert.Equal("/sys/fs/cgroup", l.UnifiedRoot);
        Assert.IsType<V2CgroupManager>(CgroupManagerFactory.FromLayout(l));
    }

    [Fact]
    public void Unified_dir_that_is_not_cgroup2_does_not_make_hybrid()
    {
        var l = CgroupManagerFactory.DetectLayout("/sys/fs/cgroup", HybridMountinfo,
            Magic(new() { ["/sys/fs/cgroup"] = Tmpfs, ["/sys/fs/cgroup/unified"] = Tmpfs }));
        Assert.Equal(CgroupMode.V1, l.Mode);
    }

    [Fact]
    public void No_cgroups_at_all_is_a_clear_error()
    {
        var ex = Assert.Throws<Gocker.Syscalls.SyscallException>(() =>
            CgroupManagerFactory.DetectLayout("/sys/fs/cgroup", "22 1 0:5 / /proc rw - proc proc rw\n", Magic(new() { ["/sys/fs/cgroup"] = Tmpfs })));
        Assert.Contains("no cgroup", ex.Message);
    }

    [Fact]
    public void The_real_host_is_detected_as_what_mountinfo_says_it_is()
    {
        // Independent reading: fstype after " - " and mount point in field 5.
        var lines = File.ReadAllLines("/proc/self/mountinfo").Select(l => l.Split(' ')).ToList();
        string FsType(string[] f) => f[Array.IndexOf(f, "-") + 1];
        var v2Root = lines.Any(f => f[4] == "/sys/fs/cgroup" && FsType(f) == "cgroup2");
        var v2Unified = lines.Any(f => f[4] == "/sys/fs/cgroup/unified" && FsType(f) == "cgroup2");
        var v1 = lines.Where(f => FsType(f) == "cgroup").ToList();
        var expected = v2Root ? CgroupMode.V2 : v1.Count > 0 ? (v2Unified ? CgroupMode.Hybrid : CgroupMode.V1) : CgroupMode.V2;

        var mgr = CgroupManagerFactory.Detect();
        Assert.Equal(expected, mgr.Mode);
        if (mgr is HybridCgroupManager h)
        {
            var memLine = v1.Single(f => f[^1].Split(',').Contains("memory"));
            Assert.Equal(memLine[4], h.ControllerMounts["memory"]);
            Assert.Equal("/sys/fs/cgroup/unified", h.UnifiedRoot);
        }
    }

    [Fact]
    public void Kernel_guard_accepts_cgroupfs_and_refuses_anything_else()
    {
        var guard = KernelCgroupFsGuard.Instance;
        foreach (var f in File.ReadAllLines("/proc/self/mountinfo").Select(l => l.Split(' ')))
            if (f[Array.IndexOf(f, "-") + 1] is "cgroup" or "cgroup2") guard.EnsureCgroupDirectory(f[4]);
        var tmp = Directory.CreateTempSubdirectory("gocker-guard-").FullName;
        try
        {
            var ex = Assert.Throws<Gocker.Syscalls.SyscallException>(() => guard.EnsureCgroupDirectory(tmp));
            Assert.Contains("not on a cgroup filesystem", ex.Message);
        }
        finally { Directory.Delete(tmp); }
    }
}
