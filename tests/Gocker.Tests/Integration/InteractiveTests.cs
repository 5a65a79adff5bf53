namespace Gocker.Tests.Integration;

/// <summary>`run -it`, `run -i`, `attach`, detach keys and resize: the real console in a real
/// terminal (tmux), the real daemon, real containers.</summary>
[Trait("Needs", "root")]
public sealed class InteractiveTests(DaemonFixture daemon) : IClassFixture<DaemonFixture>, IDisposable
{
    public void Dispose()
    {
        AssertNoTerminalsLeft();
        daemon.AssertNoLeaks();
    }

    string Console(string args) =>
        $"{GockerBinaries.Gocker} -H unix://{daemon.Socket} {args}; echo EXIT=$?; sleep 600";

    static string Unique(string prefix) => prefix + Guid.NewGuid().ToString("N")[..8];

    int DaemonPid()
    {
        foreach (var dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid)) continue;
            try
            {
                var cmd = File.ReadAllText(Path.Combine(dir, "cmdline"));
                if (cmd.Contains("gockerd") && cmd.Contains(daemon.Socket)) return pid;
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        throw new InvalidOperationException("gockerd of this fixture not found");
    }

    /// <summary>Once every container is gone, the daemon holds no pty master and no stdin pipe.</summary>
    void AssertNoTerminalsLeft()
    {
        int pid = DaemonPid();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        List<string> held;
        while (true)
        {
            held = Directory.GetFileSystemEntries($"/proc/{pid}/fd")
                .Select(f => { try { return new FileInfo(f).LinkTarget ?? ""; } catch (IOException) { return ""; } })
                .Where(t => t.StartsWith("/dev/pts/") || t == "/dev/ptmx")
                .ToList();
            if (held.Count == 0 || DateTime.UtcNow > deadline) break;
            Thread.Sleep(100);
        }
        Assert.True(held.Count == 0, "daemon still holds terminals: " + string.Join(", ", held));
    }

    string Status(string name)
    {
        var r = daemon.Gocker("inspect", name);
        if (r.ExitCode != 0) return ""; // not created yet
        using var doc = System.Text.Json.JsonDocument.Parse(r.Stdout);
        return doc.RootElement[0].GetProperty("State").GetProperty("Status").GetString()!;
    }

    static void WaitUntil(Func<bool> ok, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!ok())
        {
            if (DateTime.UtcNow > deadline) throw new Xunit.Sdk.XunitException("never: " + what);
            Thread.Sleep(100);
        }
    }

    [Fact]
    public void Run_it_gives_a_real_terminal_that_resizes_detaches_and_reattaches()
    {
        var name = Unique("tty-");
        try
        {
            using (var term = new TmuxConsole(Console($"run -it --name {name} --network none busybox sh")))
            {
                term.WaitFor("/ #");
                // The split keeps the typed line from matching the output.
                term.Type("echo hel''lo; tty; stty size");
                var screen = term.WaitFor(s => s.Contains("\nhello") && s.Contains("30 100"), "hello and the size");
                Assert.Contains("/dev/console", screen); // ttyname works: /dev/console is the pty's slave
                Assert.DoesNotContain("job control turned off", screen); // it is the controlling terminal

                term.ResizeAndWaitForShell(120, 40);

                // Ctrl-C reaches the foreground job through the terminal, not the console.
                term.Type("sleep 300; echo after-sl''eep");
                WaitUntil(() => daemon.Gocker("top", name).Stdout.Contains("sleep 300"), "sleep running");
                term.Keys("C-c");
                term.Type("echo int''errupted");
                term.WaitFor("\ninterrupted");

                // Detach: the console exits 0, the container runs on.
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
            // The terminal's output went to the log too (raw, as docker's tty mode).
            Assert.Contains("back", daemon.Gocker("logs", name).Stdout);
        }
        finally { daemon.Gocker("rm", "-f", name); }
    }

    [Fact]
    public void Custom_detach_keys_detach_and_the_default_ones_then_pass_through()
    {
        var name = Unique("keys-");
        try
        {
            using var term = new TmuxConsole(Console($"run -it --detach-keys ctrl-a,x --name {name} --network none busybox sh"));
            term.WaitFor("/ #");
            term.Keys("C-p", "C-q"); // ordinary input now
            term.Type("echo st''ill");
            term.WaitFor("\nstill");
            term.Keys("C-a", "x");
            term.WaitFor("EXIT=0");
            Assert.Equal("running", Status(name));
        }
        finally { daemon.Gocker("rm", "-f", name); }
    }

    [Fact]
    public void Run_it_exit_code_of_a_killed_container_is_128_plus_the_signal()
    {
        var name = Unique("kill-");
        try
        {
            using var term = new TmuxConsole(Console($"run -it --name {name} --network none busybox sleep 300"));
            WaitUntil(() => Status(name) == "running", "running");
            daemon.Gocker("kill", "-s", "KILL", name);
            term.WaitFor("EXIT=137");
        }
        finally { daemon.Gocker("rm", "-f", name); }
    }

    [Fact]
    public void Piped_stdin_reaches_the_container_and_its_end_ends_cat()
    {
        var r = daemon.GockerWithInput("hi\nthere\n", "run", "--rm", "-i", "--network", "none", "busybox", "cat");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("hi\nthere\n", r.Stdout);

        var wc = daemon.GockerWithInput(new string('x', 200_000), "run", "--rm", "-i", "--network", "none", "busybox", "wc", "-c");
        Assert.True(wc.ExitCode == 0, wc.ToString());
        Assert.Equal("200000", wc.Stdout.Trim());
    }

    [Fact]
    public void Without_i_stdin_is_closed_so_cat_ends_at_once()
    {
        var r = daemon.GockerWithInput("not for the container\n", "run", "--rm", "--network", "none", "busybox", "cat");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("", r.Stdout);
    }

    [Fact]
    public void Run_it_without_a_terminal_is_refused()
    {
        var r = daemon.GockerWithInput("", "run", "--rm", "-it", "--network", "none", "busybox", "true");
        Assert.Equal(125, r.ExitCode);
        Assert.Contains("the input device is not a TTY", r.Stderr);
    }
}
