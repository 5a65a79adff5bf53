using Gocker.Syscalls;
using Gocker.Syscalls.Cgroups;

namespace Gocker.Tests.Cgroups;

public sealed class V2DriverTests : IDisposable
{
    readonly FixtureKernel _k = new();
    public void Dispose() => _k.Dispose();

    [Fact]
    public void Create_enables_controllers_down_to_the_parent_and_writes_v2_limits()
    {
        var root = _k.V2Layout();
        var cg = new V2CgroupManager(root, _k).Create("gocker/nested", "c1", new CgroupLimits
        {
            MemoryBytes = 64 << 20, CpuQuotaMicros = 50_000, CpuPeriodMicros = 100_000, CpuShares = 512, CpusetCpus = "0", PidsMax = 100,
        });
        // only controllers the root offers, io and hugetlb left alone
        Assert.Equal("+cpuset +cpu +memory +pids", FixtureKernel.ReadFile(root, "cgroup.subtree_control"));
        Assert.Equal("+cpuset +cpu +memory +pids", FixtureKernel.ReadFile(Path.Combine(root, "gocker"), "cgroup.subtree_control"));
        Assert.Equal("+cpuset +cpu +memory +pids", FixtureKernel.ReadFile(Path.Combine(root, "gocker/nested"), "cgroup.subtree_control"));
        var dir = Path.Combine(root, "gocker/nested/c1");
        Assert.Equal([dir], cg.Directories);
        Assert.Equal("", FixtureKernel.ReadFile(dir, "cgroup.subtree_control")); // the leaf enables nothing
        Assert.Equal("67108864", FixtureKernel.ReadFile(dir, "memory.max"));
        Assert.Equal("0", FixtureKernel.ReadFile(dir, "memory.swap.max"));
        Assert.Equal("50000 100000", FixtureKernel.ReadFile(dir, "cpu.max"));
        Assert.Equal("20", FixtureKernel.ReadFile(dir, "cpu.weight"));
        Assert.Equal("0", FixtureKernel.ReadFile(dir, "cpuset.cpus"));
        Assert.Equal("100", FixtureKernel.ReadFile(dir, "pids.max"));
    }

    [Fact]
    public void Controllers_already_enabled_are_not_rewritten()
    {
        var root = _k.V2Layout();
        File.WriteAllText(Path.Combine(root, "cgroup.subtree_control"), "cpuset cpu io memory pids");
        new V2CgroupManager(root, _k).Create("gocker", "c1", CgroupLimits.None);
        Assert.Equal("cpuset cpu io memory pids", FixtureKernel.ReadFile(root, "cgroup.subtree_control"));
    }

    [Fact]
    public void Only_available_controllers_are_enabled_and_a_limit_on_a_missing_one_is_refused()
    {
        var root = _k.V2Layout(rootControllers: "cpu pids");
        var mgr = new V2CgroupManager(root, _k);
        var ex = Assert.Throws<SyscallException>(() => mgr.Create("gocker", "c1", new CgroupLimits { MemoryBytes = 1 << 25 }));
        Assert.Contains("memory controller, which is not available", ex.Message);
        Assert.Equal("+cpu +pids", FixtureKernel.ReadFile(root, "cgroup.subtree_control"));
        Assert.False(mgr.Exists("gocker", "c1"));
        mgr.Create("gocker", "c1", new CgroupLimits { PidsMax = 3 });
        Assert.Equal("3", FixtureKernel.ReadFile(Path.Combine(root, "gocker/c1"), "pids.max"));
        Assert.False(File.Exists(Path.Combine(root, "gocker/c1/memory.max")));
    }

    [Fact]
    public void Nonexistent_cpu_is_refused_and_the_leaf_removed()
    {
        var root = _k.V2Layout();
        var mgr = new V2CgroupManager(root, _k);
        var ex = Assert.Throws<ArgumentException>(() => mgr.Create("gocker", "c1", new CgroupLimits { CpusetCpus = "0,7" }));
        Assert.Equal("cpuset-cpus 0,7: CPU 7 does not exist (available: 0-1)", ex.Message);
        Assert.False(mgr.Exists("gocker", "c1"));
        Assert.True(Directory.Exists(Path.Combine(root, "gocker")));
    }

