using System.Text.Json.Nodes;
using Gocker.Tests.Images;

namespace Gocker.Tests.Integration;

/// <summary>
/// `--init`, `--stop-signal`/`--stop-timeout` (and `stop -s`), and `-t`'s TERM, through the real console
/// and daemon. Busybox's `sleep` as PID 1 ignores SIGTERM (a PID 1 without a handler does), which is
/// what makes --init observable: with it the TERM reaches sleep, which dies of it (143); without it
/// only the SIGKILL at the end of the grace period ends the container (137).
/// </summary>
[Trait("Needs", "root")]
public sealed class ProcessOptionsTests(DaemonFixture daemon) : IClassFixture<DaemonFixture>, IDisposable
{
    public void Dispose() => daemon.AssertNoLeaks();

    string Ok(params string[] args)
    {
        var r = daemon.Gocker(args);
        Assert.True(r.ExitCode == 0, $"gocker {string.Join(' ', args)}: {r}");
        return r.Stdout.Trim();
    }

    JsonNode Inspect(string id) => JsonNode.Parse(Ok("inspect", id))!.AsArray()[0]!;
    int ExitCode(string id) => Inspect(id)["State"]!["ExitCode"]!.GetValue<int>();

    void WaitFor(Func<bool> cond, string what, int seconds = 60)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!cond())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{what}\n{daemon.Gocker("ps", "-a")}");
            Thread.Sleep(50);
        }
    }

    [Fact]
    public void With_init_a_stop_reaches_a_sleep_as_pid_1_without_init_only_the_kill_does()
    {
        var plain = Ok("run", "-d", "--network", "none", "busybox", "sleep", "1000");
        Ok("stop", "-t", "1", plain);
        Assert.Equal(137, ExitCode(plain)); // TERM ignored by sleep as PID 1: killed at the end of the grace time

        var init = Ok("run", "-d", "--network", "none", "--init", "busybox", "sleep", "1000");
        Assert.True(Inspect(init)["HostConfig"]!["Init"]!.GetValue<bool>());
        // A grace time no test waits out: only the forwarded TERM can end it in time.
        Ok("stop", "-t", "600", init);
        Assert.Equal(143, ExitCode(init));
        Ok("rm", plain, init);
    }

    [Fact]
    public void With_init_the_command_is_pid_1s_child_and_its_exit_status_passes_through()
    {
        var r = daemon.Gocker("run", "--rm", "--network", "none", "--init", "busybox", "sh", "-c", "cat /proc/1/comm; echo $$; exit 7");
        Assert.Equal(7, r.ExitCode);
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("gocker-init", lines[0]);
        Assert.NotEqual("1", lines[1]);
        // Killed by signal n: 128 + n, as tini (and a PID 1 killed by the kernel) report it.
        Assert.Equal(138, daemon.Gocker("run", "--rm", "--network", "none", "--init", "busybox", "sh", "-c", "kill -USR1 $$").ExitCode);
        // A command that cannot be found still fails the start as without --init.
        var missing = daemon.Gocker("run", "--rm", "--network", "none", "--init", "busybox", "no-such-command");
        Assert.Equal(127, missing.ExitCode);
        Assert.Contains("no-such-command", missing.Stderr);
    }

    /// <summary>States of the container's processes, from its own /proc ("S", "Z", ...).</summary>
    string[] States(string id) =>
        Ok("exec", id, "sh", "-c", "cat /proc/[0-9]*/stat").Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l[(l.LastIndexOf(')') + 2)..].Split(' ')[0]).ToArray();

    [Fact]
    public void With_init_orphans_are_reaped_without_it_they_stay_zombies()
    {
        // The orphan's parent exits at once, so it is reparented to PID 1; it exits only once the test
        // says so, long after PID 1 became `sleep` (or stayed gocker-init).
        const string script = "(sh -c 'while [ ! -e /tmp/go ]; do sleep 0.05; done' &); (sh -c 'while [ ! -e /tmp/go ]; do sleep 0.05; done' &); exec sleep 1000";
        var plain = Ok("run", "-d", "--network", "none", "busybox", "sh", "-c", script);
        var init = Ok("run", "-d", "--network", "none", "--init", "busybox", "sh", "-c", script);
        Ok("exec", plain, "touch", "/tmp/go");
        Ok("exec", init, "touch", "/tmp/go");
        WaitFor(() => States(plain).Count(s => s == "Z") == 2, "two zombies under sleep as PID 1");
        // With init: the orphans are gone entirely (reaped); left are the init, sleep, and the exec'd shell.
        WaitFor(() => States(init) is { Length: 3 } s && !s.Contains("Z"), "orphans reaped by the init");
        Ok("rm", "-f", plain, init);
    }

    [Fact]
    public void The_stop_signal_and_timeout_are_the_containers_and_stop_s_overrides_them()
    {
        // sh as PID 1 ignores TERM; with USR1 as its stop signal the trap runs.
        var usr1 = Ok("run", "-d", "--network", "none", "--stop-signal", "SIGUSR1", "busybox", "sh", "-c", "trap 'exit 42' USR1; while true; do sleep 0.1; done");
        Assert.Equal("SIGUSR1", Inspect(usr1)["Config"]!["StopSignal"]!.ToString());
        Ok("stop", "-t", "600", usr1);
        Assert.Equal(42, ExitCode(usr1));

        // stop -s: this signal instead, whatever the container's.
        var byCli = Ok("run", "-d", "--network", "none", "busybox", "sh", "-c", "trap 'exit 43' USR2; while true; do sleep 0.1; done");
        Ok("stop", "-t", "600", "-s", "USR2", byCli);
        Assert.Equal(43, ExitCode(byCli));

        // --stop-timeout 0: KILL at once, before the trap (deferred until its sleep ends) can run;
        // the same container without it exits through its trap.
        const string slowTrap = "trap 'exit 3' TERM; while true; do sleep 5; done";
        var zero = Ok("run", "-d", "--network", "none", "--stop-timeout", "0", "busybox", "sh", "-c", slowTrap);
        Assert.Equal(0, Inspect(zero)["Config"]!["StopTimeout"]!.GetValue<int>());
        Ok("stop", zero);
        Assert.Equal(137, ExitCode(zero));
        var trapped = Ok("run", "-d", "--network", "none", "busybox", "sh", "-c", slowTrap);
        Ok("stop", "-t", "600", trapped);
        Assert.Equal(3, ExitCode(trapped));

        // restart uses the stop signal too.
        var restarted = Ok("run", "-d", "--network", "none", "--stop-signal", "USR1", "busybox", "sh", "-c", "trap 'exit 42' USR1; while true; do sleep 0.1; done");
        Ok("restart", "-t", "600", restarted);
        Assert.Equal("running", Inspect(restarted)["State"]!["Status"]!.ToString());

        // An unknown signal is refused at create, by name.
        var bad = daemon.Gocker("create", "--stop-signal", "NOPE", "busybox", "true");
        Assert.Equal(125, bad.ExitCode);
        Assert.Contains("Invalid stop signal: NOPE", bad.Stderr);
        Ok("rm", "-f", usr1, byCli, zero, trapped, restarted);
    }

    [Fact]
    public void Kill_with_the_stop_signal_counts_as_a_stop_by_hand()
    {
        var id = Ok("run", "-d", "--network", "none", "--restart", "always", "--stop-signal", "USR1", "busybox", "sh", "-c", "trap 'exit 42' USR1; while true; do sleep 0.1; done");
        Ok("kill", "-s", "USR1", id);
        WaitFor(() => Inspect(id)["State"]!["Status"]!.ToString() == "exited", "exited after kill -s USR1");
        var j = Inspect(id);
        Assert.True(j["State"]!["GockerManuallyStopped"]!.GetValue<bool>());
        Assert.Equal(0, j["RestartCount"]!.GetValue<int>());
        Ok("rm", id);
    }

    [Fact]
    public void The_images_stop_signal_is_the_default_and_the_flag_wins()
    {
        var layers = ImageArchives.ThreeLayers(withBusybox: true);
        var config = ImageArchives.Config(layers, cmd: ["sh"]);
        config["config"]!["StopSignal"] = "SIGUSR2";
        var name = "it-stopsig-" + Guid.NewGuid().ToString("N")[..6];
        var path = Path.Combine(daemon.Root, name + ".tar");
        File.WriteAllBytes(path, ImageArchives.DockerSave(layers, config, [name]));
        Ok("load", "-i", path);
        var fromImage = Ok("create", name, "true");
        Assert.Equal("SIGUSR2", Inspect(fromImage)["Config"]!["StopSignal"]!.ToString());
        var fromFlag = Ok("create", "--stop-signal", "HUP", name, "true");
        Assert.Equal("HUP", Inspect(fromFlag)["Config"]!["StopSignal"]!.ToString());
        Ok("rm", fromImage, fromFlag);
        Ok("rmi", name);
    }

    [Fact]
    public void A_group_stop_uses_the_members_stop_signal_and_reaches_an_init()
    {
        var g = "ps-" + Guid.NewGuid().ToString("N")[..6];
        var t0 = DateTimeOffset.UtcNow.AddSeconds(-1).ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        Ok("group", "create", g, "--strategy", "one-for-all", "--max-restarts", "5", "--within", "60s");
        var shared = Path.Combine(daemon.Root, "shared-" + g);
        Directory.CreateDirectory(shared);
        // Neither would stop on the group's default SIGTERM before the daemon's 10 s grace time ends:
        // one is a sleep as PID 1 (with --init), the other a shell that exits only on USR1.
        var withInit = Ok("run", "-d", "--network", "none", "--group", g, "--init", "busybox", "sleep", "1000");
        var withSignal = Ok("run", "-d", "--network", "none", "--group", g, "--stop-signal", "USR1", "busybox", "sh", "-c", "trap 'exit 0' USR1; while true; do sleep 0.1; done");
        var failing = Ok("run", "-d", "--network", "none", "--group", g, "-v", shared + ":/t", "busybox", "sh", "-c",
            "trap 'exit 0' TERM; while true; do if [ -e /t/fail ]; then rm -f /t/fail; exit 1; fi; sleep 0.1; done");
        WaitFor(() => JsonNode.Parse(Ok("group", "inspect", g))!.AsArray()[0]!["Members"]!.AsArray().Count == 3, "three members");
        File.WriteAllText(Path.Combine(shared, "fail"), "");
        WaitFor(() => new[] { withInit, withSignal, failing }.All(id => Inspect(id)["RestartCount"]!.GetValue<int>() == 1
            && Inspect(id)["State"]!["Status"]!.ToString() == "running"), "all three restarted by the group");
        var dies = Ok("events", "--since", t0, "--until", "0s", "--filter", "event=die", "--format", "{{.ID}} {{.Actor.Attributes.exitCode}}");
        Assert.Contains($"{withInit} 143", dies);  // TERM forwarded by the init to sleep
        Assert.Contains($"{withSignal} 0", dies);  // USR1, its stop signal, ran its trap
        Ok("rm", "-f", withInit, withSignal, failing);
        Ok("group", "rm", g);
    }

    [Fact]
    public void A_tty_gets_term_xterm_unless_the_environment_sets_it()
    {
        Assert.Equal("xterm", Ok("run", "--rm", "--network", "none", "-t", "busybox", "sh", "-c", "echo $TERM"));
        Assert.Equal("vt100", Ok("run", "--rm", "--network", "none", "-t", "-e", "TERM=vt100", "busybox", "sh", "-c", "echo $TERM"));
        Assert.Equal("[]", Ok("run", "--rm", "--network", "none", "busybox", "sh", "-c", "echo [$TERM]"));
    }
}
