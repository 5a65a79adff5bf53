namespace Gocker.Tests.Integration;

/// <summary>200 run/rm cycles, some failing on purpose: nothing is left behind, and the daemon's open
/// descriptors and threads come back to where they were.</summary>
[Trait("Needs", "root")]
public sealed class LifecycleLeakTests : IDisposable
{
    readonly LifecycleDaemon _d = new();

    public void Dispose() => _d.Dispose();

    int Fds() => Directory.GetFileSystemEntries($"/proc/{_d.Pid}/fd").Length;
    int Threads() => Directory.GetDirectories($"/proc/{_d.Pid}/task").Length;

    [Fact]
    public void Two_hundred_run_rm_cycles_leak_nothing()
    {
        // Warm up (first image build, thread pool, JIT) before taking the baseline.
        for (var i = 0; i < 5; i++) _d.Ok("run", "--rm", "busybox", "true");
        Thread.Sleep(500);
        var (fds0, threads0) = (Fds(), Threads());

        for (var i = 0; i < 200; i++)
        {
            switch (i % 5)
            {
                case 0: // command not found: the start fails after the rootfs was built
                    Assert.Equal(127, _d.Gocker("run", "--rm", "busybox", "no-such-command").ExitCode);
                    break;
                case 1: // volume source missing: refused before anything is made
                    Assert.Equal(125, _d.Gocker("run", "--rm", "-v", "/nonexistent-" + i + ":/x", "busybox", "true").ExitCode);
                    break;
                case 2: // detached, then force-removed while it runs
                    var id = _d.Ok("run", "-d", "busybox", "sleep", "1000");
                    _d.Ok("rm", "-f", id);
                    break;
                case 3: // created, never started, removed
                    _d.Ok("rm", _d.Ok("create", "busybox", "true"));
                    break;
                default:
                    Assert.Equal("x", _d.Ok("run", "--rm", "busybox", "echo", "x"));
                    break;
            }
        }
        _d.AssertNoLeaks();
        Assert.Equal("", _d.Ok("ps", "-aq"));

        // Threads of the .NET pool come and go; allow for that, not for one per container.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((Fds() > fds0 + 4 || Threads() > threads0 + 8) && DateTime.UtcNow < deadline) Thread.Sleep(200);
        var (fds1, threads1) = (Fds(), Threads());
        Assert.True(fds1 <= fds0 + 4, $"daemon fds {fds0} -> {fds1}:\n" +
            string.Join('\n', Directory.GetFileSystemEntries($"/proc/{_d.Pid}/fd").Select(f => f + " -> " + new FileInfo(f).LinkTarget)));
        Assert.True(threads1 <= threads0 + 8, $"daemon threads {threads0} -> {threads1}");
    }
}
