using System.Formats.Tar;

namespace Gocker.Tests.Integration;

/// <summary>`gocker run` end to end: the real console, the real daemon, real containers.</summary>
[Trait("Needs", "root")]
public sealed class RunTests(DaemonFixture daemon) : IClassFixture<DaemonFixture>, IDisposable
{
    CliResult Run(params string[] args) => daemon.Gocker(["run", "--rm", .. args]);

    public void Dispose() => daemon.AssertNoLeaks();

    [Fact]
    public void Run_prints_hello()
    {
        var r = Run("busybox", "echo", "hello");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("hello\n", r.Stdout);
    }

    [Fact]
    public void Arguments_pass_through_exactly()
    {
        var r = Run("busybox", "sh", "-c", "echo 'a  b' \"$0\" \"$1\"", "-x", "--y z");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("a  b -x --y z\n", r.Stdout);
    }

    [Fact]
    public void Stdout_and_stderr_stay_separate()
    {
        var r = Run("busybox", "sh", "-c", "echo out; echo err >&2");
        Assert.Equal("out\n", r.Stdout);
        Assert.Contains("err\n", r.Stderr);
    }

    [Theory]
    [InlineData("exit 3", 3)]
    [InlineData("exit 0", 0)]
    [InlineData("kill -TERM $$; sleep 1; exit 5", 5)] // PID 1 has no default TERM action
    public void Exit_code_is_the_containers(string script, int expected)
    {
        var r = Run("busybox", "sh", "-c", script);
        Assert.True(r.ExitCode == expected, r.ToString());
    }

    [Fact]
    public void Killed_by_sigkill_exits_137()
    {
        var r = daemon.Gocker("run", "-d", "busybox", "sleep", "60");
        Assert.True(r.ExitCode == 0, r.ToString());
        var id = r.Stdout.Trim();
        Assert.Equal(0, daemon.Gocker("kill", id).ExitCode);
        var wait = daemon.Gocker("wait", id);
        Assert.Equal("137", wait.Stdout.Trim());
        Assert.Equal(0, daemon.Gocker("rm", id).ExitCode);
    }

    [Fact]
    public void Unknown_command_exits_127_with_a_message()
    {
        var r = Run("busybox", "no-such-command");
        Assert.True(r.ExitCode == 127, r.ToString());
        Assert.Contains("no-such-command", r.Stderr);
    }

    [Fact]
    public void Command_that_cannot_be_run_exits_126()
    {
        var r = Run("busybox", "/etc/passwd");
        Assert.True(r.ExitCode == 126, r.ToString());
    }

    [Fact]
    public void The_command_is_pid_1_and_sees_only_its_own_processes()
    {
        var r = Run("busybox", "sh", "-c", "echo $$; ps -o pid,comm | tail -n +2 | wc -l");
        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("1", lines[0]);
        // sh, ps, tail, wc at most
        Assert.InRange(int.Parse(lines[1].Trim()), 1, 4);
    }

    [Fact]
    public void Hostname_defaults_to_the_short_id_and_can_be_set()
    {
        var r = daemon.Gocker("run", "--name", "hn-" + Guid.NewGuid().ToString("N")[..6], "busybox", "hostname");
        Assert.True(r.ExitCode == 0, r.ToString());
        var hostname = r.Stdout.Trim();
        Assert.Equal(12, hostname.Length);
        var ps = daemon.Gocker("ps", "-a", "-q", "--no-trunc");
        Assert.Contains(ps.Stdout.Split('\n'), id => id.StartsWith(hostname));
        Assert.Equal(0, daemon.Gocker("rm", hostname).ExitCode);

        var custom = Run("-h", "box1", "busybox", "hostname");
        Assert.Equal("box1\n", custom.Stdout);
        Assert.NotEqual(Environment.MachineName, hostname);
    }

