using System.Diagnostics;

namespace Gocker.Tests.Integration;

/// <summary>`gocker exec -it` driven like a user would: the real console inside a tmux pane (tmux is
/// the terminal), keys typed with send-keys, the screen read with capture-pane.</summary>
[Trait("Needs", "root")]
public sealed class ExecTtyTests(DaemonFixture daemon) : IClassFixture<DaemonFixture>, IDisposable
{
    readonly string _tmux = "gx" + Guid.NewGuid().ToString("N")[..12];

    public void Dispose()
    {
        Tmux("kill-server");
        daemon.AssertNoLeaks();
    }

    string Tmux(params string[] args)
    {
        var psi = new ProcessStartInfo("tmux") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("-L");
        psi.ArgumentList.Add(_tmux);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return output;
    }

    string Screen() => Tmux("capture-pane", "-p", "-t", "t");

    void WaitFor(Func<string, bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var screen = Screen();
            if (condition(screen)) return;
            Assert.True(DateTime.UtcNow < deadline, $"never saw {what}; screen:\n{screen}\n{daemon.DaemonLog}");
            Thread.Sleep(50);
        }
    }

    [Fact]
    public void Exec_it_is_an_interactive_terminal_with_size_resize_ctrl_c_and_exit_code()
    {
        var name = "t" + Guid.NewGuid().ToString("N")[..10];
        var r = daemon.Gocker("run", "-d", "--network", "none", "--name", name, "busybox", "sleep", "1000");
        Assert.True(r.ExitCode == 0, r.ToString());
        var exitFile = Path.Combine(daemon.Root, "exit-" + name);
        try
        {
            var console = $"{GockerBinaries.Gocker} -H unix://{daemon.Socket} exec -it -e PS1='ctr$ ' {name} sh; echo EXIT=$? > {exitFile}";
            Tmux("new-session", "-d", "-s", "t", "-x", "100", "-y", "30", "sh", "-c", console);
            WaitFor(s => s.Contains("ctr$"), "the container shell's prompt");

            Tmux("send-keys", "-t", "t", "[ -t 0 ] && echo tty-$((40+2)); stty size", "Enter");
            WaitFor(s => s.Contains("tty-42") && s.Contains("30 100"), "a terminal of the pane's size");
            // A terminal of the container's own devpts: `tty` names it, and it is there in /dev/pts.
            Tmux("send-keys", "-t", "t", "t=$(tty); echo \"TTY=$t\"; test -c \"$t\" && echo IN-DEVPTS", "Enter");
            WaitFor(s => s.Contains("TTY=/dev/pts/") && s.Contains("IN-DEVPTS"), "the exec's tty inside the container's /dev/pts");

            Tmux("resize-window", "-t", "t", "-x", "120", "-y", "40");
            Thread.Sleep(300); // SIGWINCH -> resize request; the next stty shows it
            Tmux("send-keys", "-t", "t", "clear; stty size", "Enter");
            WaitFor(s => s.Contains("40 120"), "the new window size");

            // Ctrl-C is a byte for the container's terminal: it interrupts sleep, not the console.
            Tmux("send-keys", "-t", "t", "sleep 100; echo after-$((1+1))", "Enter");
            Thread.Sleep(300);
            Tmux("send-keys", "-t", "t", "C-c");
            // A fresh, empty prompt line appears only once the sleep was interrupted.
            WaitFor(s => s.Split('\n').Any(l => l.TrimEnd() == "ctr$"), "the prompt after Ctrl-C");

            Tmux("send-keys", "-t", "t", "exit 3", "Enter");
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (!File.Exists(exitFile) || File.ReadAllText(exitFile).Length == 0)
            {
                Assert.True(DateTime.UtcNow < deadline, "the console did not exit; screen:\n" + Screen());
                Thread.Sleep(50);
            }
            Assert.Equal("EXIT=3", File.ReadAllText(exitFile).Trim());
            // The user's terminal is back to cooked mode: the pane's shell echoes what it reads.
        }
        finally { daemon.Gocker("rm", "-f", name); }
    }
}
