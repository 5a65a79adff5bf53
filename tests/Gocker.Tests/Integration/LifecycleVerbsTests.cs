using System.Text.Json.Nodes;

namespace Gocker.Tests.Integration;

/// <summary>The everyday container verbs through the real console, with their wrong-state errors.</summary>
[Trait("Needs", "root")]
public sealed class LifecycleVerbsTests(DaemonFixture daemon) : IClassFixture<DaemonFixture>, IDisposable
{
    public void Dispose() => daemon.AssertNoLeaks();

    string Ok(params string[] args)
    {
        var r = daemon.Gocker(args);
        Assert.True(r.ExitCode == 0, $"gocker {string.Join(' ', args)}: {r}");
        return r.Stdout.Trim();
    }

    CliResult Fails(params string[] args)
    {
        var r = daemon.Gocker(args);
        Assert.True(r.ExitCode != 0, $"gocker {string.Join(' ', args)} should fail: {r}");
        return r;
    }

    JsonNode Inspect(string id) => JsonNode.Parse(Ok("inspect", id))!.AsArray()[0]!;
    string Status(string id) => Inspect(id)["State"]!["Status"]!.ToString();
    static string Name() => "v" + Guid.NewGuid().ToString("N")[..10];

    [Fact]
    public void Ids_are_64_hex_and_any_unique_prefix_or_the_name_resolves()
    {
        var name = Name();
        var id = Ok("create", "--name", name, "busybox", "true");
        Assert.Matches("^[0-9a-f]{64}$", id);
        Assert.Equal(id, Inspect(id[..5])["Id"]!.ToString());
        Assert.Equal(id, Inspect(name)["Id"]!.ToString());
        Assert.Equal("/" + name, Inspect(id)["Name"]!.ToString());
        Assert.Contains("No such", Fails("inspect", "zz" + id[..6]).Stderr);
        Ok("rm", name);
        Assert.Contains("No such container", Fails("rm", id).Stderr);
    }

    [Fact]
    public void Names_are_validated_and_unique()
    {
        var name = Name();
        var id = Ok("create", "--name", name, "busybox", "true");
        var dup = Fails("create", "--name", name, "busybox", "true");
        Assert.Contains("already in use", dup.Stderr);
        Assert.Contains("Invalid container name", Fails("create", "--name", "-bad/name", "busybox", "true").Stderr);
        Assert.Contains("Invalid container name", Fails("create", "--name", "_x", "busybox", "true").Stderr);
        Ok("rm", id);
        // Only the two good creates ever made anything.
        Assert.DoesNotContain(name, Ok("ps", "-a", "--format", "{{.Names}}").Split('\n').Where(n => n != name));
    }

    [Fact]
    public void Stop_of_a_pid_1_that_ignores_term_still_stops_with_kill_after_the_grace_time()
    {
        var id = Ok("run", "-d", "busybox", "sh", "-c", "trap '' TERM; while true; do sleep 1; done");
        Ok("stop", "-t", "1", id);
        Assert.Equal("exited", Status(id));
        Assert.Equal("137", Inspect(id)["State"]!["ExitCode"]!.ToString());
        Assert.Matches(@"^Exited \(137\) ", Ok("ps", "-a", "--filter", "id=" + id, "--format", "{{.Status}}"));
        // Wrong state: stop again is a no-op for docker (304), kill is an error naming the state.
        var kill = Fails("kill", id);
        Assert.Contains("is not running", kill.Stderr);
        Assert.Contains("exited", kill.Stderr);
        Ok("rm", id);
    }

    [Fact]
    public void Pause_unpause_kill_signal_wait_and_rm_force()
    {
        var name = Name();
        var id = Ok("run", "-d", "--name", name, "busybox", "sh", "-c", "trap 'exit 42' USR1; while true; do sleep 0.1; done");
        Ok("pause", name);
        Assert.Equal("paused", Status(id));
        Assert.True(Inspect(id)["State"]!["Paused"]!.GetValue<bool>());
        Assert.EndsWith("(Paused)", Ok("ps", "--filter", "name=" + name, "--format", "{{.Status}}"));
        Assert.Contains("already paused", Fails("pause", name).Stderr);
        Assert.Contains("paused", Fails("kill", name).Stderr);
        Ok("unpause", name);
        Assert.Equal("running", Status(id));
        Assert.Contains("not paused", Fails("unpause", name).Stderr);
        Assert.Contains("running container", Fails("rm", name).Stderr);

        Ok("kill", "-s", "USR1", name);
        Assert.Equal("42", Ok("wait", name));
        Assert.Contains("is not running", Fails("pause", name).Stderr);

        var other = Ok("run", "-d", "busybox", "sleep", "1000");
        Ok("pause", other);
        Ok("rm", "-f", other); // a paused container is thawed so the SIGKILL lands
        Ok("rm", name);
    }

