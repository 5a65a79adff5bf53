using System.Text.Json.Nodes;
using Gocker.Actors.Logs;

namespace Gocker.Tests.Integration;

/// <summary>Log rotation (max-size x max-file, per container and the daemon's default), LogConfig in
/// inspect, refused log types and options, "none", and `logs -f` across rotations, on a real daemon.</summary>
[Trait("Needs", "root")]
public sealed class LogRotationTests(DaemonFixture daemon) : IClassFixture<DaemonFixture>, IDisposable
{
    public void Dispose() => daemon.AssertNoLeaks();

    string Ok(params string[] args) => Ok(daemon, args);

    internal static string Ok(DaemonFixture d, params string[] args)
    {
        var r = d.Gocker(args);
        Assert.True(r.ExitCode == 0, $"gocker {string.Join(' ', args)}: {r}\n--- daemon\n{d.DaemonLog}");
        return r.Stdout.Trim();
    }

    internal static JsonNode HostConfig(DaemonFixture d, string id) => JsonNode.Parse(Ok(d, "inspect", id))!.AsArray()[0]!["HostConfig"]!;

    /// <summary>Lines "lineN" in order: a contiguous run ending with `last`.</summary>
    internal static void AssertNewestRun(string output, int last, int atLeast)
    {
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length >= atLeast, $"{lines.Length} lines, wanted at least {atLeast}");
        var first = int.Parse(lines[0]["line".Length..]);
        Assert.Equal(Enumerable.Range(first, last - first + 1).Select(i => "line" + i), lines);
    }

    const string Chatty = "i=1; while [ $i -le 20000 ]; do echo line$i; i=$((i+1)); done";

    [Fact]
    public void A_chatty_container_keeps_its_log_under_its_cap_and_logs_returns_the_newest_lines_in_order()
    {
        var id = Ok("run", "-d", "--network", "none", "--log-opt", "max-size=20k", "--log-opt", "max-file=3", "busybox", "sh", "-c", Chatty);
        Assert.Equal("0", Ok("wait", id));
        var dir = Path.Combine(daemon.DataRoot, "containers", id);
        var onDisk = Directory.GetFiles(LogFiles.Dir(dir)).Sum(f => new FileInfo(f).Length);
        Assert.True(onDisk <= 3 * 20_000, $"{onDisk} bytes in {LogFiles.Dir(dir)}");
        var gens = LogFiles.Generations(dir);
        Assert.Equal(3, gens.Count);
        Assert.True(gens[0] > 1, "the oldest generations were rotated away");
        // 20000 lines of ~10 bytes are ~190 KB: what is kept is the newest part, in order.
        AssertNewestRun(Ok("logs", id), 20000, 1000);
        Assert.Equal(string.Join('\n', Enumerable.Range(19996, 5).Select(i => "line" + i)), Ok("logs", "--tail", "5", id));
        var log = HostConfig(daemon, id)["LogConfig"]!;
        Assert.Equal("json-file", log["Type"]!.ToString());
        Assert.Equal("20k", log["Config"]!["max-size"]!.ToString());
        Assert.Equal("3", log["Config"]!["max-file"]!.ToString());
        Ok("rm", id);
    }

    [Fact]
    public void Logs_follow_goes_on_across_rotations_without_losing_or_repeating_a_line()
    {
        // Small generations, many of them kept: every rotation happens while `logs -f` follows, and
        // none deletes what the follower has not read (a rotation that does is LogWriterTests').
        var id = Ok("run", "-d", "--network", "none", "--log-opt", "max-size=1k", "--log-opt", "max-file=1000", "busybox", "sh", "-c",
            "i=1; while [ $i -le 3000 ]; do echo line$i; [ $((i % 200)) = 0 ] && sleep 0.1; i=$((i+1)); done");
        var follow = daemon.Gocker("logs", "-f", id);
        Assert.Equal(0, follow.ExitCode);
        Assert.Equal(string.Concat(Enumerable.Range(1, 3000).Select(i => $"line{i}\n")), follow.Stdout);
        var dir = Path.Combine(daemon.DataRoot, "containers", id);
        Assert.True(LogFiles.Generations(dir).Count > 20, $"only {LogFiles.Generations(dir).Count} generations: no rotation to follow");
        // And the same from the API's follow of an exited container: everything, once.
        Assert.Equal(string.Concat(Enumerable.Range(2991, 10).Select(i => $"line{i}\n")), daemon.Gocker("logs", "-f", "--tail", "10", id).Stdout);
        Ok("rm", id);
    }

    [Fact]
    public void Attached_run_gets_all_output_across_rotations()
    {
        var r = daemon.Gocker("run", "--rm", "--network", "none", "--log-opt", "max-size=2k", "--log-opt", "max-file=1000", "busybox", "seq", "1", "5000");
        Assert.Equal(0, r.ExitCode);
        Assert.Equal(string.Concat(Enumerable.Range(1, 5000).Select(i => $"{i}\n")), r.Stdout);
    }

    [Fact]
    public void Inspect_always_shows_the_effective_log_config()
    {
        var id = Ok("create", "--network", "none", "busybox", "true");
        var log = HostConfig(daemon, id)["LogConfig"]!;
        Assert.Equal("json-file", log["Type"]!.ToString());
        Assert.NotNull(log["Config"]!["max-size"]);
        Assert.NotNull(log["Config"]!["max-file"]);
        Ok("rm", id);
        id = Ok("create", "--network", "none", "--log-driver", "local", "--log-opt", "max-file=7", "busybox", "true");
        log = HostConfig(daemon, id)["LogConfig"]!;
        Assert.Equal("local", log["Type"]!.ToString());
        Assert.Equal("7", log["Config"]!["max-file"]!.ToString());
        Ok("rm", id);
        // Docker's zero value from other clients: the daemon's default.
        var (head, body) = RawHttp.Request(daemon.Socket, "POST", "/containers/create",
            """{"Image":"busybox","Cmd":["true"],"HostConfig":{"NetworkMode":"none","LogConfig":{"Type":"","Config":{}}}}""");
        Assert.StartsWith("HTTP/1.1 201", head);
        id = JsonNode.Parse(body)!["Id"]!.ToString();
        Assert.Equal("json-file", HostConfig(daemon, id)["LogConfig"]!["Type"]!.ToString());
        Ok("rm", id);
    }

    [Theory]
    [InlineData("""{"Type":"syslog"}""", "syslog")]
    [InlineData("""{"Type":"json-file","Config":{"compress":"true"}}""", "compress")]
    [InlineData("""{"Type":"local","Config":{"max-size":"ten"}}""", "ten")]
    [InlineData("""{"Type":"json-file","Config":{"max-file":"0"}}""", "max-file")]
    [InlineData("""{"Type":"none","Config":{"max-size":"1m"}}""", "max-size")]
    public void Refused_log_types_and_options_name_themselves_in_the_api(string logConfig, string named)
    {
        var (head, body) = RawHttp.Request(daemon.Socket, "POST", "/containers/create",
            """{"Image":"busybox","Cmd":["true"],"HostConfig":{"NetworkMode":"none","LogConfig":""" + logConfig + "}}");
        Assert.StartsWith("HTTP/1.1 400", head);
        Assert.Contains(named, System.Text.Encoding.UTF8.GetString(body));
        Assert.DoesNotContain("busybox", Ok("ps", "-a", "--format", "{{.Image}}"));
    }

    [Theory]
    [InlineData("--log-driver", "journald", "journald")]
    [InlineData("--log-opt", "labels=a", "labels")]
    [InlineData("--log-opt", "max-size=12q", "12q")]
    [InlineData("--log-opt", "max-size", "max-size")]
    public void Refused_log_types_and_options_name_themselves_in_the_cli(string flag, string value, string named)
    {
        var r = daemon.Gocker("run", "--rm", "--network", "none", flag, value, "busybox", "true");
        Assert.Equal(125, r.ExitCode);
        Assert.Contains(named, r.Stderr);
    }

    [Fact]
    public void Since_and_until_select_what_was_logged_by_its_time_across_generations()
    {
        var id = Ok("run", "-d", "--network", "none", "--log-opt", "max-size=1k", "--log-opt", "max-file=100", "busybox", "sh", "-c",
            "seq 1 300; sleep 0.2; echo late");
        Assert.Equal("0", Ok("wait", id));
        Assert.True(LogFiles.Generations(Path.Combine(daemon.DataRoot, "containers", id)).Count > 1, "the output should span generations");
        // The exact times of the chunks, from -t (nine fraction digits), as unix seconds.nanoseconds.
        var stamped = Ok("logs", "-t", id).Split('\n');
        string Unix(string line)
        {
            var t = DateTimeOffset.Parse(line[..19] + "Z", System.Globalization.CultureInfo.InvariantCulture);
            return $"{t.ToUnixTimeSeconds()}.{line[20..29]}";
        }
        var late = Unix(stamped[^1]);
        var last300 = Unix(stamped[^2]);
        string Body(string query)
        {
            var (head, body) = RawHttp.Request(daemon.Socket, "GET", $"/containers/{id}/logs?stdout=1&{query}", null);
            Assert.StartsWith("HTTP/1.1 200", head);
            return System.Text.Encoding.UTF8.GetString(body);
        }
        var since = Body("since=" + late);
        Assert.Contains("late\n", since);
        Assert.DoesNotContain("300\n", since);
        var until = Body("until=" + last300);
        Assert.Contains("\n300\n", until);
        Assert.DoesNotContain("late", until);
        // The console takes RFC3339 (here cut to .NET's 7 digits: a bound a hair earlier).
        Assert.Equal("late", Ok("logs", "--since", stamped[^1][..27] + "Z", id));
        var (badHead, badBody) = RawHttp.Request(daemon.Socket, "GET", $"/containers/{id}/logs?stdout=1&since=yesterday", null);
        Assert.StartsWith("HTTP/1.1 400", badHead);
        Assert.Contains("since", System.Text.Encoding.UTF8.GetString(badBody));
        Ok("rm", id);
    }

    [Fact]
    public void None_keeps_no_log_but_attached_clients_get_the_output()
    {
        var r = daemon.Gocker("run", "--rm", "--network", "none", "--log-driver", "none", "busybox", "sh", "-c", "echo out; echo err >&2");
        Assert.Equal(0, r.ExitCode);
        Assert.Equal("out\n", r.Stdout);
        Assert.Equal("err\n", r.Stderr);
        var id = Ok("run", "-d", "--network", "none", "--log-driver", "none", "busybox", "sh", "-c", "seq 1 1000");
        Assert.Equal("0", Ok("wait", id));
        var logs = daemon.Gocker("logs", id);
        Assert.NotEqual(0, logs.ExitCode);
        Assert.Contains("does not support reading", logs.Stderr);
        var (head, _) = RawHttp.Request(daemon.Socket, "GET", $"/containers/{id}/logs?stdout=1", null);
        Assert.StartsWith("HTTP/1.1 501", head);
        // Nothing of the output stays on disk.
        Assert.Equal(0, LogFiles.SizeOnDisk(Path.Combine(daemon.DataRoot, "containers", id)));
        Assert.Equal("none", HostConfig(daemon, id)["LogConfig"]!["Type"]!.ToString());
        Ok("rm", id);
    }
}

