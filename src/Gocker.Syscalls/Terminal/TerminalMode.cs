using static Gocker.Syscalls.Terminal.TerminalNative;

namespace Gocker.Syscalls.Terminal;

/// <summary>Raw mode for the user's terminal while it is relayed to a container (the console side of
/// `run -it`, `attach`, `exec -it`): keys go through unchanged (Ctrl-C reaches the container's terminal
/// as a byte, not as a SIGINT to the console), no local echo. Dispose restores the saved settings;
/// call it on every exit path (it is idempotent, and safe from a signal handler's thread).</summary>
public sealed unsafe class TerminalMode : IDisposable
{
    readonly int _fd;
    readonly byte[] _saved;
    int _restored;

    TerminalMode(int fd, byte[] saved) { _fd = fd; _saved = saved; }

    public static bool IsTerminal(int fd) => isatty(fd) == 1;

    /// <summary>Saves fd's settings and switches it to raw (cfmakeraw: no echo, no canonical mode, no
    /// signal keys, no output processing, 8 bits, VMIN 1). Returns null when fd is no terminal.</summary>
    public static TerminalMode? MakeRaw(int fd)
    {
        var saved = new byte[TermiosSize];
        fixed (byte* s = saved)
            if (tcgetattr(fd, s) != 0) return null;
        var raw = (byte[])saved.Clone();
        fixed (byte* r = raw)
        {
            cfmakeraw(r);
            if (tcsetattr(fd, TCSANOW, r) != 0) throw new SyscallException("tcsetattr", $"fd {fd}", Errno);
        }
        return new TerminalMode(fd, saved);
    }

    /// <summary>The terminal's window size, or null when fd is no terminal.</summary>
    public static (ushort Rows, ushort Cols)? WindowSize(int fd) => Pty.GetWindowSize(fd);

    /// <summary>Puts the saved settings back (once).</summary>
    public void Restore()
    {
        if (Interlocked.Exchange(ref _restored, 1) != 0) return;
        fixed (byte* s = _saved) tcsetattr(_fd, TCSANOW, s);
    }

    public void Dispose() => Restore();
}
