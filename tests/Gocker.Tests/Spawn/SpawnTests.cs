using Gocker.Syscalls.Spawn;

namespace Gocker.Tests.Spawn;

/// <summary>The spawner + gocker-init against the real kernel: what the command sees and what it leaves.</summary>
[Trait("Needs", "root")]
public class SpawnTests(BusyboxImage image) : IClassFixture<BusyboxImage>
{
    /// <summary>The spawner under test (ZygoteSpawnTests runs every test here through its pool).</summary>
    protected virtual ISpawner Spawner => TestContainer.Spawner;

    TestContainer Container(params string[] args) => new(image, args) { With = Spawner };

    [Fact]
    public async Task Echo_output_lands_in_the_stdout_file()
    {
        using var c = Container("echo", "hello");
        var r = await c.RunAsync();
        Assert.True(r.Exec.Ok, r.Exec.ToString());
        Assert.Equal(0, r.Exit.ExitCode);
        Assert.Equal("hello\n", r.Stdout);
        Assert.Equal("", r.Stderr);
    }

    [Fact]
    public async Task Stderr_goes_to_its_own_file()
    {
        using var c = Container("sh", "-c", "echo out; echo err >&2");
        var r = await c.RunAsync();
        Assert.Equal("out\n", r.Stdout);
        Assert.Equal("err\n", r.Stderr);
    }

    [Fact]
    public async Task Exit_code_is_reported()
    {
        using var c = Container("sh", "-c", "exit 3");
        var r = await c.RunAsync();
        Assert.True(r.Exec.Ok);
        Assert.Equal(ExitStatus.Exited(3), r.Exit);
    }

    [Fact]
    public async Task Killed_by_signal_is_128_plus_signal()
    {
        using var c = Container("sleep", "1000");
        var p = c.Spawn();
        Assert.True(p.Release().Ok);
        p.Signal(9);
        var exit = await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(137, exit.ExitCode);
        Assert.Equal(9, exit.Signal);
        p.Signal(9); // after the exit: no error (ESRCH is not a failure)
    }

    [Fact]
    public async Task Hostname_is_set()
    {
        using var c = Container("hostname");
        var r = await c.RunAsync();
        Assert.Equal(c.Spec.Hostname + "\n", r.Stdout);
    }

    [Fact]
    public async Task Command_is_pid_1()
    {
        using var c = Container("sh", "-c", "echo $$");
        var r = await c.RunAsync();
        Assert.Equal("1\n", r.Stdout);
    }

