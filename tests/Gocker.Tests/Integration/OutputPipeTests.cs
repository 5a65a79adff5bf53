using System.Text;
using System.Text.Json.Nodes;

namespace Gocker.Tests.Integration;

/// <summary>
/// A non-tty container's stdout and stderr are pipes to the daemon (issue #16), never the host log
/// files: the daemon-wide copier appends what comes through them to stdout.log / stderr.log, and the
/// keeper (gocker-init --keeper) holds a copy of each read end so the pipes outlive a daemon crash.
/// Through the real console and daemon, with kill -9.
/// </summary>
[Trait("Needs", "root")]
public sealed class OutputPipeTests : IDisposable
{
    readonly LifecycleDaemon _d = new();

    public void Dispose() => _d.Dispose();

    JsonNode Inspect(string id) => JsonNode.Parse(_d.Ok("inspect", id))!.AsArray()[0]!;
    string Status(string id) => Inspect(id)["State"]!["Status"]!.ToString();
    int Pid(string id) => (int)Inspect(id)["State"]!["Pid"]!;

    static void WaitFor(Func<bool> cond, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!cond())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException(what);
            Thread.Sleep(50);
        }
    }

    int KeeperPid()
    {
        var want = $"--keeper\0{Path.Combine(_d.ExecRoot, "keeper.sock")}\0";
        foreach (var dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
            try
            {
                if (File.ReadAllText(Path.Combine(dir, "cmdline")).Contains(want) && !File.ReadAllText(Path.Combine(dir, "stat")).Contains(") Z ")) return pid;
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return 0;
    }

    /// <summary>What a process's descriptors name (readlink of /proc/PID/fd/*); empty when it is gone.</summary>
    static List<string> FdTargets(int pid)
    {
        var list = new List<string>();
        if (pid <= 0) return list;
        try
        {
            foreach (var fd in Directory.GetFiles($"/proc/{pid}/fd"))
            {
                try { if (new FileInfo(fd).LinkTarget is { } t) list.Add(t); }
                catch (IOException) { }
            }
        }
        catch (DirectoryNotFoundException) { }
        return list;
    }

    static bool Gone(int pid) => ProcState.Gone(pid);

    [Fact]
    public void Stdout_and_stderr_are_pipes_and_the_output_is_unchanged_per_stream()
    {
        var r = _d.Gocker("run", "--rm", "--network", "none", "busybox", "sh", "-c",
            "readlink /proc/self/fd/1; readlink /proc/self/fd/2 >&2; for i in 1 2 3; do echo out$i; echo err$i >&2; done");
        Assert.True(r.ExitCode == 0, r.ToString());
        var outLines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var errLines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Matches(@"^pipe:\[\d+\]$", outLines[0]);
        Assert.Matches(@"^pipe:\[\d+\]$", errLines[0]);
        Assert.NotEqual(outLines[0], errLines[0]);
        Assert.Equal(["out1", "out2", "out3"], outLines[1..]);
        Assert.Equal(["err1", "err2", "err3"], errLines[1..]);

        // --network host never takes a zygote: the fresh spawn passes the pipes too.
        var host = _d.Gocker("run", "--rm", "--network", "host", "busybox", "sh", "-c", "readlink /proc/self/fd/1; readlink /proc/self/fd/2 >&2");
        Assert.True(host.ExitCode == 0, host.ToString());
        Assert.Matches(@"^pipe:\[\d+\]\n$", host.Stdout);
        Assert.Matches(@"^pipe:\[\d+\]\n$", host.Stderr);

        // The same in the logs of a kept container, and a large output byte for byte (more than the
        // pipe holds: the container blocks until the copier reads, nothing is lost or reordered).
        var id = _d.Ok("run", "-d", "--network", "none", "busybox", "sh", "-c",
            "seq 1 100000; echo done-err >&2; readlink /proc/self/fd/1 >&2");
        Assert.Equal("0", _d.Ok("wait", id));
        var logs = _d.Gocker("logs", id);
        var expected = new StringBuilder();
        for (var i = 1; i <= 100000; i++) expected.Append(i).Append('\n');
        Assert.Equal(expected.ToString(), logs.Stdout);
        Assert.Matches(@"^done-err\npipe:\[\d+\]\n$", logs.Stderr);
        var dataDir = Path.Combine(_d.DataRoot, "containers", id);
        Assert.Equal(expected.ToString(), string.Concat(Gocker.Actors.Logs.LogFiles.Generations(dataDir)
            .Select(g => File.ReadAllText(Gocker.Actors.Logs.LogFiles.Data(dataDir, g, 1)))));
        _d.Ok("rm", id);
        WaitFor(() => KeeperProbe.Idle(KeeperPid()), "the keeper holds nothing with the last container");
        _d.AssertNoLeaks();
    }

    [Fact]
    public void The_daemon_and_the_keeper_hold_the_read_ends_only_while_the_container_runs()
    {
        var id = _d.Ok("run", "-d", "--network", "none", "busybox", "sleep", "600");
        WaitFor(() => Status(id) == "running", "running");
        // The init's fds 1 and 2, seen from the host: pipes, and the host log files nowhere.
        var init = FdTargets(Pid(id));
        var pipes = new[] { $"/proc/{Pid(id)}/fd/1", $"/proc/{Pid(id)}/fd/2" }.Select(f => new FileInfo(f).LinkTarget!).ToArray();
        Assert.All(pipes, p => Assert.Matches(@"^pipe:\[\d+\]$", p));
        Assert.DoesNotContain(init, t => t.EndsWith(".log"));
        var keeper = KeeperPid();
        Assert.True(keeper > 0, "a keeper runs for a non-tty container");
        WaitFor(() => pipes.All(FdTargets(keeper).Contains), "the keeper holds both read ends");
        Assert.All(pipes, p => Assert.Contains(p, FdTargets(_d.Pid)));

        _d.Ok("rm", "-f", id);
        Assert.All(pipes, p => Assert.DoesNotContain(p, FdTargets(_d.Pid)));
        WaitFor(() => KeeperProbe.Idle(KeeperPid()), "the keeper holds nothing");
        _d.AssertNoLeaks();
    }

    [Fact]
    public void A_container_writing_while_the_daemon_is_killed_keeps_running_and_its_output_reaches_the_logs()
    {
        // Counts in a file too, so the test can see it write while no daemon runs.
        var id = _d.Ok("run", "-d", "--network", "none", "busybox", "sh", "-c",
            "i=0; while true; do echo out$i; echo err$i >&2; echo $i > /tmp/n; i=$((i+1)); sleep 0.02; done");
        WaitFor(() => Status(id) == "running", "running");
        var pid = Pid(id);
        int Count() { try { return int.Parse(File.ReadAllText($"/proc/{pid}/root/tmp/n").Trim()); } catch (Exception) { return -1; } }
        WaitFor(() => Count() >= 3, "writing");

        _d.Kill9();
        var atKill = Count();
        WaitFor(() => Count() >= atKill + 20, "it keeps writing while no daemon runs");
        Assert.False(Gone(pid), "no SIGPIPE: the keeper holds the read ends");
        var whileDown = Count();

        _d.Start();
        WaitFor(() => Status(id) == "running", "re-adopted");
        Assert.Equal(pid, Pid(id));
        try { WaitFor(() => _d.Gocker("logs", id).Stdout.Contains($"out{whileDown}\n"), "the output written while down reaches the log"); }
        catch (TimeoutException ex) { throw new TimeoutException($"{ex.Message} (out{whileDown}); logs:\n{_d.Gocker("logs", id)}\n--- daemon\n{_d.Log}"); }
        _d.Ok("stop", "-t", "1", id);
        var logs = _d.Gocker("logs", id);
        // Every line, in order, per stream: nothing lost across the restart.
        var outs = logs.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var errs = logs.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(outs.Length > whileDown, $"{outs.Length} lines");
        Assert.Equal(Enumerable.Range(0, outs.Length).Select(i => $"out{i}"), outs);
        Assert.Equal(Enumerable.Range(0, errs.Length).Select(i => $"err{i}"), errs);
        _d.Ok("rm", id);
        WaitFor(() => KeeperProbe.Idle(KeeperPid()), "the keeper holds nothing with the last container");
        _d.AssertNoLeaks();
    }

    [Fact]
    public void Pipes_the_record_does_not_name_are_found_in_the_keeper_by_tag()
    {
        var id = _d.Ok("run", "-d", "--network", "none", "busybox", "sh", "-c",
            "i=0; while true; do echo out$i; echo $i > /tmp/n; i=$((i+1)); sleep 0.02; done");
        WaitFor(() => Status(id) == "running", "running");
        var pid = Pid(id);
        int Count() { try { return int.Parse(File.ReadAllText($"/proc/{pid}/root/tmp/n").Trim()); } catch (Exception) { return -1; } }
        WaitFor(() => Count() >= 3, "writing");

        // As if the daemon had died between the keeper's hand-off and the record's write.
        _d.Kill9();
        var state = Path.Combine(_d.DataRoot, "containers", id, "state.json");
        var json = JsonNode.Parse(File.ReadAllText(state))!.AsObject();
        Assert.NotNull(json["Output"]);
        json.Remove("Output");
        File.WriteAllText(state, json.ToJsonString());

        _d.Start();
        WaitFor(() => Status(id) == "running", "re-adopted");
        var after = Count();
        WaitFor(() => _d.Gocker("logs", id).Stdout.Contains($"out{after + 5}\n"), "copied again");
        Assert.DoesNotContain("re-adopted without its output", _d.Log);
        _d.Ok("rm", "-f", id);
        WaitFor(() => KeeperProbe.Idle(KeeperPid()), "the keeper holds nothing");
        _d.AssertNoLeaks();
    }

    [Fact]
    public void Output_of_a_container_that_ended_while_the_daemon_was_down_reaches_the_logs()
    {
        var id = _d.Ok("run", "-d", "--network", "none", "busybox", "sh", "-c",
            "echo before; while [ ! -e /tmp/go ]; do sleep 0.05; done; echo after-out; echo after-err >&2");
        WaitFor(() => Status(id) == "running", "running");
        var pid = Pid(id);
        WaitFor(() => _d.Gocker("logs", id).Stdout == "before\n", "first line copied");

        _d.Kill9();
        File.WriteAllText($"/proc/{pid}/root/tmp/go", "");
        WaitFor(() => Gone(pid), "the container ended while no daemon ran");

        _d.Start();
        WaitFor(() => Status(id) == "exited", "recorded as exited");
        var logs = _d.Gocker("logs", id);
        Assert.Equal("before\nafter-out\n", logs.Stdout);
        Assert.Equal("after-err\n", logs.Stderr);
        _d.Ok("rm", id);
        WaitFor(() => KeeperProbe.Idle(KeeperPid()), "the keeper holds nothing");
        _d.AssertNoLeaks();
    }
}