    [Fact]
    public void Start_of_an_exited_container_reuses_its_filesystem_and_restart_restarts()
    {
        var id = Ok("run", "-d", "busybox", "sh", "-c", "echo run >> /state; cat /state | wc -l > /count; sleep 1000");
        Ok("restart", "-t", "0", id);
        Assert.Equal("running", Status(id));
        Ok("stop", "-t", "0", id);
        Ok("start", id);
        Assert.Equal("running", Status(id));
        var upper = Path.Combine(daemon.DataRoot, "containers", id, "upper");
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (File.ReadAllText(Path.Combine(upper, "state")).Split('\n', StringSplitOptions.RemoveEmptyEntries).Length < 3 && DateTime.UtcNow < deadline)
            Thread.Sleep(50);
        Assert.Equal("run\nrun\nrun\n", File.ReadAllText(Path.Combine(upper, "state")));
        Ok("rm", "-f", id);
    }

    [Fact]
    public void Restart_keeps_an_rm_container_which_a_later_stop_removes()
    {
        // Docker's restart of an --rm container restarts it; its own exit is not the end that --rm means.
        // The second run mounts the same (volatile) upper again: the file written by the first run is there.
        var id = Ok("run", "-d", "--rm", "busybox", "sh", "-c", "echo run >> /state; sleep 1000");
        Ok("restart", "-t", "0", id);
        Assert.Equal("running", Status(id));
        var deadline = DateTime.UtcNow.AddSeconds(20);
        string state;
        while ((state = daemon.Gocker("exec", id, "cat", "/state").Stdout) != "run\nrun\n" && DateTime.UtcNow < deadline)
            Thread.Sleep(50);
        Assert.Equal("run\nrun\n", state);
        // A plain stop is an exit like any other: --rm removes it (after stop has returned, as in Docker).
        Ok("stop", "-t", "0", id);
        deadline = DateTime.UtcNow.AddSeconds(20);
        while (Ok("ps", "-aq", "--filter", "id=" + id[..12]) != "" && DateTime.UtcNow < deadline) Thread.Sleep(50);
        Assert.Equal("", Ok("ps", "-aq", "--filter", "id=" + id[..12]));
        Fails("inspect", id);
        Assert.False(Directory.Exists(Path.Combine(daemon.DataRoot, "containers", id)));
    }

    [Fact]
    public void Verbs_racing_the_removal_of_an_rm_container_are_answered_not_left_to_time_out()
    {
        // `wait` returns at the exit and the --rm removal runs right after: an `rm -f` sent then used to
        // reach the container's actor just as it stopped, and to wait for the daemon's 60 s ask timeout.
        for (int i = 0; i < 5; i++)
        {
            var id = Ok("run", "-d", "--rm", "busybox", "true");
            daemon.Gocker("wait", id);
            var rm = daemon.Gocker("rm", "-f", id);
            Assert.True(rm.ExitCode == 0 || rm.Stderr.Contains("No such container"), rm.ToString());
        }
    }

    [Fact]
    public void Ps_filters_format_and_quiet()
    {
        var a = Name();
        var running = Ok("run", "-d", "--name", a, "busybox", "sleep", "1000");
        var exited = Ok("run", "-d", "--name", a + "x", "busybox", "true");
        Ok("wait", exited);
        var q = Ok("ps", "-q", "--no-trunc").Split('\n');
        Assert.Contains(running, q);
        Assert.DoesNotContain(exited, q);
        Assert.Equal(exited, Ok("ps", "-q", "--no-trunc", "--filter", "status=exited", "--filter", "name=" + a));
        Assert.Equal($"{running[..12]} {a} running", Ok("ps", "--filter", "name=" + a, "--format", "{{.ID}} {{.Names}} {{.State}}"));
        var table = Ok("ps", "-a", "--filter", "name=" + a, "--format", "table {{.Names}}\\t{{.Status}}").Split('\n');
        Assert.StartsWith("NAMES", table[0]);
        Assert.Equal(3, table.Length);
        Assert.Contains("invalid filter", Fails("ps", "--filter", "status=sleeping").Stderr);
        Ok("rm", "-f", running, exited);
    }

