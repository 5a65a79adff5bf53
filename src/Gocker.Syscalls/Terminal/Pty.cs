using System.Text;
using Gocker.Syscalls.Native;
using static Gocker.Syscalls.Terminal.TerminalNative;

namespace Gocker.Syscalls.Terminal;

/// <summary>A pseudo-terminal pair: the master (kept by whoever relays the terminal) and the slave (given to
/// the process as its stdio and controlling terminal). Both descriptors are O_CLOEXEC and O_NOCTTY: a
/// daemon holding many of them must never leak one into an unrelated child, nor acquire one as its own
/// controlling terminal. Dispose closes whatever the owner has not taken.</summary>
public sealed unsafe class Pty : IDisposable
{
    int _master, _slave;

    /// <summary>The master descriptor (-1 once taken or closed).</summary>
    public int Master => _master;
    /// <summary>The slave descriptor (-1 once taken or closed).</summary>
    public int Slave => _slave;
    /// <summary>The slave's path in the devpts instance it came from (e.g. /dev/pts/3).</summary>
    public string SlavePath { get; }

    Pty(int master, int slave, string slavePath) { _master = master; _slave = slave; SlavePath = slavePath; }

    /// <summary>Opens a new pair on the caller's /dev/ptmx, optionally with a window size.</summary>
    public static Pty Open(ushort rows = 0, ushort cols = 0)
    {
        int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (m < 0) throw new SyscallException("posix_openpt", "/dev/ptmx", Errno);
        return FromMaster(m, rows, cols);
    }

    /// <summary>
    /// A pair from the devpts instance of a container: its /dev/ptmx, resolved inside the rootfs of
    /// <paramref name="rootDirFd"/> (a /proc/PID/root fd) so that the slave is one of the container's
    /// own /dev/pts/N (`tty` names it). Why so careful: the container owns its /dev and may have
    /// replaced ptmx by a symlink or by any device node (CAP_MKNOD): the path is resolved with
    /// RESOLVE_IN_ROOT, and only a character device 5:2 (a ptmx) is opened, through the O_PATH fd
    /// that was checked, never by path again. Null when it is not there (the caller falls back).
    /// </summary>
    public static Pty? OpenInRoot(int rootDirFd, ushort rows = 0, ushort cols = 0)
    {
        int path;
        try { path = Gocker.Syscalls.Mounts.InRoot.Open(rootDirFd, "dev/ptmx"); }
        catch (SyscallException) { return null; }
        try
        {
            const int S_IFMT = 0xF000, S_IFCHR = 0x2000;
            if (!Sys.TryStatDevice(path, out var mode, out var rdev) || (mode & S_IFMT) != S_IFCHR) return null;
            // glibc's makedev: major in bits 8-19 (and 32-43), minor in bits 0-7 (and 12-31).
            var major = ((rdev >> 8) & 0xfff) | ((rdev >> 32) & ~0xfffUL);
            var minor = (rdev & 0xff) | ((rdev >> 12) & ~0xffUL);
            if (major != 5 || minor != 2) return null;
            int m = Sys.Open(Gocker.Syscalls.Mounts.InRoot.FdPath(path), O_RDWR | O_NOCTTY | O_CLOEXEC);
            return FromMaster(m, rows, cols);
        }
        catch (SyscallException) { return null; }
        finally { Sys.Close(path); }
    }

    static Pty FromMaster(int m, ushort rows, ushort cols)
    {
        try
        {
            // grantpt is a no-op on devpts (the kernel sets the owner), kept for portability.
            if (grantpt(m) != 0) throw new SyscallException("grantpt", null, Errno);
            if (unlockpt(m) != 0) throw new SyscallException("unlockpt", null, Errno);
            var name = Name(m);
            // TIOCGPTPEER opens the slave through the master, not by path: nothing can swap the path
            // between unlockpt and open (and it works when /dev/pts is not where the master's devpts is).
            int s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
            if (s < 0)
            {
                if (Errno != EINVAL && Errno != ENOTTY) throw new SyscallException("ioctl TIOCGPTPEER", name, Errno);
                fixed (byte* p = Encoding.UTF8.GetBytes(name + "\0"))
                    s = open(p, O_RDWR | O_NOCTTY | O_CLOEXEC, 0);
                if (s < 0) throw new SyscallException("open", name, Errno);
            }
            var pty = new Pty(m, s, name);
            if (rows != 0 || cols != 0) SetWindowSize(m, rows, cols);
            return pty;
        }
        catch
        {
            close(m);
            throw;
        }
    }

