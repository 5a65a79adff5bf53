using System.Runtime.InteropServices;
using System.Text;
using Gocker.Syscalls;
using Gocker.Syscalls.Keeper;
using Gocker.Syscalls.Native;
using Gocker.Syscalls.Spawn;
using Gocker.Syscalls.Terminal;
using static Gocker.Syscalls.Native.Consts;

namespace Gocker.Tests.Spawn;

/// <summary>
/// The sealed in-memory copy of gocker-init (SealedBinary, the CVE-2019-5736 fix): sealed, equal to
/// its source, unwritable; and every kind of spawn (a fresh init, a zygote, an exec, the terminal
/// keeper) executes it: /proc/PID/exe names the memfd, not a host file, and cannot be written.
/// </summary>
[Trait("Needs", "root")]
public sealed class SealedBinaryTests(BusyboxImage image) : IClassFixture<BusyboxImage>, IDisposable
{
    const int F_ADD_SEALS = 1033, F_GET_SEALS = 1034, ETXTBSY = 26, O_TRUNC = 0x200;
    readonly SealedBinary _init = SealedBinary.Create(InitBinary.Path);

    public void Dispose() => _init.Dispose();

    static unsafe int Open(string path, int flags)
    {
        fixed (byte* p = Sys.Z(path)) return Libc.open(p, flags | O_CLOEXEC, 0);
    }

    static string? Exe(int pid) => new FileInfo($"/proc/{pid}/exe").LinkTarget;

