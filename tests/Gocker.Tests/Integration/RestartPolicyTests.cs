using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Gocker.Tests.Integration;

/// <summary>Restart policies through the real console and daemon, with real containers.</summary>
[Trait("Needs", "root")]
public sealed class RestartPolicyTests : IDisposable
{
    readonly LifecycleDaemon _d = new();

    public void Dispose() => _d.Dispose();

    JsonNode Inspect(string id) => JsonNode.Parse(_d.Ok("inspect", id))!.AsArray()[0]!;

    static void WaitFor(Func<bool> cond, string what, int seconds = 60)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!cond())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException(what);
            Thread.Sleep(50);
        }
    }

    static string Status(JsonNode j) => j["State"]!["Status"]!.ToString();
    static int Restarts(JsonNode j) => j["RestartCount"]!.GetValue<int>();

    [Fact]
    public void On_failure_3_restarts_exactly_three_times_with_growing_delays_then_stays_exited()
    {
        var id = _d.Ok("run", "-d", "--network", "none", "--restart", "on-failure:3", "--restart-delay", "200ms",
            "--restart-multiplier", "3", "busybox", "sh", "-c", "cut -d' ' -f1 /proc/uptime; exit 1");
        JsonNode j = null!;
        WaitFor(() => Status(j = Inspect(id)) == "exited" && Restarts(j) == 3, "three restarts then exited");
        Assert.Equal(1, j["State"]!["ExitCode"]!.GetValue<int>());
        Assert.Equal("on-failure", j["HostConfig"]!["RestartPolicy"]!["Name"]!.ToString());
        Assert.Equal(3, j["HostConfig"]!["RestartPolicy"]!["MaximumRetryCount"]!.GetValue<int>());
        Assert.Equal(200, j["HostConfig"]!["GockerRestartBackoff"]!["DelayMs"]!.GetValue<long>());
        Assert.Null(j["State"]!["GockerNextRestartAt"]);
        // It stays down.
        Thread.Sleep(1000);
        j = Inspect(id);
        Assert.Equal("exited", Status(j));
        Assert.Equal(3, Restarts(j));

        // One output line per run (busybox's date has no %N: /proc/uptime, 10 ms steps): four runs,
        // each starting at least its delay after the previous one.
        var starts = _d.Ok("logs", id).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => (long)(double.Parse(l, System.Globalization.CultureInfo.InvariantCulture) * 1000)).ToList();
        Assert.Equal(4, starts.Count);
        var gapsMs = starts.Zip(starts.Skip(1), (a, b) => b - a).ToList();
        // Lower bounds only (a restart never comes before its delay): a loaded machine may stretch any
        // gap, so comparing the gaps with each other would measure the machine, not the backoff.
        Assert.True(gapsMs[0] >= 190 && gapsMs[1] >= 590 && gapsMs[2] >= 1790, string.Join(",", gapsMs));
        _d.Ok("rm", id);
        _d.AssertNoLeaks();
    }

    [Fact]
    public void Always_keeps_restarting_and_stop_ends_it_for_good()
    {
        var id = _d.Ok("run", "-d", "--network", "none", "--restart", "always", "--restart-delay", "20ms",
            "--restart-max-delay", "100ms", "busybox", "sh", "-c", "sleep 0.05; exit 0");
        WaitFor(() => Restarts(Inspect(id)) >= 4, "four restarts of an always container exiting 0");
        _d.Ok("stop", "-t", "1", id);
        var j = Inspect(id);
        Assert.Equal("exited", Status(j));
        Assert.True(j["State"]!["GockerManuallyStopped"]!.GetValue<bool>());
        var count = Restarts(j);
        Thread.Sleep(1000);
        j = Inspect(id);
        Assert.Equal("exited", Status(j));
        Assert.Equal(count, Restarts(j));
        // A start by hand is a fresh start: the count starts over and the policy applies again.
        _d.Ok("start", id);
        WaitFor(() => Restarts(Inspect(id)) >= 1, "the policy applies again after a start by hand");
        _d.Ok("rm", "-f", id);
        _d.AssertNoLeaks();
    }

    [Fact]
    public void A_container_waiting_to_restart_shows_in_ps_and_inspect_and_start_starts_it_now()
    {
        var name = "wait" + Guid.NewGuid().ToString("N")[..6];
        var id = _d.Ok("run", "-d", "--network", "none", "--name", name, "--restart", "always", "--restart-delay", "1m",
            "busybox", "sh", "-c", "test -e /tmp/again && exec sleep 1000; touch /tmp/again; exit 4");
        JsonNode j = null!;
        WaitFor(() => Status(j = Inspect(id)) == "restarting", "restarting");
        Assert.True(j["State"]!["Restarting"]!.GetValue<bool>());
        Assert.Equal(4, j["State"]!["ExitCode"]!.GetValue<int>());
        Assert.Equal(1, Restarts(j));
        var next = DateTimeOffset.Parse(j["State"]!["GockerNextRestartAt"]!.ToString());
        Assert.True(next > DateTimeOffset.UtcNow.AddSeconds(30), next.ToString("O"));
        Assert.StartsWith("Restarting (4) ", _d.Ok("ps", "--filter", "name=" + name, "--format", "{{.Status}}"));
        Assert.Contains("restarting", _d.Gocker("rm", id).Stderr);

        _d.Ok("start", id);
        j = Inspect(id);
        Assert.Equal("running", Status(j));
        Assert.Equal(1, Restarts(j));
        _d.Ok("rm", "-f", id);
        _d.AssertNoLeaks();
    }

    [Fact]
    public void Unless_stopped_and_always_across_a_daemon_restart()
    {
        string Run(string policy) => _d.Ok("run", "-d", "--network", "none", "--restart", policy, "busybox", "sleep", "1000");
        var stoppedUnless = Run("unless-stopped");
        var diedUnless = Run("unless-stopped");
        var stoppedAlways = Run("always");
        _d.Ok("stop", "-t", "0", stoppedUnless, stoppedAlways);
        var pid = Inspect(diedUnless)["State"]!["Pid"]!.GetValue<int>();
        _d.Kill9();
        // It dies while no daemon watches.
        Process.GetProcessById(pid).Kill();
        WaitFor(() => ProcState.Gone(pid), "container death");
        _d.Start();

        WaitFor(() => Status(Inspect(diedUnless)) == "running", "unless-stopped container that was not stopped comes back");
        Assert.Equal(1, Restarts(Inspect(diedUnless)));
        WaitFor(() => Status(Inspect(stoppedAlways)) == "running", "always container comes back even stopped by hand");
        var j = Inspect(stoppedUnless);
        Assert.Equal("exited", Status(j));
        Assert.True(j["State"]!["GockerManuallyStopped"]!.GetValue<bool>());
        _d.Ok("rm", "-f", stoppedUnless, diedUnless, stoppedAlways);
        _d.AssertNoLeaks();
    }

    [Fact]
    public void An_oom_killed_container_is_restarted_under_on_failure_and_flagged()
    {
        var id = _d.Ok("run", "-d", "--network", "none", "-m", "8m", "--restart", "on-failure:1", "--restart-delay", "10ms",
            "busybox", "sh", "-c", "tail /dev/zero");
        JsonNode j = null!;
        WaitFor(() => Status(j = Inspect(id)) == "exited" && Restarts(j) == 1, "OOM kill, one restart, OOM kill");
        Assert.True(j["State"]!["OOMKilled"]!.GetValue<bool>());
        Assert.Equal(137, j["State"]!["ExitCode"]!.GetValue<int>());
        // One oom per run (each run's kill counted in its own cgroup, reported once), each before its die.
        var actions = _d.Ok("events", "--since", "1h", "--until", "0s", "--filter", "container=" + id, "--format", "{{.Action}}")
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(a => a is "oom" or "die").ToArray();
        Assert.Equal(["oom", "die", "oom", "die"], actions);
        _d.Ok("rm", id);
        _d.AssertNoLeaks();
    }

    [Fact]
    public void Bad_restart_flags_are_refused()
    {
        Assert.Contains("cannot specify both --restart and --rm", _d.Gocker("run", "--rm", "--restart", "always", "busybox", "true").Stderr);
        Assert.Contains("invalid restart policy", _d.Gocker("run", "--restart", "sometimes", "busybox", "true").Stderr);
        Assert.Contains("--restart-jitter", _d.Gocker("run", "--restart", "always", "--restart-jitter", "2", "busybox", "true").Stderr);
        var r = _d.Gocker("create", "--restart", "always", "--restart-delay", "2s", "--restart-max-delay", "1s", "busybox", "true");
        Assert.Equal(125, r.ExitCode);
        Assert.Contains("MaxDelayMs", r.Stderr);
        _d.AssertNoLeaks();
    }
}
