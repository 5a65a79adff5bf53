using System.Runtime.InteropServices;

namespace Gocker.Actors.Logs;

/// <summary>The few inotify calls the log indexer needs (not in Tmds.LibC).</summary>
static class Inotify
{
    public const uint IN_MODIFY = 0x2;
    public const uint IN_IGNORED = 0x8000;
    public const int IN_NONBLOCK = 0x800;
    public const int IN_CLOEXEC = 0x80000;
    public const short POLLIN = 1;

    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd { public int Fd; public short Events; public short Revents; }

    [DllImport("libc", SetLastError = true)] public static extern int inotify_init1(int flags);
    [DllImport("libc", SetLastError = true)] public static extern int inotify_add_watch(int fd, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, uint mask);
    [DllImport("libc", SetLastError = true)] public static extern int inotify_rm_watch(int fd, int wd);
    [DllImport("libc", SetLastError = true)] public static extern unsafe nint read(int fd, byte* buf, nint count);
    [DllImport("libc", SetLastError = true)] public static extern unsafe int poll(PollFd* fds, nuint nfds, int timeout);
    [DllImport("libc", SetLastError = true)] public static extern int close(int fd);
}
