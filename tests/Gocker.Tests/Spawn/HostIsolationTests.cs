using System.Diagnostics;
using Gocker.Syscalls.Native;
using Gocker.Syscalls.Spawn;
using Xunit.Abstractions;

namespace Gocker.Tests.Spawn;

/// <summary>
/// What the host process sees: its mount table, its descriptors, its children. These count fds of
/// the whole test process, so they run alone (no other test class opens fds meanwhile).
/// </summary>
[CollectionDefinition(nameof(HostIsolation), DisableParallelization = true)]
[Trait("Needs", "root")]
public class HostIsolation : ICollectionFixture<BusyboxImage>;

[Collection(nameof(HostIsolation))]
[Trait("Needs", "root")]
public class HostIsolationTests(BusyboxImage image)
{
    // Descriptors by number and target. A leak is one that is open after and was not before;
    // fds closed meanwhile (finalizers of earlier tests' handles) are not this test's business,
    // so a plain count would fail in either direction for reasons unrelated to the spawner.
    static HashSet<string> OpenFds()
    {
        var set = new HashSet<string>();
        foreach (var f in Directory.GetFiles("/proc/self/fd"))
        {
            // The listing's own directory fd is closed by now: its target reads as null.
            try { if (new FileInfo(f).LinkTarget is { } t) set.Add(Path.GetFileName(f) + " -> " + t); }
            catch (IOException) { } // closed while listing
        }
        return set;
    }

    [Fact]
    public async Task Host_mount_table_is_unchanged_after_a_container_ran()
    {
        var src = Path.Combine(Path.GetTempPath(), "gocker-mnt-src-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(src);
        try
        {
            var before = File.ReadAllText("/proc/self/mountinfo");
            using var c = new TestContainer(image, "sh", "-c", "mount | wc -l");
            c.Spec = c.Spec with { Volumes = [new VolumeMount(src, "/data", true)] };
            var r = await c.RunAsync();
            Assert.True(r.Exec.Ok, r.Exec.ToString());
            Assert.True(int.Parse(r.Stdout.Trim()) > 3); // it did mount things, in its own namespace
            Assert.Equal(before, File.ReadAllText("/proc/self/mountinfo"));
        }
        finally { TestDirs.Delete(src); }
    }

    [Fact]
    public async Task No_descriptor_leaks_after_dispose()
    {
        // Warm up (reaper epoll fd, libraries) before the baseline.
        using (var w = new TestContainer(image, "true")) await w.RunAsync();
        var before = OpenFds();
        for (int i = 0; i < 5; i++)
        {
            using var c = new TestContainer(image, i % 2 == 0 ? "true" : "no-such-command");
            await c.RunAsync();
        }
        using (var c = new TestContainer(image, "true"))
        {
            var p = c.Spawn();
            var exit = p.WaitForExitAsync();
            p.Dispose(); // never released: the reaper closes the pidfd once it has reaped
            await exit.WaitAsync(TimeSpan.FromSeconds(30));
        }
        // The reaper closes a detached pidfd right after completing the task: allow it a moment.
        string[] leaked = [];
        for (int i = 0; i < 40; i++)
        {
            leaked = OpenFds().Except(before).ToArray();
            if (leaked.Length == 0) break;
            await Task.Delay(50);
        }
        Assert.Empty(leaked);
    }

    [Fact]
    public async Task Parallel_spawns_each_see_only_0_1_2_and_keep_their_exit_status_despite_Process_Start()
    {
        using var stop = new CancellationTokenSource();
        // .NET reaps only the children it started itself: these must not steal our exit statuses.
        var noise = Task.Run(() =>
        {
            int n = 0;
            while (!stop.IsCancellationRequested)
            {
                using var p = Process.Start("true")!;
                p.WaitForExit();
                n++;
            }
            return n;
        });
        // Descriptors opened without CLOEXEC while spawning must not reach any container.
        var leakyFds = Task.Run(() =>
        {
            var path = System.Text.Encoding.UTF8.GetBytes("/etc/hostname\0");
            while (!stop.IsCancellationRequested)
                unsafe
                {
                    fixed (byte* p = path)
                    {
                        int fd = Libc.open(p, 0, 0); // deliberately without O_CLOEXEC
                        if (fd >= 0) Libc.close(fd);
                    }
                }
        });

        var containers = Enumerable.Range(0, 8).Select(i => new TestContainer(image, "sh", "-c", $"ls /proc/1/fd; exit {10 + i}")).ToList();
        try
        {
            var results = await Task.WhenAll(containers.Select(c => Task.Run(c.RunAsync)));
            for (int i = 0; i < results.Length; i++)
            {
                Assert.True(results[i].Exec.Ok, results[i].Exec.ToString());
                Assert.Equal(ExitStatus.Exited(10 + i), results[i].Exit);
                Assert.Equal("0\n1\n2\n", results[i].Stdout);
            }
        }
        finally
        {
            stop.Cancel();
            Assert.True(await noise > 0);
            await leakyFds;
            foreach (var c in containers) c.Dispose();
        }
    }
}

[Collection(nameof(HostIsolation))]
[Trait("Needs", "root")]
public class SpawnLatency(BusyboxImage image, ITestOutputHelper output)
{
    [Fact]
    public async Task Spawn_to_release_of_true()
    {
        var times = new List<double>();
        for (int i = 0; i < 51; i++)
        {
            using var c = new TestContainer(image, "/bin/true");
            File.WriteAllBytes(c.SpecPath, InitSpecJson.Serialize(c.Spec));
            var sw = Stopwatch.StartNew();
            using var p = TestContainer.Spawner.Spawn(new SpawnRequest(InitBinary.Path, c.SpecPath, c.StdoutPath, c.StderrPath));
            var exec = p.Release();
            sw.Stop();
            Assert.True(exec.Ok, exec.ToString());
            Assert.Equal(0, (await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30))).ExitCode);
            if (i > 0) times.Add(sw.Elapsed.TotalMilliseconds); // the first one pays JIT
        }
        times.Sort();
        output.WriteLine($"Spawn()->Release() for true, n={times.Count}: median {times[times.Count / 2]:F2} ms, min {times[0]:F2}, max {times[^1]:F2}");
    }
}
