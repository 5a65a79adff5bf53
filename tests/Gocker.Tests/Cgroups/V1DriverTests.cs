using Gocker.Syscalls;
using Gocker.Syscalls.Cgroups;

namespace Gocker.Tests.Cgroups;

public sealed class V1DriverTests : IDisposable
{
    readonly FixtureKernel _k = new();
    public void Dispose() => _k.Dispose();

    static readonly CgroupLimits Full = new()
    {
        MemoryBytes = 64 << 20, CpuQuotaMicros = 50_000, CpuPeriodMicros = 100_000, CpuShares = 512, CpusetCpus = "1", PidsMax = 100,
    };

    [Fact]
    public void Create_writes_every_limit_to_its_v1_file()
    {
        var m = _k.V1Layout();
        var cg = new V1CgroupManager(m, _k).Create("gocker", "c1", Full);

        Assert.Equal("gocker/c1", cg.RelativePath);
        // cpu and cpuacct are co-mounted: one directory serves both
        Assert.Equal(5, cg.Directories.Count);
        string D(string ctrl) => Path.Combine(m[ctrl], "gocker/c1");
        Assert.Equal("67108864", FixtureKernel.ReadFile(D("memory"), "memory.limit_in_bytes"));
        Assert.Equal("67108864", FixtureKernel.ReadFile(D("memory"), "memory.memsw.limit_in_bytes"));
        Assert.Equal("100000", FixtureKernel.ReadFile(D("cpu"), "cpu.cfs_period_us"));
        Assert.Equal("50000", FixtureKernel.ReadFile(D("cpu"), "cpu.cfs_quota_us"));
        Assert.Equal("512", FixtureKernel.ReadFile(D("cpu"), "cpu.shares"));
        Assert.Equal("1", FixtureKernel.ReadFile(D("cpuset"), "cpuset.cpus"));
        Assert.Equal("0", FixtureKernel.ReadFile(D("cpuset"), "cpuset.mems"));
        Assert.Equal("100", FixtureKernel.ReadFile(D("pids"), "pids.max"));
        Assert.True(_k.GuardChecks > 0);
    }

    [Fact]
    public void No_limits_leaves_kernel_defaults()
    {
        var m = _k.V1Layout();
        new V1CgroupManager(m, _k).Create("gocker", "c1", CgroupLimits.None);
        Assert.Equal("9223372036854771712", FixtureKernel.ReadFile(Path.Combine(m["memory"], "gocker/c1"), "memory.limit_in_bytes"));
        Assert.Equal("-1", FixtureKernel.ReadFile(Path.Combine(m["cpu"], "gocker/c1"), "cpu.cfs_quota_us"));
        Assert.Equal("max", FixtureKernel.ReadFile(Path.Combine(m["pids"], "gocker/c1"), "pids.max"));
    }

    [Fact]
    public void Cpuset_cpus_and_mems_are_copied_down_every_new_level()
    {
        var m = _k.V1Layout();
        new V1CgroupManager(m, _k).Create("gocker/nested", "c1", CgroupLimits.None);
        foreach (var rel in (string[])["gocker", "gocker/nested", "gocker/nested/c1"])
        {
            Assert.Equal("0-1", FixtureKernel.ReadFile(Path.Combine(m["cpuset"], rel), "cpuset.cpus"));
            Assert.Equal("0", FixtureKernel.ReadFile(Path.Combine(m["cpuset"], rel), "cpuset.mems"));
        }
    }

    [Fact]
    public void An_existing_parent_with_empty_cpuset_is_repaired()
    {
        var m = _k.V1Layout();
        var parent = Path.Combine(m["cpuset"], "gocker");
        Directory.CreateDirectory(parent);
        File.WriteAllText(Path.Combine(parent, "cpuset.cpus"), "\n");
        File.WriteAllText(Path.Combine(parent, "cpuset.mems"), "");
        new V1CgroupManager(m, _k).Create("gocker", "c1", CgroupLimits.None);
        Assert.Equal("0-1", FixtureKernel.ReadFile(parent, "cpuset.cpus"));
        Assert.Equal("0", FixtureKernel.ReadFile(parent, "cpuset.mems"));
    }

