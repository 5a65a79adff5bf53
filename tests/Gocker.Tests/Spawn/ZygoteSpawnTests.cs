using Gocker.Syscalls.Spawn;

namespace Gocker.Tests.Spawn;

/// <summary>Every SpawnTests case again, each container served by a zygote (ZygoteSpawner), plus what
/// is particular to zygotes: the mount namespace is taken at the claim, a dead zygote is skipped,
/// the pool refills, and waiting zygotes exit with the pool.</summary>
[Trait("Needs", "root")]
public sealed class ZygoteSpawnTests : SpawnTests, IDisposable
{
    readonly BusyboxImage _image;
    readonly ZygoteSpawner _pool;

    public ZygoteSpawnTests(BusyboxImage image) : base(image)
    {
        _image = image;
        _pool = new ZygoteSpawner(TestContainer.Spawner, InitBinary.Path, size: 2);
        WaitReady(2);
    }

    protected override ISpawner Spawner => _pool;

    public void Dispose() => _pool.Dispose();

    void WaitReady(int n) => WaitReady(_pool, n);

    internal static void WaitReady(ZygoteSpawner pool, int n)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (pool.Ready < n)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"zygote pool has {pool.Ready} of {n} ready");
            Thread.Sleep(10);
        }
    }

    [Fact]
    public async Task A_container_is_served_by_a_waiting_zygote_and_the_pool_refills()
    {
        var zygotes = _pool.ReadyPids();
        using var c = new TestContainer(_image, "sh", "-c", "echo out; echo err >&2") { With = _pool };
        var p = c.Spawn();
        Assert.Contains(p.Pid, zygotes);
        Assert.Equal(1, _pool.Claims);
        Assert.Equal(0, _pool.Fallbacks);
        Assert.True(p.Release().Ok);
        Assert.Equal(0, (await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60))).ExitCode);
        Assert.Equal("out\n", File.ReadAllText(c.StdoutPath));
        Assert.Equal("err\n", File.ReadAllText(c.StderrPath));
        WaitReady(2);
        Assert.DoesNotContain(p.Pid, _pool.ReadyPids());
    }

    [Fact]
    public async Task A_claimed_zygote_is_replaced_after_the_refill_delay_and_an_empty_pool_at_once()
    {
        // Delays far beyond any stall of a loaded machine: the order is what is checked, not time.
        using var delayed = new ZygoteSpawner(TestContainer.Spawner, InitBinary.Path, size: 2, refillDelay: TimeSpan.FromSeconds(5));
        WaitReady(delayed, 2);
        using (var c = new TestContainer(_image, "true") { With = delayed })
        {
            var p = c.Spawn();
            Assert.True(p.Release().Ok);
            await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(1, delayed.Ready); // the other zygote serves meanwhile; the replacement waits
            WaitReady(delayed, 2);
        }
        using var single = new ZygoteSpawner(TestContainer.Spawner, InitBinary.Path, size: 1, refillDelay: TimeSpan.FromHours(1));
        WaitReady(single, 1);
        using (var c = new TestContainer(_image, "true") { With = single })
        {
            var p = c.Spawn();
            Assert.True(p.Release().Ok);
            await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
            WaitReady(single, 1); // the pool ran dry: no waiting for the delay
        }
        Assert.Equal(2, delayed.Claims + single.Claims);
    }

    [Fact]
    public async Task A_mount_the_host_makes_after_the_zygote_started_is_seen_by_its_container()
    {
        // The zygote copies the host's mount table at its claim, not at its start: a volume whose
        // source was mounted meanwhile must show the mounted filesystem, not the directory beneath.
        var src = Path.Combine(Path.GetTempPath(), "gocker-zyg-src-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(src);
        File.WriteAllText(Path.Combine(src, "beneath"), "x");
        Gocker.Syscalls.Native.Sys.Mount("tmpfs", src, "tmpfs", 0, "size=1m", "test tmpfs");
        try
        {
            File.WriteAllText(Path.Combine(src, "on-tmpfs"), "mounted\n");
            using var c = new TestContainer(_image, "sh", "-c", "cat /data/on-tmpfs; ls /data") { With = _pool };
            c.Spec = c.Spec with { Volumes = [new VolumeMount(src, "/data", true)] };
            var r = await c.RunAsync();
            Assert.True(r.Exec.Ok, r.Exec.ToString());
            Assert.Equal(1, _pool.Claims);
            Assert.Equal("mounted\non-tmpfs\n", r.Stdout);
        }
        finally
        {
            using (var u = System.Diagnostics.Process.Start("umount", src)) u.WaitForExit();
            TestDirs.Delete(src);
        }
    }

    [Fact]
    public async Task A_zygote_that_died_while_waiting_is_skipped()
    {
        foreach (var pid in _pool.ReadyPids())
        {
            using var proc = System.Diagnostics.Process.GetProcessById(pid);
            proc.Kill();
            proc.WaitForExit();
        }
        using var c = new TestContainer(_image, "echo", "fresh") { With = _pool };
        var r = await c.RunAsync();
        Assert.True(r.Exec.Ok, r.Exec.ToString());
        Assert.Equal("fresh\n", r.Stdout);
        Assert.Equal(0, _pool.Claims);
        Assert.Equal(1, _pool.Fallbacks);
    }

    [Fact]
    public void Waiting_zygotes_exit_when_the_pool_is_disposed()
    {
        var pids = _pool.ReadyPids();
        Assert.Equal(2, pids.Count);
        var procs = pids.Select(System.Diagnostics.Process.GetProcessById).ToList();
        _pool.Dispose();
        foreach (var p in procs)
        {
            Assert.True(p.WaitForExit(TimeSpan.FromSeconds(30)), $"zygote {p.Id} still running");
            p.Dispose();
        }
        Assert.Equal(0, _pool.Ready);
    }

    [Fact]
    public async Task Host_network_requests_are_spawned_fresh()
    {
        using var c = new TestContainer(_image, "true") { With = _pool };
        File.WriteAllBytes(c.SpecPath, InitSpecJson.Serialize(c.Spec));
        using var p = _pool.Spawn(new SpawnRequest(InitBinary.Path, c.SpecPath, c.StdoutPath, c.StderrPath) { HostNetwork = true });
        Assert.DoesNotContain(p.Pid, _pool.ReadyPids());
        Assert.Equal(1, _pool.Fallbacks);
        Assert.True(p.Release().Ok);
        Assert.Equal(0, (await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60))).ExitCode);
    }
}