    [Fact]
    public async Task Ps_sees_only_the_containers_processes()
    {
        using var c = Container("sh", "-c", "ps -o pid,comm; true"); // "; true": sh forks ps instead of exec'ing it
        var r = await c.RunAsync();
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1)
            .Select(l => l.Trim().Split(' ', 2, StringSplitOptions.RemoveEmptyEntries)).ToList();
        Assert.Equal(2, lines.Count); // sh (PID 1) and ps
        Assert.Contains(lines, l => l[0] == "1" && l[1] == "sh");
        Assert.Contains(lines, l => l[1] == "ps");
    }

    [Fact]
    public async Task Command_holds_only_fds_0_1_2()
    {
        // PID 1 is sh here; list its descriptors from a child so the lister's own dir fd does not count.
        using var c = Container("sh", "-c", "ls /proc/1/fd; true");
        var r = await c.RunAsync();
        Assert.Equal(["0", "1", "2"], r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order());
    }

    [Fact]
    public async Task Signals_are_default_unblocked_and_caps_are_dockers_set()
    {
        using var c = Container("cat", "/proc/self/status");
        var r = await c.RunAsync();
        string Field(string name) => r.Stdout.Split('\n').Single(l => l.StartsWith(name + ":")).Split(':')[1].Trim();
        Assert.Equal("0000000000000000", Field("SigIgn"));
        Assert.Equal("0000000000000000", Field("SigBlk"));
        Assert.Equal("00000000a80425fb", Field("CapBnd"));
        Assert.Equal("00000000a80425fb", Field("CapEff"));
        Assert.Equal("0000000000000000", Field("CapAmb"));
    }

    [Fact]
    public async Task Root_is_the_overlay_and_writes_go_to_the_upper_dir()
    {
        using var c = Container("sh", "-c", "stat -f -c %t /; echo new > /etc/written; cat /etc/lower-marker; umount /proc 2>&1 || echo cannot-umount");
        var r = await c.RunAsync();
        var lines = r.Stdout.Split('\n');
        Assert.Equal("794c7630", lines[0]);
        Assert.Equal("from the image", lines[1]);
        Assert.Contains("cannot-umount", r.Stdout); // no CAP_SYS_ADMIN
        Assert.Equal("new\n", File.ReadAllText(Path.Combine(c.Upper, "etc", "written")));
        Assert.False(File.Exists(Path.Combine(image.Dir, "etc", "written")));
    }

    [Fact]
    public async Task Working_dir_is_created_and_entered()
    {
        using var c = Container("pwd");
        c.Spec = c.Spec with { WorkingDir = "/srv/app" };
        var r = await c.RunAsync();
        Assert.Equal("/srv/app\n", r.Stdout);
        Assert.True(Directory.Exists(Path.Combine(c.Upper, "srv", "app")));
    }

    [Fact]
    public async Task Dev_has_the_standard_nodes_and_loopback_is_up()
    {
        using var c = Container("sh", "-c", "echo x > /dev/null && head -c 4 /dev/zero | wc -c && ls /dev/pts && readlink /dev/fd && cat /sys/class/net/lo/operstate /sys/class/net/lo/flags");
        var r = await c.RunAsync();
        Assert.True(r.Exit.ExitCode == 0, r.Stderr);
        var lines = r.Stdout.Split('\n');
        Assert.Equal("4", lines[0].Trim());
        Assert.Equal("ptmx", lines[1]);
        Assert.Equal("/proc/self/fd", lines[2]);
        Assert.True((Convert.ToInt32(lines[4], 16) & 1) == 1, "lo is not up: " + r.Stdout);
    }

    [Fact]
    public async Task Host_global_kernel_paths_are_read_only_or_masked()
    {
        using var c = Container("sh", "-c",
            "echo 1 > /proc/sys/vm/drop_caches 2>/dev/null && echo sys-rw || echo sys-ro; " +
            "echo h > /proc/sysrq-trigger 2>/dev/null && echo sysrq-rw || echo sysrq-ro; " +
            "wc -c < /proc/timer_list; touch /proc/acpi/x 2>/dev/null && echo acpi-rw || echo acpi-ro; cat /proc/sys/kernel/ostype");
        Assert.True(new FileInfo("/proc/timer_list").Exists && File.ReadAllText("/proc/timer_list").Length > 0); // masked only in the container
        var r = await c.RunAsync();
        Assert.Equal("sys-ro\nsysrq-ro\n0\nacpi-ro\nLinux\n", r.Stdout.Replace(" ", ""));
    }

    [Fact]
    public async Task Stdin_file_is_fd_0()
    {
        using var c = Container("cat");
        File.WriteAllText(Path.Combine(c.Dir, "in.txt"), "fed in\n");
        File.WriteAllBytes(c.SpecPath, InitSpecJson.Serialize(c.Spec));
        using var p = Spawner.Spawn(new SpawnRequest(InitBinary.Path, c.SpecPath, c.StdoutPath, c.StderrPath, Path.Combine(c.Dir, "in.txt")));
        Assert.True(p.Release().Ok);
        Assert.Equal(0, (await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30))).ExitCode);
        Assert.Equal("fed in\n", File.ReadAllText(c.StdoutPath));
    }

    [Fact]
    public void Missing_init_binary_throws_naming_it_and_leaks_nothing()
    {
        using var c = Container("true");
        File.WriteAllBytes(c.SpecPath, InitSpecJson.Serialize(c.Spec));
        var missing = "/nonexistent-gocker-init-" + Guid.NewGuid().ToString("N");
        var e = Assert.ThrowsAny<Exception>(() => Spawner.Spawn(new SpawnRequest(missing, c.SpecPath, c.StdoutPath, c.StderrPath)));
        Assert.Contains(missing, e.Message);
        Assert.Contains("No such file", e.Message);
    }

    [Fact]
    public void Missing_stdout_directory_is_named_in_the_error()
    {
        using var c = Container("true");
        File.WriteAllBytes(c.SpecPath, InitSpecJson.Serialize(c.Spec));
        var bad = Path.Combine(c.Dir, "no-such-dir", "stdout.log");
        var e = Assert.ThrowsAny<Exception>(() => Spawner.Spawn(new SpawnRequest(InitBinary.Path, c.SpecPath, bad, c.StderrPath)));
        Assert.Contains(bad, e.Message);
    }

    [Fact]
    public async Task Missing_command_is_127_with_a_clear_message()
    {
        using var c = Container("no-such-cmd", "x");
        var r = await c.RunAsync();
        Assert.False(r.Exec.Ok);
        Assert.Equal(127, r.Exec.ExitCode);
        Assert.Equal("exec", r.Exec.Step);
        Assert.Equal("no-such-cmd: executable file not found in $PATH", r.Exec.Message);
        Assert.Equal(127, r.Exit.ExitCode);
    }

    [Fact]
    public async Task Non_executable_command_is_126()
    {
        using var c = Container("/etc/lower-marker");
        var r = await c.RunAsync();
        Assert.False(r.Exec.Ok);
        Assert.Equal(126, r.Exec.ExitCode);
        Assert.Contains("/etc/lower-marker", r.Exec.Message);
    }

    [Fact]
    public async Task Bad_lowerdir_fails_at_mount_overlay_and_leaves_no_process()
    {
        using var c = Container("true");
        c.Spec = c.Spec with { LowerDirs = ["/nonexistent-gocker-lower-" + Guid.NewGuid().ToString("N")] };
        var p = c.Spawn();
        var exec = p.Release();
        Assert.False(exec.Ok);
        Assert.Equal(125, exec.ExitCode);
        Assert.Equal("mount-overlay", exec.Step);
        Assert.Contains("No such file or directory", exec.Message);
        Assert.Contains("overlay", exec.Message);
        Assert.Equal(125, (await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30))).ExitCode);
        // Reaped: the pid is gone (or, at worst, reused by something that is not our init).
        var cmdline = $"/proc/{p.Pid}/cmdline";
        Assert.False(File.Exists(cmdline) && File.ReadAllText(cmdline).Contains("gocker-init"));
    }

    [Fact]
    public async Task Option_injection_in_overlay_paths_is_refused()
    {
        using var c = Container("true");
        c.Spec = c.Spec with { LowerDirs = [image.Dir + ",upperdir=/etc"] };
        var r = await c.RunAsync();
        Assert.False(r.Exec.Ok);
        Assert.Equal("mount-overlay", r.Exec.Step);
        Assert.Contains("forbidden character", r.Exec.Message);
    }

    [Fact]
    public async Task Unreleased_init_exits_125_without_running_the_command()
    {
        using var c = Container("sh", "-c", "echo ran");
        var p = c.Spawn();
        var exit = p.WaitForExitAsync();
        p.Dispose(); // closes the go pipe
        Assert.Equal(125, (await exit.WaitAsync(TimeSpan.FromSeconds(30))).ExitCode);
        Assert.Equal("", File.ReadAllText(c.StdoutPath));
    }

    // ---- seccomp and no_new_privs (the init installs what the daemon compiled) ----------------

    static byte[] DefaultSeccomp => Gocker.Syscalls.Security.SeccompCompiler.Compile(
        Gocker.Syscalls.Security.SeccompProfile.Default, Gocker.Syscalls.Security.CapabilitySet.DockerDefault);

    const string SeccompProbe =
        "grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status; id -u; unshare -U true 2>/dev/null && echo UNSHARED; echo end";

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Seccomp_filter_is_installed_and_the_init_still_drops_to_the_user(bool noNewPrivs)
    {
        // Without no_new_privs the filter goes in before capset/setgroups/setgid/setuid: the default
        // profile must let the init finish (a user other than root proves setuid ran under it).
        using var c = Container("sh", "-c", SeccompProbe);
        c.Spec = c.Spec with { Seccomp = DefaultSeccomp, NoNewPrivileges = noNewPrivs, User = "1000:1000" };
        var r = await c.RunAsync();
        Assert.True(r.Exec.Ok, r.Exec.ToString());
        Assert.Equal($"NoNewPrivs:\t{(noNewPrivs ? 1 : 0)}\nSeccomp:\t2\n1000\nend\n", r.Stdout);
    }

    [Fact]
    public async Task No_new_privileges_without_seccomp_leaves_the_command_unfiltered()
    {
        using var c = Container("sh", "-c", "grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status");
        c.Spec = c.Spec with { NoNewPrivileges = true };
        var r = await c.RunAsync();
        Assert.True(r.Exec.Ok, r.Exec.ToString());
        Assert.Equal("NoNewPrivs:\t1\nSeccomp:\t0\n", r.Stdout);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_program_the_kernel_refuses_fails_the_start_at_step_seccomp(bool noNewPrivs)
    {
        using var c = Container("sh", "-c", "echo ran");
        // One instruction with an opcode the BPF checker rejects (0xffff): seccomp(2) says EINVAL.
        c.Spec = c.Spec with { Seccomp = [0xff, 0xff, 0, 0, 0, 0, 0, 0], NoNewPrivileges = noNewPrivs };
        var r = await c.RunAsync();
        Assert.False(r.Exec.Ok);
        Assert.Equal("seccomp", r.Exec.Step);
        Assert.Contains("SECCOMP_SET_MODE_FILTER", r.Exec.Message);
        Assert.Equal(125, r.Exit.ExitCode);
        Assert.Equal("", r.Stdout);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task The_filter_is_in_force_at_the_execve(bool noNewPrivs)
    {
        var profile = Gocker.Syscalls.Security.SeccompProfile.Parse(
            """{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["execve"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}""");
        using var c = Container("sh", "-c", "echo ran");
        c.Spec = c.Spec with { Seccomp = Gocker.Syscalls.Security.SeccompCompiler.Compile(profile, 0), NoNewPrivileges = noNewPrivs };
        var r = await c.RunAsync();
        Assert.False(r.Exec.Ok);
        Assert.Equal("exec", r.Exec.Step);
        Assert.Equal(126, r.Exec.ExitCode);
        Assert.Contains("ermission denied", r.Exec.Message);
    }
}