    static void WaitFor(Func<bool> cond, string what)
    {
        for (var deadline = DateTime.UtcNow.AddSeconds(30); !cond();)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException(what);
            Thread.Sleep(10);
        }
    }

    /// <summary>pid runs the sealed copy: its exe is the memfd, named gocker-init in ps (argv[0] and,
    /// once its runtime has started, comm), and its executable cannot be opened for writing.</summary>
    static void AssertRunsSealedCopy(int pid, string mode)
    {
        Assert.StartsWith("/memfd:gocker-init", Exe(pid));
        // posix_spawn returns once the child's execve has let go of the parent's memory, which can be
        // before the new image's argument pages are in place (cmdline reads empty until then).
        WaitFor(() => File.ReadAllText($"/proc/{pid}/cmdline").Length > 0, $"cmdline of {pid}");
        var argv = File.ReadAllText($"/proc/{pid}/cmdline").Split('\0');
        Assert.Equal("gocker-init", argv[0]);
        Assert.Equal(mode, argv[1]);
        WaitFor(() => File.ReadAllText($"/proc/{pid}/comm") == "gocker-init\n", $"comm of {pid} becomes gocker-init");
        int fd = Open($"/proc/{pid}/exe", O_WRONLY);
        int errno = Libc.Errno;
        if (fd >= 0) Libc.close(fd);
        Assert.True(fd < 0, $"/proc/{pid}/exe opened for writing");
        Assert.Equal(ETXTBSY, errno); // while it runs; the seals refuse it after (below)
    }

    [Fact]
    public unsafe void The_copy_is_sealed_equal_to_its_source_and_refuses_every_write()
    {
        Assert.Equal(SealedBinary.Seals, Libc.fcntl(_init.Fd, F_GET_SEALS, 0) & SealedBinary.Seals);
        Assert.Equal(0xF, SealedBinary.Seals); // SEAL|SHRINK|GROW|WRITE
        Assert.Equal(File.ReadAllBytes(InitBinary.Path), File.ReadAllBytes(_init.ExecPath));
        Assert.Equal(new FileInfo(InitBinary.Path).Length, _init.Length);
        Assert.Equal(Path.GetFullPath(InitBinary.Path), _init.HostPath);
        Assert.Matches(@"^/proc/\d+/fd/\d+$", _init.ExecPath);
        Assert.StartsWith("/memfd:gocker-init", new FileInfo(_init.ExecPath).LinkTarget);
        Assert.Contains("(sealed copy of " + _init.HostPath + ")", SealedBinary.Describe(_init.ExecPath));

        // In place (O_RDWR, no truncation): the open works on a memfd nobody executes, the write not.
        int fd = Open(_init.ExecPath, O_RDWR);
        Assert.True(fd >= 0, $"open {_init.ExecPath} O_RDWR: errno {Libc.Errno}");
        try
        {
            fixed (byte* b = "pwned"u8)
            {
                Assert.Equal(-1, (long)Libc.write(fd, b, 5));
                Assert.Equal(EPERM, Libc.Errno);
            }
        }
        finally { Libc.close(fd); }
        // Truncating (what `> file` does) is refused at the open.
        Assert.Equal(-1, Open(_init.ExecPath, O_WRONLY | O_TRUNC));
        Assert.Equal(EPERM, Libc.Errno);
        // F_SEAL_SEAL: no seal can be changed any more.
        Assert.Equal(-1, Libc.fcntl(_init.Fd, F_ADD_SEALS, 0));
        Assert.Equal(EPERM, Libc.Errno);
        Assert.Equal(File.ReadAllBytes(InitBinary.Path), File.ReadAllBytes(_init.ExecPath));
    }

    [Fact]
    public void Dispose_closes_the_copy()
    {
        var copy = SealedBinary.Create(InitBinary.Path);
        var path = copy.ExecPath;
        Assert.True(File.Exists(path));
        copy.Dispose();
        copy.Dispose();
        Assert.False(File.Exists(path));
        Assert.Equal(path, SealedBinary.Describe(path));
    }

    [Fact]
    public void A_missing_file_or_a_directory_is_refused_naming_the_path()
    {
        var missing = "/nonexistent-gocker-init-" + Guid.NewGuid().ToString("N");
        var e = Assert.Throws<SyscallException>(() => SealedBinary.Create(missing));
        Assert.Contains(missing, e.Message);
        var dir = Path.Combine(Path.GetTempPath(), "gocker-sealed-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        try
        {
            e = Assert.Throws<SyscallException>(() => SealedBinary.Create(dir));
            Assert.Contains(dir, e.Message);
            Assert.Contains("not a regular file", e.Message);
        }
        finally { Directory.Delete(dir); }
    }

    [Fact]
    public async Task A_fresh_init_runs_the_sealed_copy_and_its_container_works()
    {
        using var c = new TestContainer(image, "sh", "-c", "echo fresh-ok") { InitPath = _init.ExecPath };
        var p = c.Spawn();
        AssertRunsSealedCopy(p.Pid, c.SpecPath);
        Assert.True(p.Release().Ok);
        Assert.Equal(0, (await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60))).ExitCode);
        Assert.Equal("fresh-ok\n", File.ReadAllText(c.StdoutPath));
    }

    [Fact]
    public async Task Zygotes_run_the_sealed_copy_and_serve_a_start_from_it()
    {
        using var pool = new ZygoteSpawner(TestContainer.Spawner, _init.ExecPath, size: 1);
        ZygoteSpawnTests.WaitReady(pool, 1);
        var zygote = Assert.Single(pool.ReadyPids());
        AssertRunsSealedCopy(zygote, "--zygote");
        // The request names the same exec path as the pool: it is served by the zygote.
        using var c = new TestContainer(image, "sh", "-c", "echo zygote-ok") { With = pool, InitPath = _init.ExecPath };
        var p = c.Spawn();
        Assert.Equal(zygote, p.Pid);
        Assert.Equal(1, pool.Claims);
        Assert.True(p.Release().Ok);
        Assert.Equal(0, (await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60))).ExitCode);
        Assert.Equal("zygote-ok\n", File.ReadAllText(c.StdoutPath));
    }

    [Fact]
    public async Task An_exec_init_runs_the_sealed_copy_inside_the_container()
    {
        using var c = new TestContainer(image, "sleep", "1000") { InitPath = _init.ExecPath };
        var target = c.Spawn();
        Assert.True(target.Release().Ok);
        var spec = Path.Combine(c.Dir, "exec.json");
        File.WriteAllBytes(spec, ExecSpecJson.Serialize(new ExecSpec
        {
            Args = ["sh", "-c", "cat /proc/1/cmdline; echo; echo exec-ok"], Env = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
        }));
        var outPath = Path.Combine(c.Dir, "exec.out");
        using var stdin = File.OpenHandle("/dev/null");
        using var stdout = File.OpenHandle(outPath, FileMode.Create, FileAccess.Write);
        var st = ProcStat.Read(target.Pid) ?? throw new InvalidOperationException($"container {target.Pid} is gone");
        int o = (int)stdout.DangerousGetHandle();
        using var e = NamespaceJoiner.Create().SpawnInto(new ExecSpawnRequest(
            _init.ExecPath, spec, target.Pid, st.StartTime, (int)stdin.DangerousGetHandle(), o, o));
        AssertRunsSealedCopy(e.Pid, "--exec");
        Assert.True(e.Release().Ok);
        Assert.Equal(0, (await e.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60))).ExitCode);
        // It ran in the container (its PID 1 is the container's sleep).
        Assert.Equal("sleep\01000\0\nexec-ok\n", File.ReadAllText(outPath));
    }

    [Fact]
    public void The_terminal_keeper_runs_the_sealed_copy()
    {
        var execRoot = Path.Combine(Path.GetTempPath(), "gocker-sealed-keeper-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(execRoot);
        try
        {
            var keeper = TerminalKeeper.For(execRoot, _init.ExecPath, cgroups: null, cgroupParent: "");
            using var pty = Pty.Open();
            var kept = keeper.Hold("sealed-test", pty.Master);
            AssertRunsSealedCopy(kept.KeeperPid, "--keeper");
            Assert.Null(keeper.Release(kept, "sealed-test"));
            // Holding nothing, it stays while we are connected, and exits once we are not.
            Assert.Empty(keeper.List());
            keeper.Disconnect();
            WaitFor(() => ProcStat.Read(kept.KeeperPid) is not { } st || st.IsZombie, "the keeper exited");
        }
        finally { Directory.Delete(execRoot, true); }
    }
}
