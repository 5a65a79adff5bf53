using System.Text.Json.Nodes;

namespace Gocker.Tests.Integration;

/// <summary>tty and -i containers across a daemon restart: the terminal keeper holds a copy of each
/// pty master, so a shell runs on (TerminalKeeperTests goes further); an -i container's stdin pipe
/// dies with gockerd and reaches EOF.</summary>
[Trait("Needs", "root")]
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
    public void After_a_restart_tty_containers_are_readopted_and_a_piped_stdin_has_ended()
    {
        var shell = _d.Ok("run", "-d", "-it", "--network", "none", "busybox", "sh");
        var immune = _d.Ok("run", "-d", "-it", "--network", "none", "busybox", "sh", "-c", "trap '' HUP; while true; do sleep 1; done");
        var piped = _d.Ok("run", "-d", "-i", "--network", "none", "busybox", "cat");
        WaitFor(() => Status(shell) == "running" && Status(immune) == "running" && Status(piped) == "running", "all running");

        _d.Kill9();
        _d.Start();

        WaitFor(() => Status(piped) == "exited", "cat ended by its stdin's EOF");
        WaitFor(() => Status(shell) == "running" && Status(immune) == "running", "both tty containers re-adopted");
        // Re-adopted: the daemon controls it as before.
        _d.Ok("kill", "-s", "KILL", immune);
        WaitFor(() => Status(immune) == "exited", "the re-adopted container killed");
        Assert.Equal("137", JsonNode.Parse(_d.Ok("inspect", immune))!.AsArray()[0]!["State"]!["ExitCode"]!.ToString());
        _d.Ok("rm", "-f", immune, shell, piped);
        _d.AssertNoLeaks();
    }
}
