using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Gocker.Tests.Integration;

/// <summary>kill -9 of gockerd while containers run: a new daemon on the same roots loses nothing.</summary>
[Trait("Needs", "root")]
public sealed class LifecycleRestartTests : IDisposable
{
    readonly LifecycleDaemon _d = new();

    public void Dispose() => _d.Dispose();

    // PID 1 of a container has no default action for TERM: the trap makes `stop` quick and the exit 0.
    const string Chatty = "trap 'echo bye; exit 0' TERM; i=0; while true; do echo out$i; echo err$i >&2; i=$((i+1)); sleep 0.1; done";

    string Inspect(string id, string field)
    {
        var json = JsonNode.Parse(_d.Ok("inspect", id))!.AsArray()[0]!;
        JsonNode? node = json;
        foreach (var part in field.Split('.')) node = node![part];
        return node?.ToString() ?? "";
    }

    static void WaitFor(Func<bool> cond, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!cond())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException(what);
            Thread.Sleep(50);
        }
    }

    [Fact]
    public void Kill9_with_10_running_containers_then_restart_readopts_all_of_them()
    {
        var tag = Guid.NewGuid().ToString("N")[..6];
        var running = Enumerable.Range(0, 10).Select(i => _d.Ok("run", "-d", "--name", $"lc{tag}-{i}", "busybox", "sh", "-c", Chatty)).ToList();
        var created = _d.Ok("create", "--name", $"lc{tag}-created", "busybox", "true");
        var exited = _d.Ok("run", "-d", "--name", $"lc{tag}-exited", "busybox", "sh", "-c", "exit 3");
        Assert.Equal("3", _d.Ok("wait", exited));
        var diesWhileDown = _d.Ok("run", "-d", "--name", $"lc{tag}-dies", "busybox", "sleep", "1000");
        var pids = running.ToDictionary(id => id, id => int.Parse(Inspect(id, "State.Pid")));
        var diesPid = int.Parse(Inspect(diesWhileDown, "State.Pid"));
        WaitFor(() => _d.Gocker("logs", running[0]).Stdout.Contains("out3\n"), "output before the crash");

        _d.Kill9();
        // The containers do not notice: they keep writing (their output goes to files, not pipes).
        foreach (var pid in pids.Values) Assert.True(Directory.Exists($"/proc/{pid}"), $"container pid {pid} died with the daemon");
        Assert.Equal(0, Tmds.Linux.LibC.kill(diesPid, 9));
        var runningDir = Path.Combine(_d.DataRoot, "containers", running[0]);
        var logBefore = string.Concat(Gocker.Actors.Logs.LogFiles.Generations(runningDir)
            .Select(g => File.ReadAllText(Gocker.Actors.Logs.LogFiles.Data(runningDir, g, 1))));
        Thread.Sleep(300);
        _d.Start();

        var ps = _d.Ok("ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Status}}").Split('\n')
            .ToDictionary(l => l[..64], l => l[65..]);
        Assert.Equal(13, ps.Count);
        foreach (var id in running)
        {
            Assert.StartsWith("Up ", ps[id]);
            Assert.Equal("running", Inspect(id, "State.Status"));
            Assert.Equal(pids[id].ToString(), Inspect(id, "State.Pid"));
        }
        Assert.Equal("Created", ps[created]);
        Assert.StartsWith("Exited (3) ", ps[exited]);
        // Killed while no daemon watched: its status is known (137 = SIGKILL) while its new parent
        // has not reaped it (this machine's PID 1 reaps lazily); once reaped before the daemon
        // could open it, the status is unknowable: -1, with the reason.
        if (!ps[diesWhileDown].StartsWith("Exited (137) "))
        {
            Assert.StartsWith("Exited (-1) ", ps[diesWhileDown]);
            Assert.Contains("is gone", Inspect(diesWhileDown, "State.Error"));
        }

        // Logs are intact and continue after the restart.
        var logs = _d.Gocker("logs", running[0]);
        Assert.StartsWith(logBefore, logs.Stdout);
        Assert.Contains("err0\n", logs.Stderr);
        var lenAfterRestart = logs.Stdout.Length;
        WaitFor(() => _d.Gocker("logs", running[0]).Stdout.Length > lenAfterRestart + 20, "output after the restart");

        // Re-adopted containers are stoppable (the stop is seen through the pidfd, with its status) and removable.
        Assert.Equal(string.Join('\n', running), _d.Ok(["stop", "-t", "10", .. running]));
        foreach (var id in running)
        {
            Assert.Equal("0", _d.Ok("wait", id));
            Assert.False(ProcState.Alive(pids[id]),
                $"pid {pids[id]} still alive after stop");
            Assert.EndsWith("bye\n", _d.Gocker("logs", id).Stdout);
        }
        _d.Ok(["rm", .. running, created, exited, diesWhileDown]);
        _d.AssertNoLeaks();
    }

    [Fact]
    public void A_recorded_pid_that_now_belongs_to_another_process_is_never_signalled()
    {
        var id = _d.Ok("run", "-d", "busybox", "sleep", "1000");
        var containerPid = int.Parse(Inspect(id, "State.Pid"));
        _d.Kill9();

        // Stand-in for pid reuse: the record now names an unrelated live process (another start time).
        using var bystander = Process.Start(new ProcessStartInfo("/bin/sleep", "1000") { UseShellExecute = false })!;
        try
        {
            var statePath = Path.Combine(_d.DataRoot, "containers", id, "state.json");
            var state = JsonNode.Parse(File.ReadAllText(statePath))!;
            Assert.NotEqual("0", state["PidStartTime"]!.ToString());
            state["Pid"] = bystander.Id;
            File.WriteAllText(statePath, state.ToJsonString());

            _d.Start();
            Assert.Equal("exited", Inspect(id, "State.Status"));
            Assert.Equal("-1", Inspect(id, "State.ExitCode"));
            Assert.Contains("another process", Inspect(id, "State.Error"));
            var kill = _d.Gocker("kill", id);
            Assert.NotEqual(0, kill.ExitCode);
            Assert.Contains("is not running", kill.Stderr);
            Assert.False(bystander.HasExited, "the bystander process was signalled");
            // The container itself was still ours by its cgroup: killed there, never through the pid.
            WaitFor(() => ProcState.Gone(containerPid),
                "the container's own init was not cleaned up");
            _d.Ok("rm", id);
            _d.AssertNoLeaks();
        }
        finally { bystander.Kill(); }
    }
}
