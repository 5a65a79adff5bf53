namespace Gocker.Tests.Integration;

/// <summary>`start -a [-i]` (docker's start --attach --interactive): the real console, the real daemon,
/// real containers; the terminal cases in a real terminal (tmux).</summary>
[Trait("Needs", "root")]
public sealed class StartAttachTests(DaemonFixture daemon) : IClassFixture<DaemonFixture>, IDisposable
{
    public void Dispose()
    {
        AssertNoTerminalsLeft();
        daemon.AssertNoLeaks();
    }

    string Console(string args) =>
        $"{GockerBinaries.Gocker} -H unix://{daemon.Socket} {args}; echo EXIT=$?; sleep 600";

    static string Unique(string prefix) => prefix + Guid.NewGuid().ToString("N")[..8];

    string Ok(params string[] args)
    {
        var r = daemon.Gocker(args);
        Assert.True(r.ExitCode == 0, $"gocker {string.Join(' ', args)}: {r}");
        return r.Stdout.Trim();
    }

    string Status(string name)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(Ok("inspect", name));
        return doc.RootElement[0].GetProperty("State").GetProperty("Status").GetString()!;
    }

    /// <summary>Once every container is gone, the daemon holds no pty master.</summary>
    void AssertNoTerminalsLeft()
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        List<string> held;
        while (true)
        {
            held = Directory.GetFileSystemEntries($"/proc/{daemon.DaemonPid}/fd")
                .Select(f => { try { return new FileInfo(f).LinkTarget ?? ""; } catch (IOException) { return ""; } })
                .Where(t => t.StartsWith("/dev/pts/") || t == "/dev/ptmx")
                .ToList();
            if (held.Count == 0 || DateTime.UtcNow > deadline) break;
            Thread.Sleep(100);
        }
        Assert.True(held.Count == 0, "daemon still holds terminals: " + string.Join(", ", held));
    }

    [Fact]
    public void Start_a_relays_stdout_and_stderr_and_exits_with_the_code_also_when_started_again()
    {
        var name = Unique("sa-");
        try
        {
            Ok("create", "--name", name, "--network", "none", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3");
            var first = daemon.Gocker("start", "-a", name);
            Assert.True(first.ExitCode == 3, first.ToString());
            Assert.Equal("out\n", first.Stdout);
            Assert.Equal("err\n", first.Stderr);

            // An exited container: attached before it starts again, so its output and exit are not missed.
            var again = daemon.Gocker("start", "--attach", name);
            Assert.True(again.ExitCode == 3, again.ToString());
            Assert.Equal("out\n", again.Stdout);
            Assert.Equal("err\n", again.Stderr);
            Assert.Equal("exited", Status(name));
        }
        finally { daemon.Gocker("rm", "-f", name); }
    }

    [Fact]
    public void Piped_stdin_reaches_a_container_created_with_i_and_its_end_ends_cat_on_every_start()
    {
        var name = Unique("sai-");
        try
        {
            Ok("create", "-i", "--name", name, "--network", "none", "busybox", "cat");
            var first = daemon.GockerWithInput("hi\n", "start", "-ai", name);
            Assert.True(first.ExitCode == 0, first.ToString());
            Assert.Equal("hi\n", first.Stdout);

            // The next run gets a fresh stdin (the first one's was closed by its end).
            var second = daemon.GockerWithInput("there\n", "start", "-a", "-i", name);
            Assert.True(second.ExitCode == 0, second.ToString());
            Assert.Equal("there\n", second.Stdout);
            Assert.Equal("hi\nthere\n", Ok("logs", name) + "\n");
        }
        finally { daemon.Gocker("rm", "-f", name); }
    }

    [Fact]
    public void Start_ai_gives_a_created_tty_container_the_terminal_as_run_it_does()
    {
        var name = Unique("stty-");
        try
        {
            Ok("create", "-it", "--name", name, "--network", "none", "busybox", "sh");
            using (var term = new TmuxConsole(Console($"start -ai --detach-keys ctrl-a,x {name}")))
            {
                term.WaitFor("/ #");
                // Custom detach keys: the default ones are ordinary input (sent before any command:
                // Ctrl-P would recall one), then ctrl-a x detaches.
                term.Keys("C-p", "C-q");
                // The split keeps the typed line from matching the output.
                term.Type("echo hel''lo; tty; stty size");
                var screen = term.WaitFor(s => s.Contains("\nhello") && s.Contains("30 100"), "hello and the size");
                Assert.Contains("/dev/console", screen);
                term.ResizeAndWaitForShell(120, 40);
                term.Keys("C-a", "x");
                term.WaitFor("EXIT=0");
                Assert.Equal("running", Status(name));
            }

            // start -ai on a running container attaches (docker does); the default keys detach.
            using (var term = new TmuxConsole(Console($"start -ai {name}")))
            {
                term.Keys("Enter");
                term.WaitFor("/ #");
                term.Type("echo ag''ain");
                term.WaitFor("\nagain");
                term.Keys("C-p", "C-q");
                term.WaitFor("EXIT=0");
                Assert.Equal("running", Status(name));
            }

            using (var term = new TmuxConsole(Console($"attach {name}")))
            {
                term.Keys("Enter");
                term.WaitFor("/ #");
                term.Type("echo ba''ck; exit 3");
                term.WaitFor("EXIT=3");
                Assert.Contains("\nback", term.Screen());
            }
            Assert.Equal("exited", Status(name));

            // And once more from exited: a fresh terminal for the new run, its exit code passed through.
            using (var term = new TmuxConsole(Console($"start -ai {name}")))
            {
                term.WaitFor("/ #");
                term.Type("exit 4");
                term.WaitFor("EXIT=4");
            }
        }
        finally { daemon.Gocker("rm", "-f", name); }
    }

    [Fact]
    public void Start_ai_of_a_tty_container_without_a_terminal_is_refused_and_starts_nothing()
    {
        var name = Unique("snotty-");
        try
        {
            Ok("create", "-it", "--name", name, "--network", "none", "busybox", "sh");
            var r = daemon.GockerWithInput("", "start", "-ai", name);
            Assert.Equal(125, r.ExitCode);
            Assert.Contains("the input device is not a TTY", r.Stderr);
            Assert.Equal("created", Status(name));
        }
        finally { daemon.Gocker("rm", "-f", name); }
    }

    [Fact]
    public void Start_a_of_a_missing_container_fails_cleanly()
    {
        var missing = Unique("nosuch-");
        foreach (var flags in new[] { new[] { "-a" }, ["-ai"] })
        {
            var r = daemon.Gocker(["start", .. flags, missing]);
            Assert.True(r.ExitCode == 1, r.ToString());
            Assert.Equal($"gocker: Error response from daemon: No such container: {missing}\n", r.Stderr);
            Assert.Equal("", r.Stdout);
        }
        var two = daemon.Gocker("start", "-a", missing, missing + "x");
        Assert.Equal(125, two.ExitCode);
        Assert.Contains("you cannot start and attach multiple containers at once", two.Stderr);
    }
}