    [Fact]
    public void A_failing_write_rolls_back_and_names_the_file()
    {
        var root = _k.V2Layout();
        _k.BrokenFiles.Add("cpu.max");
        var mgr = new V2CgroupManager(root, _k);
        var ex = Assert.Throws<SyscallException>(() => mgr.Create("gocker", "c1", new CgroupLimits { MemoryBytes = 1 << 25, CpuQuotaMicros = 1000 }));
        Assert.StartsWith($"write {Path.Combine(root, "gocker/c1/cpu.max")}: ", ex.Message);
        Assert.False(mgr.Exists("gocker", "c1"));
    }

    [Fact]
    public void Create_twice_is_refused()
    {
        var root = _k.V2Layout();
        var mgr = new V2CgroupManager(root, _k);
        var cg = mgr.Create("gocker", "c1", CgroupLimits.None);
        Assert.Contains("already exists", Assert.Throws<SyscallException>(() => mgr.Create("gocker", "c1", CgroupLimits.None)).Message);
        Assert.True(Directory.Exists(cg.Directories[0]));
    }

    [Theory]
    [InlineData(2, 1)]
    [InlineData(1024, 39)]
    [InlineData(512, 20)]
    [InlineData(262144, 10000)]
    [InlineData(1, 1)]          // below the v1 minimum: clamped like the kernel does
    [InlineData(1_000_000, 10000)]
    public void Shares_convert_to_weight_with_runcs_formula(long shares, long weight) =>
        Assert.Equal(weight, CgroupValues.SharesToWeight(shares));

    [Fact]
    public void OomKillCount_and_stats_parse_the_v2_files()
    {
        var root = _k.V2Layout();
        var cg = new V2CgroupManager(root, _k).Create("gocker", "c1", CgroupLimits.None);
        var dir = cg.Directories[0];
        File.WriteAllText(Path.Combine(dir, "memory.events"), "low 0\nhigh 0\nmax 12\noom 2\noom_kill 2\noom_group_kill 0\n");
        File.WriteAllText(Path.Combine(dir, "memory.current"), "4096\n");
        File.WriteAllText(Path.Combine(dir, "cpu.stat"), "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n");
        File.WriteAllText(Path.Combine(dir, "pids.current"), "3\n");
        Assert.Equal(2, cg.OomKillCount());
        Assert.Equal(new CgroupStats(4096, long.MaxValue, 1_500_000, 3), cg.Stats()); // memory.max "max"
    }

    [Fact]
    public void Freeze_waits_for_cgroup_events_and_KillAll_uses_cgroup_kill()
    {
        var root = _k.V2Layout();
        var cg = new V2CgroupManager(root, _k).Create("gocker", "c1", CgroupLimits.None);
        var dir = cg.Directories[0];
        File.WriteAllText(Path.Combine(dir, "cgroup.events"), "populated 1\nfrozen 1\n");
        cg.Freeze();
        Assert.Equal("1", FixtureKernel.ReadFile(dir, "cgroup.freeze"));
        File.WriteAllText(Path.Combine(dir, "cgroup.events"), "populated 1\nfrozen 0\n");
        cg.Thaw();
        Assert.Equal("0", FixtureKernel.ReadFile(dir, "cgroup.freeze"));
        cg.KillAll();
        Assert.Equal("1", FixtureKernel.ReadFile(dir, "cgroup.kill"));
        cg.AddProcess(77);
        Assert.Equal("77", FixtureKernel.ReadFile(dir, "cgroup.procs"));
    }

    [Fact]
    public void Remove_keeps_the_parent_and_is_idempotent()
    {
        var root = _k.V2Layout();
        var mgr = new V2CgroupManager(root, _k);
        var cg = mgr.Create("gocker", "c1", CgroupLimits.None);
        cg.Remove();
        cg.Remove();
        Assert.False(mgr.Exists("gocker", "c1"));
        Assert.True(Directory.Exists(Path.Combine(root, "gocker")));
    }
}
