using System.Runtime.InteropServices;

namespace Gocker.Syscalls.Terminal;

/// <summary>The libc calls and ioctl numbers (x86_64) for pseudo-terminals and termios. Kept apart from
/// Native.Libc so the console can use the terminal code without the rest of the syscall surface.</summary>
static unsafe partial class TerminalNative
{
    const string L = "libc.so.6";

    public const int O_RDWR = 2, O_NOCTTY = 0x100, O_CLOEXEC = 0x80000;
    public const int EINTR = 4, EIO = 5, EAGAIN = 11, EINVAL = 22, ENOTTY = 25;
    public const nuint TIOCGWINSZ = 0x5413, TIOCSWINSZ = 0x5414, TIOCSCTTY = 0x540E, TIOCGPTPEER = 0x5441,
        TIOCGPGRP = 0x540F;
    public const int TCSANOW = 0;
    /// <summary>glibc's struct termios on x86_64 is 60 bytes; a little slack costs nothing.</summary>
    public const int TermiosSize = 64;

    [LibraryImport(L, EntryPoint = "posix_openpt", SetLastError = true)]
    public static partial int posix_openpt(int flags);
    [LibraryImport(L, EntryPoint = "grantpt", SetLastError = true)]
    public static partial int grantpt(int fd);
    [LibraryImport(L, EntryPoint = "unlockpt", SetLastError = true)]
    public static partial int unlockpt(int fd);
    [LibraryImport(L, EntryPoint = "ptsname_r", SetLastError = true)]
    public static partial int ptsname_r(int fd, byte* buf, nint len);
    [LibraryImport(L, EntryPoint = "ioctl", SetLastError = true)]
    public static partial int ioctl(int fd, nuint request, nint arg);
    [LibraryImport(L, EntryPoint = "open", SetLastError = true)]
    public static partial int open(byte* path, int flags, int mode);
    [LibraryImport(L, EntryPoint = "close", SetLastError = true)]
    public static partial int close(int fd);
    [LibraryImport(L, EntryPoint = "read", SetLastError = true)]
    public static partial nint read(int fd, byte* buf, nint count);
    [LibraryImport(L, EntryPoint = "write", SetLastError = true)]
    public static partial nint write(int fd, byte* buf, nint count);
    [LibraryImport(L, EntryPoint = "poll", SetLastError = true)]
    public static partial int poll(long* fds, nuint nfds, int timeout);
    [LibraryImport(L, EntryPoint = "isatty")]
    public static partial int isatty(int fd);
    [LibraryImport(L, EntryPoint = "tcgetattr", SetLastError = true)]
    public static partial int tcgetattr(int fd, byte* termios);
    [LibraryImport(L, EntryPoint = "tcsetattr", SetLastError = true)]
    public static partial int tcsetattr(int fd, int action, byte* termios);
    [LibraryImport(L, EntryPoint = "cfmakeraw")]
    public static partial void cfmakeraw(byte* termios);

    public static int Errno => Marshal.GetLastPInvokeError();
}
