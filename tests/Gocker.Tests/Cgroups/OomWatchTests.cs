using Gocker.Syscalls.Cgroups;

namespace Gocker.Tests.Cgroups;

/// <summary>ICgroup.WatchOom and the shared CgroupEventWatcher: the parsers, the v2 inotify watch on a
/// fixture's memory.events and on a real cgroup2 file, and a real OOM kill signalled through the
/// hierarchy this machine uses for memory (v1 eventfd in hybrid mode).</summary>
[Trait("Needs", "root")]
public sealed class OomWatchTests : IDisposable
{
    readonly RealHost _h = new();
    readonly FixtureKernel _k = new();
    public void Dispose()
    {
        _h.Dispose();
        _k.Dispose();
    }

    [Fact]
    public void The_parsers_read_oom_kill_and_nothing_else()
    {
        Assert.Equal(1, OomCounts.FromMemoryEvents("low 0\nhigh 0\nmax 57\noom 3\noom_kill 1\noom_group_kill 0\n"));
        Assert.Equal(0, OomCounts.FromMemoryEvents("low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n"));
        Assert.Null(OomCounts.FromMemoryEvents("low 0\nhigh 0\nmax 2\noom 2\noom_group_kill 5\n")); // no oom_kill line
        Assert.Null(OomCounts.FromMemoryEvents(null));
        Assert.Equal(7, OomCounts.FromOomControl("oom_kill_disable 0\nunder_oom 0\noom_kill 7\n"));
        Assert.Null(OomCounts.FromOomControl("oom_kill_disable 0\nunder_oom 1\n")); // a kernel before 4.13
        Assert.Null(OomCounts.FromOomControl(""));
    }

    [Fact]
    public void V2_memory_events_modified_signals_the_watch_until_it_is_disposed()
    {
        var root = _k.V2Layout();
        var cg = new V2CgroupManager(root, _k).Create("gocker", "w1", CgroupLimits.None);
        var file = Path.Combine(cg.Directories[0], "memory.events");
        File.WriteAllText(file, "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n");
        using var signalled = new SemaphoreSlim(0);
        var watch = cg.WatchOom(() => signalled.Release());
        Assert.NotNull(watch);
        Assert.False(watch!.SignalsBeforeCount);
        Assert.Equal(file, watch.Path);

        File.WriteAllText(file, "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n");
        Assert.True(signalled.Wait(TimeSpan.FromSeconds(10)), "no signal after memory.events was modified");
        Assert.Equal(1, cg.OomKillCount());

        // Disposed: the same file can be watched again (one inotify watch per file, removed at dispose).
        watch.Dispose();
        using var again = new SemaphoreSlim(0);
        using var second = cg.WatchOom(() => again.Release());
        File.WriteAllText(file, "low 0\nhigh 0\nmax 3\noom 2\noom_kill 2\noom_group_kill 0\n");
        Assert.True(again.Wait(TimeSpan.FromSeconds(10)), "no signal on the second watch");
        Assert.Equal(2, cg.OomKillCount());
    }

    [Fact]
    public void A_v2_cgroup_without_memory_events_has_nothing_to_watch()
    {
        var root = _k.V2Layout();
        var cg = new V2CgroupManager(root, _k).Create("gocker", "w2", CgroupLimits.None);
        File.Delete(Path.Combine(cg.Directories[0], "memory.events"));
        Assert.Null(cg.WatchOom(() => { }));
    }

    [Fact]
    public void A_real_cgroup2_file_modified_by_the_kernel_signals_the_watch()
    {
        // cgroup.events changes (populated 0 -> 1) when a process joins: the same kernfs notification
        // the kernel sends for memory.events, on the cgroup2 tree this machine has (hybrid or v2).
        var cg = _h.Create("kernfs", CgroupLimits.None);
        var v2dir = cg switch
        {
            HybridCgroup h => h.V2.Directory,
            V2Cgroup v2 => v2.Directory,
            _ => null,
        };
        Assert.True(v2dir is not null, $"no cgroup2 directory for {cg.RelativePath} (mode {_h.Manager.Mode})");
        using var signalled = new SemaphoreSlim(0);
        using var watch = CgroupEventWatcher.Shared.WatchModified(Path.Combine(v2dir!, "cgroup.events"), () => signalled.Release());
        var p = _h.Start("sleep 30");
        cg.AddProcess(p.Id);
        Assert.True(signalled.Wait(TimeSpan.FromSeconds(10)), "no inotify signal for cgroup.events");
        Assert.Contains("populated 1", File.ReadAllText(Path.Combine(v2dir!, "cgroup.events")));
    }

    [Fact]
    public void A_real_oom_kill_is_signalled_and_counted_and_the_watcher_sleeps_in_epoll_while_idle()
    {
        var cg = _h.Create("oomwatch", new CgroupLimits { MemoryBytes = 32 << 20 });
        using var signalled = new SemaphoreSlim(0);
        using var watch = cg.WatchOom(() => signalled.Release());
        Assert.NotNull(watch);
        Assert.Equal(_h.Manager.Mode != CgroupMode.V2, watch!.SignalsBeforeCount); // v1 memory in v1 and hybrid mode

        // Idle: the shared watcher thread is blocked in epoll_wait (no timer, no polling).
        var tid = WatcherThread();
        Assert.True(tid is not null, "no gocker-cgroup-events thread in this process");
        Assert.Contains("epoll", File.ReadAllText($"/proc/self/task/{tid}/wchan"));
        Assert.Equal(0, signalled.CurrentCount);

        var p = _h.Start("sh -c \"read go; exec /bin/busybox dd if=/dev/zero of=/dev/null bs=200M count=1\"", stdin: true);
        cg.AddProcess(p.Id);
        p.StandardInput.WriteLine("go");
        p.StandardInput.Flush();
        Assert.True(p.WaitForExit(20_000));
        Assert.Equal(137, p.ExitCode);
        Assert.True(signalled.Wait(TimeSpan.FromSeconds(10)), "the OOM was not signalled");
        // v1 signals as the OOM starts; the kill is counted a moment later.
        Assert.True(TestWait.Until(() => cg.OomKillCount() == 1), $"oom_kill is {cg.OomKillCount()}, not 1");
    }

    static string? WatcherThread()
    {
        foreach (var task in Directory.GetDirectories("/proc/self/task"))
        {
            try
            {
                // comm is cut at 15 characters: "gocker-cgroup-e"
                if (File.ReadAllText(Path.Combine(task, "comm")).Trim() == "gocker-cgroup-e") return Path.GetFileName(task);
            }
            catch (IOException) { } // the thread exited meanwhile
        }
        return null;
    }
}
