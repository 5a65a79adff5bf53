using System.Text;
using static Gocker.Syscalls.Native.Consts;

namespace Gocker.Syscalls.Native;

/// <summary>
/// Thin throwing wrappers over <see cref="Libc"/>: each failure becomes a SyscallException naming the
/// operation and the path. Retries EINTR where a call can be interrupted.
/// </summary>
public static unsafe class Sys
{
    /// <summary>NUL-terminated UTF-8 for a libc call.</summary>
    public static byte[] Z(string s)
    {
        var b = new byte[Encoding.UTF8.GetByteCount(s) + 1];
        Encoding.UTF8.GetBytes(s, b);
        return b;
    }

    static SyscallException Fail(string op, string? path) => new(op, path, Libc.Errno);

    public static int Open(string path, int flags, int mode = 0)
    {
        fixed (byte* p = Z(path))
        {
            int fd;
            do fd = Libc.open(p, flags | O_CLOEXEC, mode); while (fd < 0 && Libc.Errno == EINTR);
            return fd >= 0 ? fd : throw Fail("open", path);
        }
    }

    public static void Close(int fd)
    {
        // close(2) must not be retried on EINTR on Linux: the fd is gone either way.
        if (fd >= 0) Libc.close(fd);
    }

    /// <summary>Moves fd to the lowest free descriptor >= min, with CLOEXEC, and closes the original.
    /// On failure the original stays open (still the caller's to close).</summary>
    public static int MoveAbove(int fd, int min)
    {
        int nfd = Libc.fcntl(fd, F_DUPFD_CLOEXEC, min);
        if (nfd < 0) throw Fail("fcntl F_DUPFD_CLOEXEC", null);
        Libc.close(fd);
        return nfd;
    }

    public static (int Read, int Write) Pipe()
    {
        int* fds = stackalloc int[2];
        if (Libc.pipe2(fds, O_CLOEXEC) != 0) throw Fail("pipe2", null);
        return (fds[0], fds[1]);
    }

    /// <summary>Writes all bytes; returns false on EPIPE (reader gone).</summary>
    public static bool WriteAll(int fd, ReadOnlySpan<byte> data)
    {
        fixed (byte* p = data)
        {
            int off = 0;
            while (off < data.Length)
            {
                var n = Libc.write(fd, p + off, data.Length - off);
                if (n < 0)
                {
                    int e = Libc.Errno;
                    if (e == EINTR) continue;
                    if (e == EPIPE) return false;
                    throw new SyscallException("write", null, e);
                }
                off += (int)n;
            }
        }
        return true;
    }

    /// <summary>Reads until EOF (or max bytes).</summary>
    public static byte[] ReadToEnd(int fd, int max = 64 * 1024)
    {
        var buf = new byte[4096];
        int len = 0;
        while (true)
        {
            if (len == buf.Length)
            {
                if (buf.Length >= max) break;
                Array.Resize(ref buf, buf.Length * 2);
            }
            nint n;
            fixed (byte* p = buf) n = Libc.read(fd, p + len, buf.Length - len);
            if (n < 0)
            {
                if (Libc.Errno == EINTR) continue;
                throw Fail("read", null);
            }
            if (n == 0) break;
            len += (int)n;
        }
        return buf.AsSpan(0, len).ToArray();
    }

    public static int PidfdOpen(int pid)
    {
        long fd = Libc.syscall(SYS_pidfd_open, pid, 0, 0, 0, 0);
        return fd >= 0 ? (int)fd : throw Fail("pidfd_open", pid.ToString());
    }

    /// <summary>openat2(2) with a resolve mask. Returns -errno instead of throwing, so callers can create what is missing.</summary>
    public static int OpenAt2(int dirfd, string path, int flags, ulong resolve, int mode = 0)
    {
        ulong* how = stackalloc ulong[3];
        how[0] = (ulong)(flags | O_CLOEXEC);
        how[1] = (ulong)mode;
        how[2] = resolve;
        fixed (byte* p = Z(path))
        {
            long fd;
            do fd = Libc.syscall(SYS_openat2, dirfd, (nint)p, (nint)how, 24, 0);
            while (fd < 0 && (Libc.Errno == EINTR || Libc.Errno == EAGAIN));
            return fd >= 0 ? (int)fd : -Libc.Errno;
        }
    }

    public static void Mount(string? source, string target, string? fstype, ulong flags, string? data, string what)
    {
        fixed (byte* s = source is null ? null : Z(source))
        fixed (byte* t = Z(target))
        fixed (byte* f = fstype is null ? null : Z(fstype))
        fixed (byte* d = data is null ? null : Z(data))
            if (Libc.mount(s, t, f, flags, d) != 0) throw Fail("mount " + what, target);
    }

    /// <summary>(st_dev, st_ino, st_mode) of fd (path "") or of path relative to dirfd; a final symlink is followed only if asked.</summary>
    public static bool TryStat(int dirfd, string path, out ulong dev, out ulong ino, out int mode, bool follow = false)
    {
        byte* st = stackalloc byte[256];
        int r;
        fixed (byte* p = Z(path))
            r = Libc.fstatat(dirfd, p, st, (path.Length == 0 ? AT_EMPTY_PATH : 0) | (follow ? 0 : AT_SYMLINK_NOFOLLOW));
        if (r != 0) { dev = ino = 0; mode = 0; return false; }
        dev = *(ulong*)st; ino = *(ulong*)(st + 8); mode = (int)*(uint*)(st + 24);
        return true;
    }

    /// <summary>st_mode and st_rdev of fd (x86_64 struct stat: st_mode at 24, st_rdev at 40).</summary>
    public static bool TryStatDevice(int fd, out int mode, out ulong rdev)
    {
        byte* st = stackalloc byte[256];
        int r;
        fixed (byte* p = Z(""))
            r = Libc.fstatat(fd, p, st, AT_EMPTY_PATH);
        if (r != 0) { mode = 0; rdev = 0; return false; }
        mode = (int)*(uint*)(st + 24); rdev = *(ulong*)(st + 40);
        return true;
    }

    /// <summary>st_mode, st_uid, st_gid and st_rdev of path (x86_64 struct stat: 24, 28, 32, 40).</summary>
    public static bool TryStatOwner(int dirfd, string path, bool follow, out int mode, out uint uid, out uint gid, out ulong rdev)
    {
        byte* st = stackalloc byte[256];
        int r;
        fixed (byte* p = Z(path))
            r = Libc.fstatat(dirfd, p, st, (path.Length == 0 ? AT_EMPTY_PATH : 0) | (follow ? 0 : AT_SYMLINK_NOFOLLOW));
        if (r != 0) { mode = 0; uid = gid = 0; rdev = 0; return false; }
        mode = (int)*(uint*)(st + 24); uid = *(uint*)(st + 28); gid = *(uint*)(st + 32); rdev = *(ulong*)(st + 40);
        return true;
    }

    /// <summary>chown of a path (no symlink followed at its end).</summary>
    public static void Chown(string path, uint uid, uint gid)
    {
        fixed (byte* p = Z(path))
            if (Libc.fchownat(Consts.AT_FDCWD, p, uid, gid, Consts.AT_SYMLINK_NOFOLLOW) != 0) throw Fail("chown", path);
    }

    public static long FsType(int fd)
    {
        byte* buf = stackalloc byte[256];
        if (Libc.fstatfs(fd, buf) != 0) throw Fail("fstatfs", null);
        return *(long*)buf;
    }
}
