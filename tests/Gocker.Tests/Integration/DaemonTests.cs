using System.Diagnostics;

namespace Gocker.Tests.Integration;

[Trait("Needs", "root")]
public sealed class DaemonTests(DaemonFixture daemon) : IClassFixture<DaemonFixture>
{
    static (int Code, string Out) RunProcess(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(30_000)) { p.Kill(); throw new TimeoutException(file); }
        return (p.ExitCode, output.Result + error.Result);
    }

    [Fact]
    public void Socket_is_mode_0660()
    {
        var mode = File.GetUnixFileMode(daemon.Socket);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite, mode);
    }

    [Fact]
    public void Version_reports_the_cgroup_mode()
    {
        var r = daemon.Gocker("version");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Matches("(?i)(v1|v2|hybrid)", r.Stdout);
    }

    [Fact]
    public void Console_says_how_to_start_the_daemon_when_it_is_absent()
    {
        var (code, output) = RunProcess(GockerBinaries.Gocker, "-H", "unix:///tmp/gocker-nowhere.sock", "ps");
        Assert.NotEqual(0, code);
        Assert.Contains("gockerd", output);
        Assert.Contains("/tmp/gocker-nowhere.sock", output);
        var env = new ProcessStartInfo(GockerBinaries.Gocker) { RedirectStandardError = true, RedirectStandardOutput = true };
        env.ArgumentList.Add("ps");
        env.Environment["GOCKER_HOST"] = "unix:///tmp/gocker-elsewhere.sock";
        using var p = Process.Start(env)!;
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.Contains("/tmp/gocker-elsewhere.sock", err);
    }

    [Fact]
    public void A_second_daemon_on_the_same_socket_is_refused()
    {
        var (code, output) = RunProcess(GockerBinaries.Gockerd, "--data-root", daemon.DataRoot + "-2", "--exec-root", daemon.ExecRoot + "-2",
            "-H", "unix://" + daemon.Socket, "--cgroup-parent", daemon.CgroupParent + "-2");
        Assert.NotEqual(0, code);
        Assert.Contains("already", output);
        Assert.True(daemon.Ping());
    }

    [Fact]
    public void Bad_daemon_flags_are_rejected_with_the_flag_named()
    {
        var (code, output) = RunProcess(GockerBinaries.Gockerd, "--data-root", "relative/dir");
        Assert.NotEqual(0, code);
        Assert.Contains("--data-root", output);
        (code, output) = RunProcess(GockerBinaries.Gockerd, "--cgroup-parent", "../escape", "-H", "unix:///tmp/gocker-never.sock");
        Assert.NotEqual(0, code);
        Assert.Contains("--cgroup-parent", output);
    }

    [Fact]
    public void Two_daemons_run_side_by_side_without_seeing_each_other()
    {
        using var other = new DaemonFixture();
        var a = daemon.Gocker("run", "-d", "--name", "side", "busybox", "sleep", "30");
        Assert.True(a.ExitCode == 0, a.ToString());
        try
        {
            var b = other.Gocker("run", "-d", "--name", "side", "busybox", "sleep", "30");
            Assert.True(b.ExitCode == 0, b.ToString());
            Assert.Single(other.Gocker("ps", "-q").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Single(daemon.Gocker("ps", "-q").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Equal(0, other.Gocker("rm", "-f", "side").ExitCode);
            other.AssertNoLeaks();
            // The first daemon's container is untouched.
            Assert.Contains("Up", daemon.Gocker("ps").Stdout);
        }
        finally
        {
            Assert.Equal(0, daemon.Gocker("rm", "-f", "side").ExitCode);
        }
        daemon.AssertNoLeaks();
    }

    [Fact]
    public void Config_file_sets_default_limits_and_flags_still_win()
    {
        using var configured = new DaemonFixture("""
            gocker {
              cgroup-parent = "ignored-because-the-flag-wins"
              default-limits { pids-limit = 42, memory = 33554432 }
            }
            """);
        var r = configured.Gocker("run", "-d", "busybox", "sleep", "30");
        Assert.True(r.ExitCode == 0, r.ToString());
        var id = r.Stdout.Trim();
        try
        {
            var dirs = configured.CgroupParentDirs().Select(d => Path.Combine(d, id)).Where(Directory.Exists).ToList();
            string Read(string file) => File.ReadAllText(dirs.Select(d => Path.Combine(d, file)).First(File.Exists)).Trim();
            Assert.Equal("42", Read("pids.max"));
            Assert.Equal("33554432", Read("memory.limit_in_bytes"));
            Assert.False(Directory.Exists("/sys/fs/cgroup/memory/ignored-because-the-flag-wins"));
        }
        finally { Assert.Equal(0, configured.Gocker("rm", "-f", id).ExitCode); }
        configured.AssertNoLeaks();
    }
}