    static string Name(int master)
    {
        byte* buf = stackalloc byte[128];
        int e = ptsname_r(master, buf, 128);
        if (e != 0) throw new SyscallException("ptsname_r", null, e);
        return new string((sbyte*)buf);
    }

    /// <summary>Hands the master to the caller, who closes it from now on.</summary>
    public int TakeMaster() { var m = _master; _master = -1; return m; }
    /// <summary>Hands the slave to the caller, who closes it from now on.</summary>
    public int TakeSlave() { var s = _slave; _slave = -1; return s; }

    /// <summary>Closes the slave: the holder of the master does so once the child has its copy, so that the
    /// master reads EOF (EIO) when the child's side is gone.</summary>
    public void CloseSlave() { if (_slave >= 0) { close(_slave); _slave = -1; } }

    public void Dispose()
    {
        CloseSlave();
        if (_master >= 0) { close(_master); _master = -1; }
    }

    /// <summary>TIOCSWINSZ on either side; the kernel sends SIGWINCH to the foreground process group.</summary>
    public static void SetWindowSize(int fd, ushort rows, ushort cols)
    {
        ushort* ws = stackalloc ushort[4];
        ws[0] = rows; ws[1] = cols; ws[2] = 0; ws[3] = 0;
        if (ioctl(fd, TIOCSWINSZ, (nint)ws) != 0) throw new SyscallException("ioctl TIOCSWINSZ", null, Errno);
    }

    /// <summary>TIOCGWINSZ: (rows, cols) of a terminal, or null when fd is no terminal.</summary>
    public static (ushort Rows, ushort Cols)? GetWindowSize(int fd)
    {
        ushort* ws = stackalloc ushort[4];
        if (ioctl(fd, TIOCGWINSZ, (nint)ws) != 0) return null;
        return (ws[0], ws[1]);
    }

    /// <summary>Makes fd (a slave, usually 0) the controlling terminal of the caller, which must be a session
    /// leader without one (call after setsid). Used by the container's init before exec.</summary>
    public static void MakeControllingTerminal(int fd)
    {
        if (ioctl(fd, TIOCSCTTY, 0) != 0) throw new SyscallException("ioctl TIOCSCTTY", null, Errno);
    }

    /// <summary>read(2) on a master: returns 0 at end (the kernel reports EIO on a master once every slave
    /// descriptor is closed, which means the same thing), retries EINTR.</summary>
    public static int Read(int fd, Span<byte> buf)
    {
        fixed (byte* p = buf)
            while (true)
            {
                var n = read(fd, p, buf.Length);
                if (n >= 0) return (int)n;
                int e = Errno;
                if (e == EINTR) continue;
                if (e == EIO) return 0;
                throw new SyscallException("read", "pty", e);
            }
    }

    /// <summary>poll(2) for input (or hang-up) on fd: true when a read will not block, false on timeout.</summary>
    public static bool WaitReadable(int fd, int timeoutMs)
    {
        // struct pollfd { int fd; short events; short revents; } = one 8-byte word; POLLIN = 1.
        long pfd = (uint)fd | (1L << 32);
        int r = poll(&pfd, 1, timeoutMs);
        if (r < 0 && Errno != EINTR) throw new SyscallException("poll", "pty", Errno);
        return r > 0;
    }

    /// <summary>Writes everything to fd; false when the other side is gone (EIO/EPIPE).</summary>
    public static bool WriteAll(int fd, ReadOnlySpan<byte> data)
    {
        fixed (byte* p = data)
        {
            int off = 0;
            while (off < data.Length)
            {
                var n = write(fd, p + off, data.Length - off);
                if (n < 0)
                {
                    int e = Errno;
                    if (e == EINTR || e == EAGAIN) continue;
                    if (e == EIO || e == 32) return false;
                    throw new SyscallException("write", "pty", e);
                }
                off += (int)n;
            }
        }
        return true;
    }
}