/// <summary>docker-py's attached containers.run() reads HostConfig.LogConfig.Type without checking
/// (a KeyError before it was shown) and then reads the output through `logs`.</summary>
[Trait("Needs", "root")]
public sealed class DockerPyLogTests(DaemonFixture daemon) : IClassFixture<DaemonFixture>
{
    const string Script = """
        import docker, sys
        client = docker.DockerClient(base_url=sys.argv[1], version="1.43")
        out = client.containers.run("busybox", ["sh", "-c", "seq 1 3000"], network_mode="none", remove=True,
                                    log_config={"Type": "json-file", "Config": {"max-size": "2k", "max-file": "1000"}})
        sys.stdout.write(out.decode())
        """;

    [DockerPyFact]
    public void Attached_containers_run_returns_the_output_across_rotations()
    {
        var r = DockerPy.Run(daemon, Script);
        Assert.True(r.Code == 0, $"docker-py: exit {r.Code}\n{r.Err}\n--- daemon\n{daemon.DaemonLog}");
        Assert.Equal(string.Concat(Enumerable.Range(1, 3000).Select(i => $"{i}\n")), r.Out);
        daemon.AssertNoLeaks();
    }
}

/// <summary>gocker.logs in the HOCON is the cap of containers created without options.</summary>
[Trait("Needs", "root")]
public sealed class LogDefaultCapTests
{
    [Fact]
    public void The_daemons_default_cap_applies_without_options()
    {
        using var d = new DaemonFixture("gocker.logs { max-size = 16k, max-file = 2 }");
        try
        {
            var id = LogRotationTests.Ok(d, "run", "-d", "--network", "none", "busybox", "sh", "-c",
                "i=1; while [ $i -le 10000 ]; do echo line$i; i=$((i+1)); done");
            Assert.Equal("0", LogRotationTests.Ok(d, "wait", id));
            var dir = Path.Combine(d.DataRoot, "containers", id);
            Assert.True(LogFiles.SizeOnDisk(dir) <= 2 * 16_000, $"{LogFiles.SizeOnDisk(dir)} bytes in {LogFiles.Dir(dir)}");
            Assert.Equal(2, LogFiles.Generations(dir).Count);
            LogRotationTests.AssertNewestRun(LogRotationTests.Ok(d, "logs", id), 10000, 500);
            var log = LogRotationTests.HostConfig(d, id)["LogConfig"]!;
            Assert.Equal("16k", log["Config"]!["max-size"]!.ToString());
            Assert.Equal("2", log["Config"]!["max-file"]!.ToString());
            LogRotationTests.Ok(d, "rm", id);
            d.AssertNoLeaks();
        }
        catch (Exception ex) { throw new Xunit.Sdk.XunitException(ex.Message + "\n--- daemon\n" + d.DaemonLog); }
    }

