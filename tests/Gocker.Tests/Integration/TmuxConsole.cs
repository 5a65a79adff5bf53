using System.Diagnostics;

namespace Gocker.Tests.Integration;

/// <summary>A real terminal for the real console: a tmux server of its own (unique socket), one
/// session running a shell command line, keys sent and the screen read back. Screen checks poll
/// with a deadline (no timing asserts).</summary>
public sealed class TmuxConsole : IDisposable
{
    readonly string _socket = "gk-it-" + Guid.NewGuid().ToString("N")[..10];

    [System.Runtime.InteropServices.DllImport("libc")]
    static extern uint geteuid();

    public TmuxConsole(string commandLine, int width = 100, int height = 30)
    {
        Tmux("new-session", "-d", "-x", width.ToString(), "-y", height.ToString(), commandLine);
    }

    public string Tmux(params string[] args)
    {
        var psi = new ProcessStartInfo("tmux") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("-L");
        psi.ArgumentList.Add(_socket);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd();
        var error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"tmux {string.Join(' ', args)}: {error}");
        return output;
    }

    /// <summary>Types text literally (no key names), optionally followed by Enter.</summary>
    public void Type(string text, bool enter = true)
    {
        Tmux("send-keys", "-l", text);
        if (enter) Tmux("send-keys", "Enter");
    }

    /// <summary>Sends key names (C-c, C-p, Enter...).</summary>
    public void Keys(params string[] keys) => Tmux(["send-keys", .. keys]);

    public string Screen() => Tmux("capture-pane", "-p", "-S", "-200");

    public void Resize(int width, int height) =>
        Tmux("resize-window", "-x", width.ToString(), "-y", height.ToString());

    /// <summary>Resizes the window, then asks the shell in it (`stty size`) until it sees the new size:
    /// the size travels SIGWINCH -> console -> daemon -> pty, so a single early ask can miss it.</summary>
    public void ResizeAndWaitForShell(int width, int height, int seconds = 30)
    {
        Resize(width, height);
        var expected = $"{height} {width}";
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!Screen().Contains(expected) && DateTime.UtcNow < deadline)
        {
            Type("stty size");
            Thread.Sleep(500);
        }
        WaitFor(expected, 1);
    }

    /// <summary>Waits until the screen satisfies the predicate; fails with the screen otherwise.</summary>
    public string WaitFor(Func<string, bool> ok, string what, int seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        string screen;
        while (!ok(screen = Screen()))
        {
            if (DateTime.UtcNow > deadline) throw new Xunit.Sdk.XunitException($"screen never showed {what}:\n{screen}");
            Thread.Sleep(100);
        }
        return screen;
    }

    public string WaitFor(string text, int seconds = 30) => WaitFor(s => s.Contains(text), $"'{text}'", seconds);

    public void Dispose()
    {
        try { Tmux("kill-server"); } catch (Exception) { /* already gone */ }
        // tmux leaves its socket file behind.
        var dir = Environment.GetEnvironmentVariable("TMUX_TMPDIR") is { Length: > 0 } t ? t : "/tmp";
        try { File.Delete(Path.Combine(dir, $"tmux-{geteuid()}", _socket)); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
