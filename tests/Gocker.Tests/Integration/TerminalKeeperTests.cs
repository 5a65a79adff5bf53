using System.Text.Json.Nodes;

namespace Gocker.Tests.Integration;

/// <summary>
/// -t containers keep their terminal across daemon restarts: the daemon's terminal keeper
/// (gocker-init --keeper, one per exec root) holds a copy of each pty master; a new daemon takes it
/// back with pidfd_getfd. Through the real console and daemon, kill -9 and a clean stop (SIGTERM).
/// </summary>
[Trait("Needs", "root")]
public sealed class TerminalKeeperTests : IDisposable
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

    /// <summary>The keeper of this daemon's exec root, found by its command line (0: none runs).</summary>
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

    /// <summary>The pty masters a process holds (its descriptors that are /dev/ptmx).</summary>
    static int PtyMasters(int pid) =>
        Directory.GetFiles($"/proc/{pid}/fd").Count(fd =>
        {
            try { return new FileInfo(fd).LinkTarget == "/dev/ptmx"; }
            catch (IOException) { return false; }
        });

    string AttachCommand(string id) => $"{GockerBinaries.Gocker} -H unix://{_d.Socket} attach {id}; echo EXIT=$?; sleep 600";

    /// <summary>Attaches in a real terminal, checks the prompt of the same shell (PID 1) answers a
    /// command, and detaches (ctrl-p ctrl-q) leaving it running.</summary>
    void AttachAndType(string id, string word)
    {
        using var term = new TmuxConsole(AttachCommand(id));
        term.Keys("Enter");
        term.WaitFor("/ #");
        // The quotes split the word so that the typed line itself never matches.
        term.Type($"echo {word[..2]}''{word[2..]} $$");
        term.WaitFor($"\n{word} 1");
        term.Keys("C-p", "C-q");
        term.WaitFor("EXIT=0");
    }

    void StopDaemonCleanly()
    {
        var pid = _d.Pid;
        Assert.Equal(0, Tmds.Linux.LibC.kill(pid, 15));
        WaitFor(() => ProcState.Gone(pid), "gockerd exited on SIGTERM");
    }

    /// <summary>Start again once the test host has seen the old daemon's exit (SIGCHLD is handled asynchronously).</summary>
    void StartAgain() => WaitFor(() =>
    {
        try { _d.Start(); return true; }
        catch (InvalidOperationException ex) when (ex.Message == "daemon already running") { return false; }
    }, "gockerd started again");

    [Fact]
    public void A_tty_shell_survives_kill9_and_a_clean_stop_of_the_daemon_with_its_terminal()
    {
        var id = _d.Ok("run", "-d", "-it", "--network", "none", "busybox", "sh");
        WaitFor(() => Status(id) == "running", "running");
        var shell = Pid(id);
        var keeper = KeeperPid();
        Assert.True(keeper > 0, "a keeper runs for the -t container");
        // It runs the daemon's sealed copy of gocker-init, not the host's file (CVE-2019-5736).
        Assert.StartsWith("/memfd:gocker-init", new FileInfo($"/proc/{keeper}/exe").LinkTarget);
        Assert.Equal(1, PtyMasters(keeper));

        _d.Kill9();
        _d.Start();
        WaitFor(() => Status(id) == "running", "re-adopted");
        Assert.Equal(shell, Pid(id));
        AttachAndType(id, "first");
        Assert.Contains("first 1", _d.Ok("logs", id)); // the terminal's output goes to the log again

        StopDaemonCleanly();
        StartAgain();
        WaitFor(() => Status(id) == "running", "re-adopted after a clean stop");
        Assert.Equal(shell, Pid(id));
        Assert.Matches(@"\n\s*1 root\s+sh\n", "\n" + _d.Ok("exec", id, "ps") + "\n");
        AttachAndType(id, "second");
        Assert.Contains("second 1", _d.Ok("logs", id));
        Assert.Equal(keeper, KeeperPid()); // one keeper across the three daemons

        _d.Ok("stop", "-t", "1", id);
        Assert.Equal("exited", Status(id));
        // Its only terminal gone, the keeper exits (and its cgroup is removed).
        WaitFor(() => KeeperProbe.Idle(KeeperPid()), "the keeper holds nothing with the last -t container");
        _d.Ok("rm", id);
        _d.AssertNoLeaks();
        // Holding nothing, it leaves with its daemon.
        Assert.True(KeeperPid() > 0, "the keeper stays, holding nothing, while its daemon runs");
        StopDaemonCleanly();
        WaitFor(() => KeeperPid() == 0, "the idle keeper exited with its daemon");
        // ... and its cgroup with it: a stopped daemon leaves no keeper cgroup behind.
        Assert.DoesNotContain(_d.CgroupParentDirs(), d => Directory.Exists(Path.Combine(d, "gocker-keeper")));
        StartAgain();
    }

    [Fact]
    public void The_keeper_holds_one_terminal_per_running_tty_container_and_nothing_after_rm()
    {
        var a = _d.Ok("run", "-d", "-it", "--network", "none", "busybox", "sleep", "600");
        var b = _d.Ok("run", "-d", "-it", "--network", "none", "busybox", "sh");
        var plain = _d.Ok("run", "-d", "--network", "none", "busybox", "sleep", "600");
        WaitFor(() => Status(a) == "running" && Status(b) == "running" && Status(plain) == "running", "running");
        var keeper = KeeperPid();
        Assert.Equal(2, PtyMasters(keeper));
        // The container's command holds only its 0, 1, 2 (the terminal's slave), nothing of the keeper's.
        Assert.Equal(["0", "1", "2"], Directory.GetFiles($"/proc/{Pid(a)}/fd").Select(f => Path.GetFileName(f)!).Order().ToArray());

        _d.Ok("rm", "-f", a);
        Assert.Equal(keeper, KeeperPid());
        Assert.Equal(1, PtyMasters(keeper));

        // A new daemon releases what an old one handed over.
        _d.Kill9();
        _d.Start();
        WaitFor(() => Status(b) == "running", "re-adopted");
        _d.Ok("rm", "-f", b);
        // The non-tty container's output pipes are still held (not pty masters).
        Assert.Equal(0, PtyMasters(KeeperPid()));
        Assert.True(KeeperPid() > 0, "the keeper holds plain's output pipes");
        _d.Ok("rm", "-f", plain);
        WaitFor(() => KeeperProbe.Idle(KeeperPid()), "the keeper holds nothing");
        _d.AssertNoLeaks();
    }

    [Fact]
    public void Without_its_keeper_a_tty_container_is_readopted_without_a_terminal()
    {
        // Ignores the hang-up that comes when the last master (the daemon's) closes.
        var id = _d.Ok("run", "-d", "-it", "--network", "none", "busybox", "sh", "-c", "trap '' HUP; while true; do sleep 1; done");
        WaitFor(() => Status(id) == "running", "running");
        var keeper = KeeperPid();
        Assert.Equal(0, Tmds.Linux.LibC.kill(keeper, 9));
        WaitFor(() => KeeperPid() == 0, "keeper killed");

        _d.Kill9();
        _d.Start();
        WaitFor(() => Status(id) == "running", "re-adopted");
        WaitFor(() => _d.Log.Contains("re-adopted without a terminal"), "the log says it has no terminal");
        _d.Ok("stop", "-t", "1", id);
        Assert.Equal("exited", Status(id));
        _d.Ok("rm", id);
        _d.AssertNoLeaks();
    }
}
