using Gocker.Syscalls;
using Gocker.Syscalls.Cgroups;

namespace Gocker.Tests.Cgroups;

/// <summary>The plan of a container's /sys/fs/cgroup (CgroupNsMounts), from a driver and mountinfo.</summary>
public sealed class CgroupNsMountsTests : IDisposable
{
    readonly FixtureKernel _k = new();
    public void Dispose() => _k.Dispose();

    const string Mountinfo = """
        30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
        31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
        33 30 0:30 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,clone_children,cpuset
        34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
        37 30 0:34 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
        39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,release_agent=/x,name=systemd
        40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate

        """;

    static readonly Dictionary<string, string> Controllers = new()
    {
        ["cpu"] = "/sys/fs/cgroup/cpu,cpuacct", ["cpuacct"] = "/sys/fs/cgroup/cpu,cpuacct",
        ["cpuset"] = "/sys/fs/cgroup/cpuset", ["memory"] = "/sys/fs/cgroup/memory",
    };

    [Fact]
    public void Hybrid_mounts_each_placed_hierarchy_with_exactly_its_subsystems_links_comounts_and_adds_unified()
    {
        var plan = CgroupNsMounts.Plan(new HybridCgroupManager(Controllers, "/sys/fs/cgroup/unified", _k), () => Mountinfo);
        // Not blkio nor name=systemd: the container is not placed there (its namespace root would be the host's).
        Assert.Equal(["cgroup cpu,cpuacct cpu,cpuacct", "cgroup cpuset cpuset", "cgroup memory memory",
            "link cpu cpu,cpuacct", "link cpuacct cpu,cpuacct", "cgroup2 unified"], plan);
    }

    [Fact]
    public void V1_without_unified_and_v2_as_one_mount()
    {
        Assert.DoesNotContain("cgroup2 unified", CgroupNsMounts.Plan(new V1CgroupManager(Controllers, _k), () => Mountinfo));
        Assert.Equal(["cgroup2 ."], CgroupNsMounts.Plan(new V2CgroupManager("/sys/fs/cgroup", _k), () => throw new InvalidOperationException("not read on v2")));
    }

    [Fact]
    public void A_controller_mount_missing_from_mountinfo_is_an_error_naming_it()
    {
        var e = Assert.Throws<SyscallException>(() => CgroupNsMounts.Plan(
            new V1CgroupManager(new Dictionary<string, string> { ["pids"] = "/sys/fs/cgroup/pids" }, _k), () => Mountinfo));
        Assert.Contains("/sys/fs/cgroup/pids", e.Message);
    }
}