    [Fact]
    public void Root_is_an_overlay_with_proc_dev_and_readonly_sys()
    {
        var r = Run("busybox", "cat", "/proc/mounts");
        Assert.True(r.ExitCode == 0, r.ToString());
        var mounts = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')).ToList();
        Assert.Contains(mounts, m => m[1] == "/" && m[2] == "overlay");
        Assert.Contains(mounts, m => m[1] == "/proc" && m[2] == "proc");
        Assert.Contains(mounts, m => m[1] == "/dev" && m[2] == "tmpfs");
        Assert.Contains(mounts, m => m[1] == "/sys" && m[2] == "sysfs" && m[3].Split(',').Contains("ro"));
        // No host mount is visible in the container.
        Assert.DoesNotContain(mounts, m => m[1].StartsWith("/work") || m[1].StartsWith(daemon.Root));
        var dev = Run("busybox", "sh", "-c", "ls /dev; echo x > /dev/null && head -c 4 /dev/zero | wc -c");
        foreach (var node in new[] { "null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts", "shm" })
            Assert.Contains(node, dev.Stdout.Split('\n'));
        Assert.EndsWith("4\n", dev.Stdout);
    }

    [Fact]
    public void An_rm_containers_overlay_is_volatile_and_a_kept_containers_is_not()
    {
        // --rm: the upper dir is deleted at the exit, so its overlay skips the syncfs at unmount.
        static string RootOptions(CliResult r) =>
            r.Stdout.Split('\n').Select(l => l.Split(' ')).First(m => m.Length > 3 && m[1] == "/" && m[2] == "overlay")[3];
        var rm = Run("busybox", "cat", "/proc/mounts");
        Assert.True(rm.ExitCode == 0, rm.ToString());
        Assert.True(Spawn.OverlayVolatileTests.IsVolatile(RootOptions(rm)), RootOptions(rm));
        var name = "kept-" + Guid.NewGuid().ToString("N")[..8];
        try
        {
            var kept = daemon.Gocker("run", "--name", name, "busybox", "cat", "/proc/mounts");
            Assert.True(kept.ExitCode == 0, kept.ToString());
            Assert.False(Spawn.OverlayVolatileTests.IsVolatile(RootOptions(kept)), RootOptions(kept));
            // Started again, it mounts the same upper dir: still fine, and still not volatile.
            var again = daemon.Gocker("start", "-a", name);
            Assert.True(again.ExitCode == 0, again.ToString());
            Assert.False(Spawn.OverlayVolatileTests.IsVolatile(RootOptions(again)), RootOptions(again));
        }
        finally { daemon.Gocker("rm", "-f", name); }
    }

    [Fact]
    public void Containers_running_at_once_each_see_their_own_root_on_the_shared_mount_point()
    {
        // Every init mounts its overlay on ExecRoot/rootfs inside its own mount namespace.
        var ids = new[] { "one", "two" }.Select(m =>
            daemon.Gocker("run", "-d", "busybox", "sh", "-c", $"echo {m} > /marker; sleep 1000").Stdout.Trim()).ToArray();
        try
        {
            foreach (var (id, marker) in ids.Zip(new[] { "one", "two" }))
            {
                Assert.Matches("^[0-9a-f]{64}$", id);
                var seen = "";
                for (var i = 0; i < 100 && seen != marker; i++)
                {
                    seen = daemon.Gocker("exec", id, "sh", "-c", "cat /marker 2>/dev/null").Stdout.Trim();
                    if (seen != marker) Thread.Sleep(50);
                }
                Assert.Equal(marker, seen);
            }
            var mountPoint = Path.Combine(daemon.ExecRoot, "rootfs");
            Assert.True(Directory.Exists(mountPoint), mountPoint);
            Assert.Empty(Directory.GetFileSystemEntries(mountPoint));
            Assert.DoesNotContain(File.ReadAllLines("/proc/self/mountinfo"), l => l.Split(' ')[4] == mountPoint);
        }
        finally { daemon.Gocker(["rm", "-f", .. ids]); }
    }

    [Fact]
    public void Writes_go_to_the_container_layer_not_the_image()
    {
        var r = Run("busybox", "sh", "-c", "echo changed > /bin/marker && cat /bin/marker");
        Assert.Equal("changed\n", r.Stdout);
        var again = Run("busybox", "sh", "-c", "test -e /bin/marker && echo leaked || echo clean");
        Assert.Equal("clean\n", again.Stdout);
    }

