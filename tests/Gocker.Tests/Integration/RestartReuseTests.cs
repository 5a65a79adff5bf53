using System.Text.Json.Nodes;

namespace Gocker.Tests.Integration;

/// <summary>
/// The restart path's shortcut (ContainerActor.Restart.cs): a run the policy starts again leaves its
/// cgroup and run dir to the next run. The kept cgroup is one directory per hierarchy, it is gone
/// once the container is removed or stopped while waiting, and an OOM kill is charged to the run it
/// happened in, never to the one after.
/// </summary>
[Trait("Needs", "root")]
public sealed class RestartReuseTests : IDisposable
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
            Thread.Sleep(20);
        }
    }

    static string Status(JsonNode j) => j["State"]!["Status"]!.ToString();
    static int Restarts(JsonNode j) => j["RestartCount"]!.GetValue<int>();

    /// <summary>The container's directory in every mounted hierarchy that has one.</summary>
    List<string> CgroupDirs(string id) => _d.CgroupParentDirs().Select(p => Path.Combine(p, id)).Where(Directory.Exists).ToList();

    /// <summary>cgroupfs inode numbers are never reused soon: an rmdir + mkdir gives a new one.</summary>
    static string Inode(string dir)
    {
        using var p = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("stat", ["-c", "%i", dir]) { RedirectStandardOutput = true })!;
        var ino = p.StandardOutput.ReadToEnd().Trim();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0 && ino.Length > 0, $"stat {dir}");
        return ino;
    }

    [Fact]
    public void A_restarted_container_keeps_one_cgroup_per_hierarchy_and_rm_removes_it()
    {
        var id = _d.Ok("run", "-d", "--network", "none", "--restart", "always", "--restart-delay", "0",
            "busybox", "sh", "-c", "sleep 0.2");
        WaitFor(() => Status(Inspect(id)) == "running" && CgroupDirs(id).Count > 0, "first run");
        var dirs = CgroupDirs(id);
        var inodes = dirs.ToDictionary(d => d, Inode);
        WaitFor(() => Restarts(Inspect(id)) >= 3, "three restarts");
        // Every hierarchy has exactly this container's cgroup, the same directory as in the first run.
        foreach (var parent in _d.CgroupParentDirs())
        {
            // The keeper (it holds the running container's output pipes) has its own cgroup beside.
            var children = Directory.GetDirectories(parent).Where(c => Path.GetFileName(c) != "gocker-keeper").ToArray();
            Assert.True(children.Length == 1 && Path.GetFileName(children[0]) == id, $"{parent}: {string.Join(", ", children)}");
        }
        Assert.Equal(dirs, CgroupDirs(id));
        foreach (var d in dirs) Assert.Equal(inodes[d], Inode(d));
        _d.Ok("rm", "-f", id);
        Assert.Empty(CgroupDirs(id));
        _d.AssertNoLeaks();
    }

    [Fact]
    public void Stop_of_a_container_waiting_to_restart_removes_its_kept_cgroup_and_run_dir()
    {
        var id = _d.Ok("run", "-d", "--network", "none", "--restart", "always", "--restart-delay", "60s",
            "busybox", "sh", "-c", "exit 1");
        WaitFor(() => Status(Inspect(id)) == "restarting", "waiting to restart");
        var runDir = Path.Combine(_d.ExecRoot, "containers", id);
        Assert.NotEmpty(CgroupDirs(id));
        Assert.True(Directory.Exists(runDir));
        _d.Ok("stop", id);
        Assert.Equal("exited", Status(Inspect(id)));
        Assert.Empty(CgroupDirs(id));
        Assert.False(Directory.Exists(runDir));
        // A start by hand after that creates a fresh cgroup.
        _d.Ok("start", id);
        WaitFor(() => CgroupDirs(id).Count > 0, "started again");
        _d.Ok("rm", "-f", id);
        _d.AssertNoLeaks();
    }

    [Fact]
    public void An_oom_kill_in_the_second_run_is_charged_to_it()
    {
        // Run 1 exits 1 without OOM (the upper dir keeps /m across runs); run 2 is OOM-killed.
        var id = _d.Ok("run", "-d", "--network", "none", "-m", "8m", "--restart", "on-failure:1", "--restart-delay", "0",
            "busybox", "sh", "-c", "if [ -e /m ]; then tail /dev/zero; else touch /m; exit 1; fi");
        JsonNode j = null!;
        WaitFor(() => Status(j = Inspect(id)) == "exited" && Restarts(j) == 1, "one restart, then OOM kill");
        Assert.Equal(137, j["State"]!["ExitCode"]!.GetValue<int>());
        Assert.True(j["State"]!["OOMKilled"]!.GetValue<bool>());
        var events = _d.Ok("events", "--since", "1h", "--until", "0s", "--filter", "container=" + id, "--filter", "event=oom");
        Assert.Single(events.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        _d.Ok("rm", id);
        _d.AssertNoLeaks();
    }

    [Fact]
    public void An_oom_kill_in_the_first_run_is_not_charged_to_the_second()
    {
        // Run 1 is OOM-killed; run 2 exits 3 on its own: its record must not say OOMKilled.
        var id = _d.Ok("run", "-d", "--network", "none", "-m", "8m", "--restart", "on-failure:1", "--restart-delay", "0",
            "busybox", "sh", "-c", "if [ -e /m ]; then exit 3; else touch /m; tail /dev/zero; fi");
        JsonNode j = null!;
        WaitFor(() => Status(j = Inspect(id)) == "exited" && Restarts(j) == 1, "OOM kill, one restart, exit 3");
        Assert.Equal(3, j["State"]!["ExitCode"]!.GetValue<int>());
        Assert.False(j["State"]!["OOMKilled"]!.GetValue<bool>());
        _d.Ok("rm", id);
        _d.AssertNoLeaks();
    }
}
