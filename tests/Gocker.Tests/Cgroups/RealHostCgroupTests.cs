using System.Diagnostics;
using Gocker.Syscalls.Cgroups;

namespace Gocker.Tests.Cgroups;

/// <summary>Against this machine's kernel (as root): real files, real processes, real OOM kills.</summary>
[Trait("Needs", "root")]
public sealed class RealHostCgroupTests : IDisposable
{
    readonly RealHost _h = new();
    public void Dispose() => _h.Dispose();

    static string Read(string dir, string file) => File.ReadAllText(Path.Combine(dir, file)).Trim();

    string DirOf(ICgroup cg, string controller) => _h.Manager switch
    {
        HybridCgroupManager h => Path.Combine(h.ControllerMounts[controller], cg.RelativePath),
        V1CgroupManager v1 => Path.Combine(v1.ControllerMounts[controller], cg.RelativePath),
        _ => cg.Directories[0],
    };

    bool IsV2 => _h.Manager.Mode == CgroupMode.V2;

    [Fact]
    public void Limits_are_written_to_the_real_files()
    {
        var cg = _h.Create("limits", new CgroupLimits
        {
            MemoryBytes = 64 << 20, CpuQuotaMicros = 50_000, CpuPeriodMicros = 100_000, CpuShares = 512, CpusetCpus = "0", PidsMax = 50,
        });
        Assert.Equal($"{_h.Parent}/limits", cg.RelativePath);
        if (IsV2)
        {
            var d = cg.Directories[0];
            Assert.Equal("67108864", Read(d, "memory.max"));
            Assert.Equal("50000 100000", Read(d, "cpu.max"));
            Assert.Equal("20", Read(d, "cpu.weight"));
            Assert.Equal("0", Read(d, "cpuset.cpus"));
            Assert.Equal("50", Read(d, "pids.max"));
            return;
        }
        Assert.Equal("67108864", Read(DirOf(cg, "memory"), "memory.limit_in_bytes"));
        if (File.Exists(Path.Combine(DirOf(cg, "memory"), "memory.memsw.limit_in_bytes")))
            Assert.Equal("67108864", Read(DirOf(cg, "memory"), "memory.memsw.limit_in_bytes"));
        Assert.Equal("100000", Read(DirOf(cg, "cpu"), "cpu.cfs_period_us"));
        Assert.Equal("50000", Read(DirOf(cg, "cpu"), "cpu.cfs_quota_us"));
        Assert.Equal("512", Read(DirOf(cg, "cpu"), "cpu.shares"));
        Assert.Equal("0", Read(DirOf(cg, "cpuset"), "cpuset.cpus"));
        var cpusetParent = Path.GetDirectoryName(DirOf(cg, "cpuset"))!;
        Assert.NotEqual("", Read(cpusetParent, "cpuset.cpus")); // the gocker parent got CPUs too
        Assert.Equal(Read(cpusetParent, "cpuset.mems"), Read(DirOf(cg, "cpuset"), "cpuset.mems"));
        Assert.Equal("50", Read(DirOf(cg, "pids"), "pids.max"));
        var stats = cg.Stats();
        Assert.Equal(64 << 20, stats.MemoryLimitBytes);
    }

    [Fact]
    public void A_cpu_the_machine_lacks_is_refused_and_nothing_is_left()
    {
        var available = File.ReadAllText("/sys/devices/system/cpu/online").Trim();
        var missing = CpusetList.Parse(available).Max + 1;
        var ex = Assert.Throws<ArgumentException>(() => _h.Create("nocpu", new CgroupLimits { CpusetCpus = $"{missing}" }));
        Assert.Equal($"cpuset-cpus {missing}: CPU {missing} does not exist (available: {available})", ex.Message);
        Assert.False(_h.Manager.Exists(_h.Parent, "nocpu"));
    }

    [Fact]
    public void Create_twice_is_refused_on_the_real_tree()
    {
        _h.Create("twice", CgroupLimits.None);
        Assert.Contains("already exists", Assert.Throws<Gocker.Syscalls.SyscallException>(() => _h.Manager.Create(_h.Parent, "twice", CgroupLimits.None)).Message);
        Assert.True(_h.Manager.Exists(_h.Parent, "twice"));
    }