    [Fact]
    public void Network_none_has_only_loopback_and_it_is_up()
    {
        var r = Run("--network", "none", "busybox", "sh", "-c", "ls /sys/class/net; cat /sys/class/net/lo/operstate; ip addr show lo | grep -c 127.0.0.1");
        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("lo", lines[0]);
        Assert.Equal("1", lines[^1]);
    }

    [Fact]
    public void Environment_is_the_image_default_plus_e_and_never_the_hosts()
    {
        var r = Run("-e", "FOO=bar baz", "-e", "EMPTY=", "busybox", "env");
        Assert.True(r.ExitCode == 0, r.ToString());
        var env = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("FOO=bar baz", env);
        Assert.Contains("EMPTY=", env);
        Assert.Contains(env, e => e.StartsWith("PATH=/"));
        Assert.DoesNotContain(env, e => e.Contains(daemon.Secret));
        Assert.DoesNotContain(env, e => e.StartsWith("GOCKER_HOST") || e.StartsWith("DOTNET_"));
    }

    [Fact]
    public void Working_dir_is_created_and_used()
    {
        var r = Run("-w", "/srv/app", "busybox", "pwd");
        Assert.Equal("/srv/app\n", r.Stdout);
    }

    [Fact]
    public void Only_descriptors_0_1_2_are_open()
    {
        // `; true` keeps sh as PID 1 (a last command would be exec'd and list its own dir fd).
        var r = Run("busybox", "sh", "-c", "ls /proc/1/fd; true");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal(["0", "1", "2"], r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void Volumes_bind_host_dirs_read_write_and_read_only()
    {
        var host = Directory.CreateTempSubdirectory("gocker-vol-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(host, "in.txt"), "from host");
            var rw = Run("-v", $"{host}:/data", "busybox", "sh", "-c", "cat /data/in.txt; echo from container > /data/out.txt");
            Assert.True(rw.ExitCode == 0, rw.ToString());
            Assert.Equal("from host", rw.Stdout);
            Assert.Equal("from container\n", File.ReadAllText(Path.Combine(host, "out.txt")));

            var ro = Run("-v", $"{host}:/data:ro", "busybox", "sh", "-c", "echo x > /data/nope");
            Assert.NotEqual(0, ro.ExitCode);
            Assert.Contains("Read-only file system", ro.Stderr);
            Assert.False(File.Exists(Path.Combine(host, "nope")));
        }
        finally { Directory.Delete(host, true); }
    }

    [Fact]
    public void Missing_host_dir_is_an_error_unless_create_is_asked()
    {
        var missing = Path.Combine(daemon.Root, "missing-" + Guid.NewGuid().ToString("N")[..6]);
        var r = Run("-v", $"{missing}:/data", "busybox", "true");
        Assert.True(r.ExitCode == 125, r.ToString());
        Assert.Contains("does not exist", r.Stderr);
        Assert.False(Directory.Exists(missing));

        var ok = Run("-v", $"{missing}:/data:create", "busybox", "sh", "-c", "echo hi > /data/f");
        Assert.True(ok.ExitCode == 0, ok.ToString());
        Assert.Equal("hi\n", File.ReadAllText(Path.Combine(missing, "f")));
    }

    [Fact]
    public void Volume_target_through_an_image_symlink_stays_inside_the_rootfs()
    {
        // An image whose /evil is a symlink to a host-looking path. The volume must land inside the
        // container's root (at /<target>/x of the rootfs), never on the host's path.
        var hostTarget = Path.Combine("/tmp", "gocker-escape-" + Guid.NewGuid().ToString("N")[..8]);
        var image = "escape" + Guid.NewGuid().ToString("N")[..6];
        var tar = Path.Combine(daemon.Root, image + ".tar");
        using (var fs = File.Create(tar))
        using (var w = new TarWriter(fs))
        {
            w.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "bin") { Mode = (UnixFileMode)0x1ED });
            var bb = new PaxTarEntry(TarEntryType.RegularFile, "bin/busybox") { Mode = (UnixFileMode)0x1ED, DataStream = File.OpenRead("/bin/busybox") };
            w.WriteEntry(bb);
            w.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "bin/sh") { LinkName = "busybox" });
            w.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "bin/ls") { LinkName = "busybox" });
            w.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "evil") { LinkName = hostTarget });
        }
        var src = Directory.CreateTempSubdirectory("gocker-vol-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(src, "marker"), "m");
            Assert.Equal(0, daemon.Gocker("image", "import", tar, image).ExitCode);
            var r = Run("-v", $"{src}:/evil/x", image, "/bin/sh", "-c", $"ls {hostTarget}/x");
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Equal("marker\n", r.Stdout);
            Assert.False(Directory.Exists(hostTarget), $"{hostTarget} was created on the host");
        }
        finally
        {
            Directory.Delete(src, true);
            if (Directory.Exists(hostTarget)) Directory.Delete(hostTarget, true);
            daemon.Gocker("rmi", image);
        }
    }

    [Fact]
    public void Memory_limit_oom_kills_and_is_reported()
    {
        var name = "oom-" + Guid.NewGuid().ToString("N")[..6];
        var r = daemon.Gocker("run", "--name", name, "-m", "16m", "busybox", "sh", "-c", "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived");
        Assert.True(r.ExitCode == 137, r.ToString());
        var inspect = daemon.Gocker("inspect", name);
        Assert.Contains("\"OOMKilled\": true", inspect.Stdout);
        Assert.Equal(0, daemon.Gocker("rm", name).ExitCode);
    }

    [Fact]
    public void Pids_limit_stops_fork_bombs()
    {
        var r = Run("--pids-limit", "5", "busybox", "sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do sleep 2 & done; wait; echo done");
        Assert.Contains("fork", r.Stderr, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Cpu_and_cpuset_limits_are_written_to_the_containers_cgroup()
    {
        var r = daemon.Gocker("run", "-d", "--cpus", "0.5", "--cpu-shares", "512", "--cpuset-cpus", "0", "-m", "64m", "busybox", "sleep", "30");
        Assert.True(r.ExitCode == 0, r.ToString());
        var id = r.Stdout.Trim();
        Assert.Equal(64, id.Length);
        try
        {
            var dirs = daemon.CgroupParentDirs().Select(d => Path.Combine(d, id)).Where(Directory.Exists).ToList();
            string Read(string file) => File.ReadAllText(dirs.Select(d => Path.Combine(d, file)).First(File.Exists)).Trim();
            Assert.Equal("50000", Read("cpu.cfs_quota_us"));
            Assert.Equal("512", Read("cpu.shares"));
            Assert.Equal("0", Read("cpuset.cpus"));
            Assert.Equal((64L * 1024 * 1024).ToString(), Read("memory.limit_in_bytes"));
            // Every container process is in the container's own cgroup.
            var procs = Read("cgroup.procs").Split('\n');
            Assert.NotEmpty(procs);
        }
        finally
        {
            Assert.Equal(0, daemon.Gocker("rm", "-f", id).ExitCode);
        }
    }

    [Theory]
    [InlineData(new[] { "--pull", "never", "no-such-image-xyz", "true" }, "No such image")]
    [InlineData(new[] { "--pull", "bogus", "busybox", "true" }, "invalid pull option")]
    [InlineData(new[] { "-m", "12x", "busybox", "true" }, "memory")]
    [InlineData(new[] { "--name", "bad/name", "busybox", "true" }, "name")]
    [InlineData(new[] { "-w", "relative", "busybox", "true" }, "working directory")]
    // Neither an absolute host path nor a volume name (Docker's message says to use an absolute path).
    [InlineData(new[] { "-v", "rel/ative:/x", "busybox", "true" }, "absolute")]
    public void Bad_input_exits_125_with_a_clear_error_and_leaves_nothing(string[] args, string message)
    {
        var r = Run(args);
        Assert.True(r.ExitCode == 125, r.ToString());
        Assert.Contains(message, r.Stderr, StringComparison.OrdinalIgnoreCase);
        Assert.Equal("", daemon.Gocker("ps", "-a", "-q").Stdout.Trim());
    }

    [Fact]
    public async Task Many_containers_start_in_parallel()
    {
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => Task.Run(() => Run("busybox", "sh", "-c", $"echo {i}"))));
        for (var i = 0; i < results.Length; i++)
        {
            Assert.True(results[i].ExitCode == 0, results[i].ToString());
            Assert.Equal($"{i}\n", results[i].Stdout);
        }
    }
}
