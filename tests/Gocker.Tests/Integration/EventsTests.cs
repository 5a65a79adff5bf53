using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace Gocker.Tests.Integration;

/// <summary>`gocker events` and GET /events against a real daemon: the kept log (--since/--until),
/// the live stream, filters; and `gocker console` driven through a pipe and through a tmux pty.</summary>
[Trait("Needs", "root")]
public sealed class EventsTests(DaemonFixture daemon) : IClassFixture<DaemonFixture>, IDisposable
{
    public void Dispose() => daemon.AssertNoLeaks();

    static string Name() => "ev" + Guid.NewGuid().ToString("N")[..10];

    string Ok(params string[] args)
    {
        var r = daemon.Gocker(args);
        Assert.True(r.ExitCode == 0, $"gocker {string.Join(' ', args)}: {r}\n--- daemon\n{daemon.DaemonLog}");
        return r.Stdout;
    }

    [Fact]
    public void Since_until_replays_create_start_die_destroy_in_order()
    {
        var t0 = DateTimeOffset.UtcNow.AddSeconds(-1).ToString("yyyy-MM-ddTHH:mm:ss.fffffffZ");
        var name = Name();
        var id = Ok("run", "-d", "--network", "none", "--name", name, "busybox", "sleep", "1000").Trim();
        Ok("stop", "-t", "1", name);
        Ok("rm", name);

        var actions = Ok("events", "--since", t0, "--until", "0s", "--filter", "container=" + name,
            "--format", "{{.Action}} {{.Actor.Attributes.exitCode}}").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var seq = actions.Select(a => a.Split(' ')[0]).ToList();
        int Pos(string action) => seq.IndexOf(action) is >= 0 and var p ? p : throw new Xunit.Sdk.XunitException($"no {action} in:\n{string.Join('\n', actions)}");
        Assert.True(Pos("create") < Pos("start") && Pos("start") < Pos("die") && Pos("die") < Pos("destroy"), string.Join('\n', actions));
        Assert.Equal("destroy", seq[^1]);
        Assert.Contains("die 137", actions); // sleep as PID 1 ignores TERM: KILLed after -t 1

        // The default line is docker's: TIME TYPE ACTION ID (attributes sorted).
        var lines = Ok("events", "--since", t0, "--until", "0s", "--filter", "container=" + id[..12], "--filter", "event=die");
        var line = Assert.Single(lines.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Matches($@"^\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{9}}Z container die {id} \(exitCode=137, image=busybox, name={name}\)$", line);

        // --until before the run: nothing of it.
        Assert.Equal("", Ok("events", "--since", "1h", "--until", t0, "--filter", "container=" + name).Trim());
        // JSON lines in Docker's shape.
        var json = JsonNode.Parse(Ok("events", "--since", t0, "--until", "0s", "--filter", "container=" + name, "--filter", "event=create", "--format", "json").Trim())!;
        Assert.Equal(("container", "create", id, "local", "create", id), (json["Type"]!.ToString(), json["Action"]!.ToString(),
            json["Actor"]!["ID"]!.ToString(), json["scope"]!.ToString(), json["status"]!.ToString(), json["id"]!.ToString()));
        Assert.Equal(json["time"]!.GetValue<long>(), json["timeNano"]!.GetValue<long>() / 1_000_000_000);
    }

    [Fact]
    public void A_running_events_process_prints_each_die_live()
    {
        var psi = new ProcessStartInfo(GockerBinaries.Gocker)
        {
            ArgumentList = { "-H", "unix://" + daemon.Socket, "events", "--filter", "event=die", "--format", "{{.Actor.Attributes.name}} {{.Actor.Attributes.exitCode}}" },
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        using var p = Process.Start(psi)!;
        var lines = new BlockingCollection<string>();
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lines.Add(e.Data); };
        p.BeginOutputReadLine();
        try
        {
            // The stream prints nothing until an event comes: run containers until the first die
            // shows, which proves the process is subscribed, then check one more by name.
            string? first = null;
            for (int i = 0; i < 20 && first is null; i++)
            {
                Assert.Equal(3, daemon.Gocker("run", "--rm", "--network", "none", "busybox", "sh", "-c", "exit 3").ExitCode);
                lines.TryTake(out first, TimeSpan.FromSeconds(2));
            }
            Assert.True(first is not null, "no die event printed\n" + daemon.DaemonLog);
            Assert.EndsWith(" 3", first);
            var name = Name();
            Assert.Equal(7, daemon.Gocker("run", "--rm", "--network", "none", "--name", name, "busybox", "sh", "-c", "exit 7").ExitCode);
            string? line = null;
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (line != $"{name} 7" && DateTime.UtcNow < deadline) lines.TryTake(out line, TimeSpan.FromSeconds(1));
            Assert.Equal($"{name} 7", line);
            Assert.False(p.HasExited, "the stream ended by itself");
        }
        finally
        {
            p.Kill();
            p.WaitForExit();
        }
    }

    /// <summary>The actions recorded for a container so far (the kept log, up to now).</summary>
    string[] ActionsOf(string id, string since) =>
        Ok("events", "--since", since, "--until", "0s", "--filter", "container=" + id, "--format", "{{.Action}}")
            .Split('\n', StringSplitOptions.RemoveEmptyEntries);

    JsonNode StateOf(string name) => JsonNode.Parse(Ok("inspect", name))![0]!["State"]!;

    [Fact]
    public void A_child_killed_by_the_oom_killer_raises_oom_while_the_container_keeps_running()
    {
        var t0 = DateTimeOffset.UtcNow.AddSeconds(-1).ToString("o");
        var name = Name();
        // The inner sh holds the 200 MB it reads (over the 32 MB limit) and is the OOM killer's
        // victim; PID 1 (the outer sh, a few hundred kB) survives and says how the child ended.
        var id = Ok("run", "-d", "--network", "none", "--name", name, "-m", "32m", "busybox", "sh", "-c",
            "sh -c 'x=$(head -c 200000000 /dev/zero | tr \"\\0\" a)'; echo child-exit $?; sleep 600").Trim();
        try
        {
            string[] actions = [];
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (!actions.Contains("oom") && DateTime.UtcNow < deadline)
            {
                Thread.Sleep(100);
                actions = ActionsOf(id, t0);
            }
            Assert.True(actions.Contains("oom"), $"no oom event:\n{string.Join('\n', actions)}\n--- logs\n{daemon.Gocker("logs", name)}\n--- daemon\n{daemon.DaemonLog}");
            // Raised while the container runs: no die yet, PID 1 alive, and Docker's OOMKilled already set.
            Assert.Equal(["create", "start", "oom"], actions);
            var state = StateOf(name);
            Assert.Equal("running", state["Status"]!.ToString());
            Assert.True(state["OOMKilled"]!.GetValue<bool>(), state.ToJsonString());
            Assert.True(TestWaitFor(() => daemon.Gocker("logs", name).Stdout.Contains("child-exit 137")), daemon.Gocker("logs", name).ToString());
        }
        finally { Ok("rm", "-f", name); }
        // One kill, one event: the exit (rm -f) announces no second one.
        var all = ActionsOf(id, t0);
        Assert.Equal(1, all.Count(a => a == "oom"));
        Assert.True(Array.IndexOf(all, "oom") < Array.IndexOf(all, "die"), string.Join('\n', all));
    }

    [Fact]
    public void Pid_1_killed_by_the_oom_killer_raises_oom_then_die_and_sets_oomkilled()
    {
        var t0 = DateTimeOffset.UtcNow.AddSeconds(-1).ToString("o");
        var name = Name();
        // PID 1's own shell reads the 200 MB into x: it is the victim.
        var r = daemon.Gocker("run", "--network", "none", "--name", name, "-m", "32m", "busybox", "sh", "-c",
            "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived");
        try
        {
            Assert.True(r.ExitCode == 137, r.ToString());
            var actions = Ok("events", "--since", t0, "--until", "0s", "--filter", "container=" + name,
                "--format", "{{.Action}} {{.Actor.Attributes.exitCode}}").Split('\n', StringSplitOptions.RemoveEmptyEntries);
            // Docker's template prints "<no value>" for an attribute an event lacks.
            Assert.Equal(["create <no value>", "start <no value>", "oom <no value>", "die 137"], actions);
            var state = StateOf(name);
            Assert.True(state["OOMKilled"]!.GetValue<bool>(), state.ToJsonString());
            Assert.Equal(137, state["ExitCode"]!.GetValue<int>());
            // The oom event carries the container's attributes, as Docker's does.
            var line = Ok("events", "--since", t0, "--until", "0s", "--filter", "container=" + name, "--filter", "event=oom").Trim();
            Assert.Matches($@" container oom [0-9a-f]{{64}} \(image=busybox, name={name}\)$", line);
        }
        finally { daemon.Gocker("rm", "-f", name); }
    }

    [Fact]
    public void A_re_adopted_container_reports_later_oom_kills_and_not_the_earlier_ones_again()
    {
        using var d = new LifecycleDaemon();
        var name = Name();
        // Two children, each OOM-killed when its go file appears; PID 1 survives both.
        var id = d.Ok("run", "-d", "--network", "none", "--name", name, "-m", "32m", "busybox", "sh", "-c",
            "for f in 1 2; do while [ ! -e /go$f ]; do sleep 0.1; done; sh -c 'x=$(head -c 200000000 /dev/zero | tr \"\\0\" a)'; done; sleep 600").Trim();
        int Ooms() => d.Ok("events", "--since", "1h", "--until", "0s", "--filter", "container=" + id, "--filter", "event=oom", "--format", "{{.Action}}")
            .Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
        d.Ok("exec", name, "touch", "/go1");
        Assert.True(TestWaitFor(() => Ooms() == 1), $"{Ooms()} oom events after the first kill\n{d.Log}");

        d.Kill9();
        d.Start();
        d.Ok("exec", name, "touch", "/go2");
        Assert.True(TestWaitFor(() => Ooms() == 2), $"{Ooms()} oom events after the kill that followed the re-adoption\n{d.Log}");
        Assert.Contains("running", d.Ok("ps", "--filter", "name=" + name, "--format", "{{.State}}"));
        d.Ok("rm", "-f", name);
        Assert.Equal(2, Ooms()); // the exit adds none: both were reported
        d.AssertNoLeaks();
    }

    static bool TestWaitFor(Func<bool> cond)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (cond()) return true;
            Thread.Sleep(100);
        }
        return cond();
    }

    [Fact]
    public void Network_events_come_from_the_api_routes()
    {
        var t0 = DateTimeOffset.UtcNow.AddSeconds(-1).ToString("o");
        var net = Name();
        var id = Ok("network", "create", net).Trim();
        Ok("network", "rm", net);
        var lines = Ok("events", "--since", t0, "--until", "0s", "--filter", "type=network", "--filter", "network=" + net,
            "--format", "{{.Action}} {{.Actor.ID}} {{.Actor.Attributes.name}}").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal([$"create {id} {net}", $"destroy {id} {net}"], lines);
    }

    [Fact]
    public void Events_are_kept_across_a_daemon_kill_and_restart()
    {
        using var d = new LifecycleDaemon();
        var name = Name();
        d.Ok("run", "--rm", "--network", "none", "--name", name, "busybox", "true");
        string[] Actions() => d.Ok("events", "--since", "1h", "--until", "0s", "--filter", "container=" + name, "--format", "{{.Action}}")
            .Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["create", "start", "die", "destroy"], Actions());
        d.Kill9();
        d.Start();
        Assert.Equal(["create", "start", "die", "destroy"], Actions());
        d.AssertNoLeaks();
    }

    [Fact]
    public void The_api_refuses_bad_filters_and_times_with_400()
    {
        foreach (var query in new[] { "filters=%7B%22colour%22%3A%5B%22red%22%5D%7D", "filters=notjson", "since=yesterday" })
        {
            using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            s.Connect(new UnixDomainSocketEndPoint(daemon.Socket));
            s.Send(Encoding.ASCII.GetBytes($"GET /events?{query} HTTP/1.0\r\nHost: d\r\n\r\n"));
            using var ns = new NetworkStream(s);
            var answer = new StreamReader(ns).ReadToEnd();
            Assert.StartsWith("HTTP/1.1 400", answer);
            Assert.Contains("invalid", answer);
        }
        var r = daemon.Gocker("events", "--since", "tomorrow-ish");
        Assert.Equal(125, r.ExitCode);
        Assert.Contains("--since", r.Stderr);
    }

    [Fact]
    public void Console_with_piped_lines_runs_each_and_leaves_containers_running_at_eof()
    {
        var name = Name();
        var script = $"ps -a\nrun --rm --network none busybox echo 'hi there'\n\n# a comment\nrun -d --network none --name {name} busybox sleep 1000\nbogus-command\n";
        var r = daemon.GockerWithInput(script, "console");
        try
        {
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Contains("CONTAINER ID", r.Stdout);
            Assert.Contains("hi there\n", r.Stdout);
            Assert.Contains("bogus-command", r.Stderr); // the parser's error, and the session went on
            Assert.DoesNotContain(ConsoleSessionPrompt, r.Stdout); // no prompt off a terminal
            var state = JsonNode.Parse(Ok("inspect", name))!.AsArray()[0]!["State"]!["Status"]!.ToString();
            Assert.Equal("running", state);
        }
        finally
        {
            daemon.Gocker("rm", "-f", name);
        }
    }

    const string ConsoleSessionPrompt = "gocker> ";

    [Fact]
    public void Console_on_a_pty_shows_events_above_a_prompt_that_keeps_the_typed_text()
    {
        var session = "gk" + Guid.NewGuid().ToString("N")[..8];
        var home = Path.Combine(daemon.Root, "home-" + session);
        Directory.CreateDirectory(home);
        var name = Name();
        string Pane() => Tmux("capture-pane", "-p", "-J", "-t", session).Stdout;
        string LastLine() => Pane().Split('\n').Last(l => l.Trim().Length > 0).TrimEnd();
        string WaitFor(Func<string, bool> ok, string what)
        {
            var deadline = DateTime.UtcNow.AddSeconds(30);
            string pane;
            while (!ok(pane = Pane()))
            {
                if (DateTime.UtcNow > deadline) throw new Xunit.Sdk.XunitException($"timed out waiting for {what}:\n{pane}");
                Thread.Sleep(100);
            }
            return pane;
        }
        var cmd = $"env HOME={home} {GockerBinaries.Gocker} -H unix://{daemon.Socket} console";
        Assert.Equal(0, Tmux("new-session", "-d", "-s", session, "-x", "160", "-y", "40", cmd).ExitCode);
        try
        {
            WaitFor(p => p.Contains(ConsoleSessionPrompt.TrimEnd()), "the prompt"); // the pane drops trailing blanks
            Tmux("send-keys", "-t", session, "ps -a", "Enter");
            WaitFor(p => p.Contains("CONTAINER ID"), "ps output");
            // Half a command typed, then an event arrives from elsewhere.
            Tmux("send-keys", "-t", session, "-l", "inspect half");
            WaitFor(p => LastLine().EndsWith("inspect half"), "the typed text");
            Ok("run", "--rm", "--network", "none", "--name", name, "busybox", "true");
            var pane = WaitFor(p => p.Contains($"container destroy") && p.Contains($"name={name})"), "the destroy event");
            Assert.Contains($"container start", pane);
            Assert.Equal(ConsoleSessionPrompt + "inspect half", LastLine());
            // Editing still works after the redraw: Ctrl-U clears, Up brings back history.
            Tmux("send-keys", "-t", session, "C-u");
            WaitFor(p => LastLine() == ConsoleSessionPrompt.TrimEnd(), "the cleared line");
            Tmux("send-keys", "-t", session, "Up");
            WaitFor(p => LastLine() == ConsoleSessionPrompt + "ps -a", "history recall");
            Tmux("send-keys", "-t", session, "C-u");
            Tmux("send-keys", "-t", session, "exit", "Enter");
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (Tmux("has-session", "-t", session).ExitCode == 0 && DateTime.UtcNow < deadline) Thread.Sleep(100);
            Assert.NotEqual(0, Tmux("has-session", "-t", session).ExitCode);
            var history = Path.Combine(home, ".gocker_history");
            Assert.Contains("ps -a", File.ReadAllLines(history));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(history));
        }
        finally
        {
            Tmux("kill-session", "-t", session);
        }
    }

    static CliResult Tmux(params string[] args)
    {
        var psi = new ProcessStartInfo("tmux") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return new CliResult(p.ExitCode, o.Result, e.Result);
    }
}