    [Fact]
    public void A_real_process_is_placed_in_every_hierarchy_and_KillAll_kills_it()
    {
        var cg = _h.Create("place", new CgroupLimits { MemoryBytes = 64 << 20, PidsMax = 20 });
        var p = _h.Start("sleep 30");
        cg.AddProcess(p.Id);

        var where = RealHost.CgroupsOf(p.Id);
        var expected = "/" + cg.RelativePath;
        if (IsV2) Assert.Equal(expected, where[""]);
        else
        {
            Assert.Equal(expected, where["memory"]);
            Assert.Equal(expected, where["cpu"]);
            Assert.Equal(expected, where["pids"]);
            Assert.Equal(expected, where["freezer"]);
            if (_h.Manager.Mode == CgroupMode.Hybrid) Assert.Equal(expected, where[""]);
        }
        Assert.Contains(p.Id, cg.Processes());
        var stats = cg.Stats();
        Assert.True(stats.PidsCurrent >= 1, $"pids.current {stats.PidsCurrent}");

        cg.KillAll();
        Assert.True(p.WaitForExit(10_000));
        Assert.Equal(137, p.ExitCode);
        Assert.True(TestWait.Until(() => cg.Processes().Count == 0));
    }

    [Fact]
    public async Task Pids_max_stops_forks_beyond_the_limit()
    {
        var cg = _h.Create("pids", new CgroupLimits { PidsMax = 5 });
        // The shell waits for a line so it forks only once it is inside the cgroup.
        var p = _h.Start("sh -c \"read go; for i in 1 2 3 4 5 6 7 8 9 10; do /bin/busybox sleep 30 >/dev/null 2>&1 & done; wait\"", stdin: true);
        cg.AddProcess(p.Id);
        p.StandardInput.WriteLine("go");
        p.StandardInput.Flush();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(20_000));
        Assert.Contains("can't fork", await stderr);
        Assert.NotEqual(0, p.ExitCode);
        var events = IsV2 ? Path.Combine(cg.Directories[0], "pids.events") : Path.Combine(DirOf(cg, "pids"), "pids.events");
        Assert.True(Gocker.Syscalls.Cgroups.CgroupValues.KeyedValue(File.ReadAllText(events), "max") > 0);
        Assert.True(cg.Stats().PidsCurrent <= 5);
        // the sleeps that did start are still in there: Remove must kill them
        Assert.NotEmpty(cg.Processes());
        cg.Remove();
        Assert.False(_h.Manager.Exists(_h.Parent, "pids"));
    }

    [Fact]
    public void A_memory_limit_OOM_kills_the_process_and_the_counter_shows_it()
    {
        var cg = _h.Create("oom", new CgroupLimits { MemoryBytes = 32 << 20 });
        Assert.Equal(0, cg.OomKillCount());
        // dd allocates and fills a 200 MB buffer; memsw (or swap.max 0) keeps swap from absorbing it.
        var p = _h.Start("sh -c \"read go; exec /bin/busybox dd if=/dev/zero of=/dev/null bs=200M count=1\"", stdin: true);
        cg.AddProcess(p.Id);
        p.StandardInput.WriteLine("go");
        p.StandardInput.Flush();
        Assert.True(p.WaitForExit(20_000));
        Assert.Equal(137, p.ExitCode); // SIGKILL
        Assert.True(TestWait.Until(() => cg.OomKillCount() > 0), "oom_kill counter stayed 0");
    }

    [Fact]
    public void Freeze_and_thaw_a_real_process()
    {
        var cg = _h.Create("freeze", CgroupLimits.None);
        var p = _h.Start("sleep 30");
        cg.AddProcess(p.Id);
        cg.Freeze();
        if (IsV2) Assert.Contains("frozen 1", File.ReadAllText(Path.Combine(cg.Directories[0], "cgroup.events")));
        else
        {
            Assert.Equal("FROZEN", Read(DirOf(cg, "freezer"), "freezer.state"));
            Assert.StartsWith("D", RealHost.ProcState(p.Id)); // frozen tasks sleep uninterruptibly
        }
        cg.Thaw();
        if (IsV2) Assert.Contains("frozen 0", File.ReadAllText(Path.Combine(cg.Directories[0], "cgroup.events")));
        else Assert.Equal("THAWED", Read(DirOf(cg, "freezer"), "freezer.state"));
        // Thawed: running or sleeping again (R right after the thaw on a busy machine), never D.
        Assert.Matches("^[RS]", RealHost.ProcState(p.Id));
        // a frozen cgroup can still be killed and removed
        cg.Freeze();
        cg.Remove();
        Assert.True(p.WaitForExit(10_000));
        Assert.Equal(137, p.ExitCode);
    }

    [Fact]
    public void Remove_with_a_live_process_kills_it_leaves_nothing_and_is_idempotent()
    {
        var cg = _h.Create("rm", new CgroupLimits { MemoryBytes = 64 << 20 });
        var p = _h.Start("sleep 30");
        cg.AddProcess(p.Id);
        cg.Remove();
        Assert.True(p.WaitForExit(10_000));
        Assert.All(cg.Directories, d => Assert.False(Directory.Exists(d), d));
        foreach (var root in _h.Roots)
        {
            var parent = Path.Combine(root, _h.Parent);
            Assert.True(Directory.Exists(parent), $"parent kept: {parent}");
            Assert.Empty(Directory.GetDirectories(parent));
        }
        cg.Remove();
        _h.Manager.Open(_h.Parent, "rm").Remove();
        Assert.False(_h.Manager.Exists(_h.Parent, "rm"));
    }
}

