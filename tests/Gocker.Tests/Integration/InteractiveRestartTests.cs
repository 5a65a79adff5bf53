using System.Text.Json.Nodes;

namespace Gocker.Tests.Integration;

/// <summary>The documented limit of tty containers across a daemon restart: the pty master dies with
/// gockerd, so the kernel hangs the terminal up. A shell exits (SIGHUP); a process that ignores SIGHUP
/// runs on and is re-adopted; an -i container's stdin reaches EOF.</summary>
public sealed class InteractiveRestartTests : IDisposable
{
    readonly LifecycleDaemon _d = new();

    public void Dispose() => _d.Dispose();

    string Status(string id) => JsonNode.Parse(_d.Ok("inspect", id))!.AsArray()[0]!["State"]!["Status"]!.ToString();

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
    public void After_a_restart_a_hup_ignoring_tty_container_is_readopted_and_a_shell_has_ended()
    {
        var shell = _d.Ok("run", "-d", "-it", "--network", "none", "busybox", "sh");
        var immune = _d.Ok("run", "-d", "-it", "--network", "none", "busybox", "sh", "-c", "trap '' HUP; while true; do sleep 1; done");
        var piped = _d.Ok("run", "-d", "-i", "--network", "none", "busybox", "cat");
        WaitFor(() => Status(shell) == "running" && Status(immune) == "running" && Status(piped) == "running", "all running");

        _d.Kill9();
        _d.Start();

        WaitFor(() => Status(shell) == "exited", "the shell ended by the hang-up");
        WaitFor(() => Status(piped) == "exited", "cat ended by its stdin's EOF");
        Assert.Equal("running", Status(immune));
        // Re-adopted: the daemon controls it as before.
        _d.Ok("kill", "-s", "KILL", immune);
        WaitFor(() => Status(immune) == "exited", "the re-adopted container killed");
        Assert.Equal("137", JsonNode.Parse(_d.Ok("inspect", immune))!.AsArray()[0]!["State"]!["ExitCode"]!.ToString());
        _d.Ok("rm", "-f", immune, shell, piped);
        _d.AssertNoLeaks();
    }
}