    [Fact]
    public void Memsw_is_not_written_when_the_kernel_has_no_swap_accounting()
    {
        var m = _k.V1Layout(withMemsw: false);
        new V1CgroupManager(m, _k).Create("gocker", "c1", new CgroupLimits { MemoryBytes = 1 << 25 });
        var dir = Path.Combine(m["memory"], "gocker/c1");
        Assert.Equal("33554432", FixtureKernel.ReadFile(dir, "memory.limit_in_bytes"));
        Assert.False(File.Exists(Path.Combine(dir, "memory.memsw.limit_in_bytes")));
    }

    [Fact]
    public void Nonexistent_cpu_is_refused_and_nothing_survives()
    {
        var m = _k.V1Layout();
        var mgr = new V1CgroupManager(m, _k);
        var ex = Assert.Throws<ArgumentException>(() => mgr.Create("gocker", "c1", new CgroupLimits { CpusetCpus = "7" }));
        Assert.Equal("cpuset-cpus 7: CPU 7 does not exist (available: 0-1)", ex.Message);
        Assert.False(mgr.Exists("gocker", "c1"));
        foreach (var root in m.Values.Distinct()) Assert.True(Directory.Exists(Path.Combine(root, "gocker")), "parent stays");
    }

    [Fact]
    public void Bad_cpuset_syntax_is_refused_before_anything_is_created()
    {
        var m = _k.V1Layout();
        var mgr = new V1CgroupManager(m, _k);
        var ex = Assert.Throws<ArgumentException>(() => mgr.Create("gocker", "c1", new CgroupLimits { CpusetCpus = "0-x" }));
        Assert.Contains("\"x\" is not a valid CPU number", ex.Message);
        Assert.False(Directory.Exists(Path.Combine(m["memory"], "gocker")));
    }

    [Fact]
    public void A_write_failing_midway_rolls_back_every_created_directory_and_names_the_file()
    {
        var m = _k.V1Layout();
        _k.BrokenFiles.Add("cpu.shares"); // a directory: write fails with EISDIR, after memory and cpu quota were written
        var mgr = new V1CgroupManager(m, _k);
        var ex = Assert.Throws<SyscallException>(() => mgr.Create("gocker", "c1", Full));
        var file = Path.Combine(m["cpu"], "gocker/c1/cpu.shares");
        Assert.StartsWith($"write {file}: ", ex.Message);
        Assert.Equal(21, ex.Errno);
        Assert.False(mgr.Exists("gocker", "c1"));
    }

    [Fact]
    public void Create_twice_is_refused_and_the_first_cgroup_is_untouched()
    {
        var m = _k.V1Layout();
        var mgr = new V1CgroupManager(m, _k);
        var first = mgr.Create("gocker", "c1", new CgroupLimits { PidsMax = 10 });
        var ex = Assert.Throws<SyscallException>(() => mgr.Create("gocker", "c1", new CgroupLimits { PidsMax = 20 }));
        Assert.Contains("already exists", ex.Message);
        Assert.All(first.Directories, d => Assert.True(Directory.Exists(d)));
        Assert.Equal("10", FixtureKernel.ReadFile(Path.Combine(m["pids"], "gocker/c1"), "pids.max"));
    }

    [Fact]
    public void A_leftover_in_one_hierarchy_blocks_create_and_is_not_removed()
    {
        var m = _k.V1Layout();
        var leftover = Path.Combine(m["pids"], "gocker/c1");
        Directory.CreateDirectory(leftover);
        var mgr = new V1CgroupManager(m, _k);
        Assert.True(mgr.Exists("gocker", "c1"));
        Assert.Throws<SyscallException>(() => mgr.Create("gocker", "c1", CgroupLimits.None));
        Assert.True(Directory.Exists(leftover));
        Assert.False(Directory.Exists(Path.Combine(m["memory"], "gocker/c1")));
    }

