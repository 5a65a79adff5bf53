namespace Gocker.Tests.Integration;

/// <summary>A daemon whose supervision policies the fault tests rely on: cgroup faults retried,
/// spawn and mount faults torn down.</summary>
[Trait("Needs", "root")]
public sealed class FaultDaemon : IDisposable
{
    public DaemonFixture D { get; } = new("""
        gocker.supervision {
          cgroup { decision = retry, max-retries = 3, backoff = 20ms, max-backoff = 200ms }
          spawn { decision = teardown }
          mount { decision = teardown }
        }
        """);

    public void Dispose() => D.Dispose();
}

/// <summary>gocker debug inject-fault through the real console and daemon: each injected fault ends
/// in the configured outcome, and nothing is left behind.</summary>
[Trait("Needs", "root")]
public sealed class FaultInjectionTests(FaultDaemon fd) : IClassFixture<FaultDaemon>, IDisposable
{
    readonly DaemonFixture _d = fd.D;
    readonly List<string> _created = [];

    /// <summary>A failed test must not leave its container to fail the next one's leak check.</summary>
    public void Dispose()
    {
        foreach (var id in _created) _d.Gocker("rm", "-f", id);
    }

    string Ok(params string[] args)
    {
        var r = _d.Gocker(args);
        Assert.True(r.ExitCode == 0, $"gocker {string.Join(' ', args)}: {r}\n--- daemon\n{_d.DaemonLog}");
        if (args[0] == "create") _created.Add(r.Stdout.Trim());
        return r.Stdout.Trim();
    }

    /// <summary>After a failed start, before `rm`: no cgroup, no run dir, no mount of the container.</summary>
    void AssertStartLeftNothing(string id)
    {
        foreach (var dir in _d.CgroupParentDirs())
            Assert.False(Directory.Exists(Path.Combine(dir, id)), $"cgroup left: {dir}/{id}");
        Assert.False(Directory.Exists(Path.Combine(_d.ExecRoot, "containers", id)), "run dir left");
        var mounts = File.ReadAllLines("/proc/self/mountinfo").Where(l => l.Contains(_d.Root)).ToList();
        Assert.True(mounts.Count == 0, "mounts left:\n" + string.Join('\n', mounts));
        _d.AssertNoNetworkLeaks();
    }

    [Fact]
    public void A_cgroup_write_fault_is_retried_and_the_container_starts_anyway()
    {
        var id = Ok("create", "--network", "none", "busybox", "echo", "survived");
        Assert.Contains("fault cgroup-write armed for " + id[..12], Ok("debug", "inject-fault", id, "cgroup-write"));
        var start = _d.Gocker("start", "-a", id);
        Assert.True(start.ExitCode == 0, start + "\n" + _d.DaemonLog);
        Assert.Equal("survived", start.Stdout.Trim());
        // The retry is logged by the daemon (and published as a "fault" event).
        var logged = $"container {id[..12]}: cgroup-create failed (attempt 1): injected fault: cgroup-write";
        Assert.Contains(logged, _d.DaemonLogWith(logged));
        Assert.Contains("retrying in 20 ms", _d.DaemonLog);
        Ok("rm", id);
        _d.AssertNoLeaks();
    }

    [Fact]
    public void A_spawn_fault_under_teardown_fails_the_start_with_the_fault_named_and_leaks_nothing()
    {
        var id = Ok("create", "busybox", "true");
        Ok("debug", "inject-fault", "--count", "1", id, "spawn");
        var start = _d.Gocker("start", id);
        Assert.NotEqual(0, start.ExitCode);
        Assert.Contains("spawn: injected fault: spawn (gocker debug inject-fault)", start.Stderr);
        AssertStartLeftNothing(id);
        Assert.Contains("spawn: injected fault: spawn", Ok("inspect", id)); // State.Error
        Ok("rm", id);
        _d.AssertNoLeaks();
    }

    [Fact]
    public void A_mount_fault_fails_the_start_at_the_mount_step_and_the_next_start_works()
    {
        // Default (bridge) network: the failed start also gives its endpoint back.
        var id = Ok("create", "busybox", "echo", "second");
        Ok("debug", "inject-fault", id, "mount");
        var start = _d.Gocker("start", "-a", id);
        Assert.True(start.ExitCode == 125 && start.Stderr.Contains("mount-overlay: injected fault: mount"), start + "\n" + _d.DaemonLog);
        AssertStartLeftNothing(id);

        // (start -a is refused on an exited container, as before this change: start, wait, logs.)
        Ok("start", id);
        Assert.Equal("0", Ok("wait", id));
        Assert.Equal("second", Ok("logs", id));
        Ok("rm", id);
        _d.AssertNoLeaks();
    }

    [Fact]
    public void The_hocon_switch_arms_a_fault_daemon_wide()
    {
        using var d = new DaemonFixture("""
            gocker.supervision.spawn.decision = teardown
            gocker.faults { spawn = 1 }
            """);
        var first = d.Gocker("run", "--rm", "--network", "none", "busybox", "echo", "one");
        Assert.True(first.ExitCode == 125 && first.Stderr.Contains("spawn: injected fault: spawn"), first.ToString());
        var second = d.Gocker("run", "--rm", "--network", "none", "busybox", "echo", "two");
        Assert.True(second.ExitCode == 0 && second.Stdout.Trim() == "two", second + "\n" + d.DaemonLog);
        d.AssertNoLeaks();
    }

    [Fact]
    public void Inject_fault_refuses_unknown_containers_and_kinds()
    {
        var r = _d.Gocker("debug", "inject-fault", "no-such-container", "spawn");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("no-such-container", r.Stderr);
        var k = _d.Gocker("debug", "inject-fault", "x", "disk");
        Assert.Equal(125, k.ExitCode);
        Assert.Contains("disk", k.Stderr);
    }
}