/// <summary>The cgroup2 core files (cgroup.procs, cgroup.freeze, cgroup.events, cgroup.kill) for real:
/// on this hybrid machine in /sys/fs/cgroup/unified, on a pure v2 machine at /sys/fs/cgroup.</summary>
[Trait("Needs", "root")]
public sealed class RealUnifiedTreeTests : IDisposable
{
    readonly RealHost _h = new(new V2CgroupManager(UnifiedRoot()));
    public void Dispose() => _h.Dispose();

    internal static string UnifiedRoot()
    {
        foreach (var f in File.ReadAllLines("/proc/self/mountinfo").Select(l => l.Split(' ')))
            if (f[Array.IndexOf(f, "-") + 1] == "cgroup2" && f[4] is "/sys/fs/cgroup" or "/sys/fs/cgroup/unified") return f[4];
        throw new InvalidOperationException("no cgroup2 mount on this machine");
    }

    [Fact]
    public void Place_freeze_thaw_and_kill_through_the_v2_core_files()
    {
        var cg = _h.Create("core", CgroupLimits.None);
        var dir = cg.Directories[0];
        var p = _h.Start("sleep 30");
        cg.AddProcess(p.Id);
        Assert.Equal("/" + cg.RelativePath, RealHost.CgroupsOf(p.Id)[""]);
        Assert.Equal([p.Id], cg.Processes());
        Assert.Contains("populated 1", File.ReadAllText(Path.Combine(dir, "cgroup.events")));

        cg.Freeze();
        Assert.Contains("frozen 1", File.ReadAllText(Path.Combine(dir, "cgroup.events")));
        cg.Thaw();
        Assert.Contains("frozen 0", File.ReadAllText(Path.Combine(dir, "cgroup.events")));

        cg.KillAll(); // cgroup.kill
        Assert.True(p.WaitForExit(10_000));
        Assert.Equal(137, p.ExitCode);
        Assert.True(TestWait.Until(() => File.ReadAllText(Path.Combine(dir, "cgroup.events")).Contains("populated 0")));
        cg.Remove();
        Assert.False(Directory.Exists(dir));
        cg.Remove();
    }
}

[Trait("Needs", "root")]
static class TestWait
{
    /// <summary>Polls for up to 10 s: a bound for kernel bookkeeping, not a timing assertion.</summary>
    public static bool Until(Func<bool> cond)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < TimeSpan.FromSeconds(10))
        {
            if (cond()) return true;
            Thread.Sleep(10);
        }
        return cond();
    }
}