    [Fact]
    public void A_bad_default_stops_the_daemon_with_its_name()
    {
        GockerBinaries.Require();
        var dir = Directory.CreateTempSubdirectory("gocker-it-logcfg-").FullName;
        try
        {
            var config = Path.Combine(dir, "gocker.hocon");
            File.WriteAllText(config, "gocker.logs { max-size = 10zz }");
            var psi = new System.Diagnostics.ProcessStartInfo(GockerBinaries.Gockerd)
            {
                ArgumentList = { "--config", config, "--data-root", Path.Combine(dir, "data"), "--exec-root", Path.Combine(dir, "exec"), "-H", "unix://" + Path.Combine(dir, "s.sock") },
                RedirectStandardOutput = true, RedirectStandardError = true,
            };
            using var p = System.Diagnostics.Process.Start(psi)!;
            var output = p.StandardOutput.ReadToEndAsync();
            var error = p.StandardError.ReadToEndAsync();
            Assert.True(p.WaitForExit(30_000), "gockerd did not stop on a bad gocker.logs");
            Assert.NotEqual(0, p.ExitCode);
            Assert.Contains("gocker.logs.max-size", output.Result + error.Result);
        }
        finally { Directory.Delete(dir, true); }
    }
}

/// <summary>A data root that fills up (a small tmpfs): the log write fails, the container never
/// blocks, `logs` still answers with what is on disk, the daemon lives and says so in its events,
/// and once space is back the container's output is logged again.</summary>
[Trait("Needs", "root")]
public sealed class LogFullDiskTests
{
    [Fact]
    public void A_full_data_root_leaves_logs_readable_and_the_daemon_alive_and_logging_resumes()
    {
        // No cap worth the name: the log alone fills the disk.
        using var d = new DaemonFixture("gocker.logs { max-size = 1g, max-file = 1 }", dataRootTmpfsSize: "24m");
        string? id = null;
        try
        {
            var t0 = DateTimeOffset.UtcNow.AddSeconds(-1).ToString("yyyy-MM-ddTHH:mm:ss.fffffffZ");
            // Room we give back later.
            var ballast = Path.Combine(d.DataRoot, "ballast");
            File.WriteAllBytes(ballast, new byte[4 << 20]);
            // ~29 MB of output (more than the disk), then a mark in /dev/shm (not on the data root), a
            // wait for the go-ahead, and one more line.
            id = LogRotationTests.Ok(d, "run", "-d", "--network", "none", "busybox", "sh", "-c",
                "seq 1 4000000; touch /dev/shm/written; while [ ! -e /dev/shm/go ]; do sleep 0.1; done; echo after-the-disk-was-freed");
            // The container is not blocked by the full disk: it gets through all its output.
            var deadline = DateTime.UtcNow.AddSeconds(90);
            while (d.Gocker("exec", id, "test", "-e", "/dev/shm/written").ExitCode != 0)
            {
                Assert.True(DateTime.UtcNow < deadline, "the container did not get through its output (blocked on the full disk?)\n" + d.DaemonLog);
                Thread.Sleep(200);
            }
            Assert.True(d.Ping(), "the daemon died");
            var failed = LogRotationTests.Ok(d, "events", "--since", t0, "--until", "0s", "--filter", "container=" + id,
                "--filter", "event=log-write-failed", "--format", "{{.Action}} {{.Actor.Attributes.path}}");
            Assert.Contains("log-write-failed " + Path.Combine(d.DataRoot, "containers", id, "log"), failed);
            // What is on disk is served, from the first line on, whole lines in order up to the cut.
            var logs = d.Gocker("logs", id);
            Assert.True(logs.ExitCode == 0, logs.ToString());
            Assert.StartsWith("1\n2\n3\n", logs.Stdout);
            var lines = logs.Stdout.Split('\n');
            Assert.True(lines.Length > 100_000, $"only {lines.Length} lines on disk");
            for (var i = 0; i < 100_000; i++) Assert.Equal((i + 1).ToString(), lines[i]);
            Assert.Equal(0, d.Gocker("logs", "--tail", "3", id).ExitCode);

            File.Delete(ballast);
            Assert.Equal(0, d.Gocker("exec", id, "touch", "/dev/shm/go").ExitCode);
            Assert.Equal("0", LogRotationTests.Ok(d, "wait", id));
            Assert.EndsWith("after-the-disk-was-freed", LogRotationTests.Ok(d, "logs", "--tail", "1", id));
            var resumed = LogRotationTests.Ok(d, "events", "--since", t0, "--until", "0s", "--filter", "container=" + id,
                "--filter", "event=log-write-resumed", "--format", "{{.Actor.Attributes.droppedBytes}}");
            // Near the edge a smaller chunk may fit where a bigger one did not: several fail/resume
            // pairs, whose drops add up to the output that found no room.
            Assert.True(resumed.Split('\n').Sum(long.Parse) > 1_000_000, $"dropped: {resumed}");
            LogRotationTests.Ok(d, "rm", id);
            id = null;
            d.AssertNoLeaks();
        }
        catch (Exception ex) when (ex is not Xunit.Sdk.XunitException)
        {
            throw new Xunit.Sdk.XunitException(ex + "\n--- daemon\n" + d.DaemonLog);
        }
        finally
        {
            if (id is not null) d.Gocker("rm", "-f", id);
        }
    }
}