    [Fact]
    public void A_limit_needing_an_unmounted_controller_is_a_clear_error()
    {
        var m = _k.V1Layout(withPids: false);
        var mgr = new V1CgroupManager(m, _k);
        var ex = Assert.Throws<SyscallException>(() => mgr.Create("gocker", "c1", new CgroupLimits { PidsMax = 5 }));
        Assert.Contains("pids controller, which is not mounted", ex.Message);
        Assert.False(mgr.Exists("gocker", "c1"));
        // pure v1 has no other place for device rules: refused, not silently dropped
        ex = Assert.Throws<SyscallException>(() => mgr.Create("gocker", "c1", new CgroupLimits { Devices = DeviceRules.DockerDefault }));
        Assert.Contains("a device allow-list needs the v1 devices controller, which is not mounted", ex.Message);
        Assert.False(mgr.Exists("gocker", "c1"));
    }

    [Fact]
    public void AddProcess_writes_the_pid_into_every_hierarchy()
    {
        var m = _k.V1Layout();
        var cg = new V1CgroupManager(m, _k).Create("gocker", "c1", CgroupLimits.None);
        cg.AddProcess(4242);
        Assert.All(cg.Directories, d => Assert.Equal("4242", FixtureKernel.ReadFile(d, "cgroup.procs")));
        Assert.Equal([4242], cg.Processes());
    }

    [Fact]
    public void OomKillCount_reads_oom_kill_from_memory_oom_control()
    {
        var m = _k.V1Layout();
        var cg = new V1CgroupManager(m, _k).Create("gocker", "c1", CgroupLimits.None);
        Assert.Equal(0, cg.OomKillCount());
        File.WriteAllText(Path.Combine(m["memory"], "gocker/c1/memory.oom_control"), "oom_kill_disable 0\nunder_oom 1\noom_kill 3\n");
        Assert.Equal(3, cg.OomKillCount());
    }

    [Fact]
    public void Stats_parse_the_v1_files()
    {
        var m = _k.V1Layout();
        var cg = new V1CgroupManager(m, _k).Create("gocker", "c1", new CgroupLimits { MemoryBytes = 1 << 30 });
        File.WriteAllText(Path.Combine(m["memory"], "gocker/c1/memory.usage_in_bytes"), "123456\n");
        File.WriteAllText(Path.Combine(m["cpuacct"], "gocker/c1/cpuacct.usage"), "987654321\n");
        File.WriteAllText(Path.Combine(m["pids"], "gocker/c1/pids.current"), "7\n");
        Assert.Equal(new CgroupStats(123456, 1 << 30, 987654321, 7), cg.Stats());
    }

    [Fact]
    public void Freeze_and_thaw_drive_freezer_state()
    {
        var m = _k.V1Layout();
        var cg = new V1CgroupManager(m, _k).Create("gocker", "c1", CgroupLimits.None);
        var dir = Path.Combine(m["freezer"], "gocker/c1");
        cg.Freeze();
        Assert.Equal("FROZEN", FixtureKernel.ReadFile(dir, "freezer.state"));
        cg.Thaw();
        Assert.Equal("THAWED", FixtureKernel.ReadFile(dir, "freezer.state"));
    }

    [Fact]
    public void Remove_removes_the_leaves_keeps_the_parent_and_is_idempotent()
    {
        var m = _k.V1Layout();
        var mgr = new V1CgroupManager(m, _k);
        var cg = mgr.Create("gocker", "c1", Full);
        cg.Remove();
        Assert.False(mgr.Exists("gocker", "c1"));
        foreach (var root in m.Values.Distinct()) Assert.True(Directory.Exists(Path.Combine(root, "gocker")));
        cg.Remove();
        mgr.Open("gocker", "c1").Remove();
        // the name is free again
        mgr.Create("gocker", "c1", CgroupLimits.None).Remove();
    }

    [Fact]
    public void A_guard_that_refuses_stops_create_before_any_directory_is_made()
    {
        var m = _k.V1Layout();
        var mgr = new V1CgroupManager(m, new RefusingGuard());
        Assert.Throws<SyscallException>(() => mgr.Create("gocker", "c1", CgroupLimits.None));
        foreach (var root in m.Values.Distinct()) Assert.False(Directory.Exists(Path.Combine(root, "gocker")));
    }

    sealed class RefusingGuard : ICgroupFsGuard
    {
        public void EnsureCgroupDirectory(string directory) => throw new SyscallException("cgroup guard", directory, "refused");
    }
}