    [Fact]
    public void Stats_streams_until_the_named_container_stops_and_the_api_streams_json_lines()
    {
        // Lives ~3 s: the console's stream redraws about once a second, then ends with it.
        var id = Ok("run", "-d", "-m", "32m", "busybox", "sh", "-c", "sleep 3");
        var r = daemon.Gocker("stats", id);
        Assert.True(r.ExitCode == 0, r.ToString());
        var tables = r.Stdout.Split('\n').Count(l => l.StartsWith("CONTAINER ID"));
        Assert.True(tables >= 2, $"expected a stream of tables:\n{r.Stdout}");
        Assert.Contains("32MiB", r.Stdout);
        Assert.True(Inspect(id)["State"]!["Status"]!.ToString() == "exited");

        // The API's default (stream=true): one JSON object per line, each with the previous sample as
        // precpu, ending when the container stops.
        var id2 = Ok("run", "-d", "busybox", "sh", "-c", "sleep 3");
        using var s = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        s.Connect(new System.Net.Sockets.UnixDomainSocketEndPoint(daemon.Socket));
        s.Send(System.Text.Encoding.ASCII.GetBytes($"GET /containers/{id2}/stats HTTP/1.0\r\nHost: d\r\n\r\n"));
        using var ns = new System.Net.Sockets.NetworkStream(s);
        var all = new MemoryStream();
        ns.CopyTo(all); // ends when the daemon ends the stream
        var text = System.Text.Encoding.UTF8.GetString(all.ToArray());
        var body = text[(text.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..];
        var lines = body.Split('\n').Where(l => l.StartsWith('{')).ToList();
        Assert.True(lines.Count >= 2, text);
        var first = JsonNode.Parse(lines[0])!;
        var second = JsonNode.Parse(lines[1])!;
        Assert.Equal(id2, first["id"]!.ToString());
        Assert.Equal(first["cpu_stats"]!["system_cpu_usage"]!.GetValue<long>(), second["precpu_stats"]!["system_cpu_usage"]!.GetValue<long>());
        Ok("rm", id, id2);
    }

    [Fact]
    public void Inspect_top_stats_and_logs()
    {
        // --tail counts lines of the merged stream in the order the daemon saw the writes: the sleep
        // keeps "three" from landing in the same indexer wake-up as "one" (see ARCHITECTURE.md, Output).
        var id = Ok("run", "-d", "-m", "64m", "busybox", "sh", "-c", "echo one; echo two >&2; sleep 0.2; echo three; sleep 1000");
        var j = Inspect(id);
        var state = j["State"]!;
        Assert.Equal("running", state["Status"]!.ToString());
        Assert.True(state["Pid"]!.GetValue<int>() > 1);
        Assert.NotEqual("0001-01-01T00:00:00Z", state["StartedAt"]!.ToString());
        Assert.False(state["OOMKilled"]!.GetValue<bool>());
        Assert.Equal(0, j["RestartCount"]!.GetValue<int>());
        Assert.EndsWith("/" + id, j["CgroupPath"]!.ToString());
        Assert.Equal(64L * 1024 * 1024, j["HostConfig"]!["Memory"]!.GetValue<long>());

        var top = Ok("top", id);
        Assert.Contains("sleep 1000", top);
        Assert.Contains(state["Pid"]!.ToString(), top);
        var stats = Ok("stats", "--no-stream", id).Split('\n');
        Assert.StartsWith("CONTAINER ID", stats[0]);
        Assert.Contains("64MiB", stats[1]);

        var deadline = DateTime.UtcNow.AddSeconds(20);
        CliResult logs;
        do logs = daemon.Gocker("logs", id); while (!logs.Stdout.Contains("three") && DateTime.UtcNow < deadline && Sleep());
        Assert.Equal("one\nthree\n", logs.Stdout);
        Assert.Contains("two\n", logs.Stderr);
        Assert.Equal("three\n", daemon.Gocker("logs", "--tail", "1", id).Stdout);
        Ok("rm", "-f", id);
        Assert.Contains("No such container", Fails("logs", id).Stderr);
    }

    static bool Sleep() { Thread.Sleep(50); return true; }
}
