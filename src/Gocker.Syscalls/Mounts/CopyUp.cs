using Gocker.Syscalls.Native;
using static Gocker.Syscalls.Native.Consts;

namespace Gocker.Syscalls.Mounts;

/// <summary>
/// Docker's copy-up: a volume that is still empty when a container mounts it gets what the image has
/// at the mount's destination (files, directories, symlinks, fifos and device nodes, with their
/// owners and modes), and the destination directory's owner and mode.
///
/// Why by fds only: the volume may be shared with a container that is already running, which could
/// plant a symlink in it while we copy (the shape of CVE-2018-15664). Every entry is created with
/// mkdirat/openat(O_CREAT|O_EXCL|O_NOFOLLOW)/symlinkat relative to an fd of its parent, and every
/// directory is entered with O_NOFOLLOW|O_DIRECTORY: nothing is ever written through a symlink.
/// The source side is the container's rootfs (resolved in root before this is called), walked the
/// same way, so an image's symlink is copied as a symlink, never followed.
/// </summary>
public static unsafe class CopyUp
{
    const int MaxDepth = 512;
    const int S_IFIFO = 0x1000, S_IFBLK = 0x6000;

    /// <summary>Copies the directory sourceDir (an fd, O_PATH is enough) into targetDir if targetDir
    /// is empty. Returns false (nothing done) if it was not.</summary>
    public static bool IntoEmpty(int sourceDir, int targetDir, string shown)
    {
        int src = Reopen(sourceDir, shown);
        int dst = -1;
        try
        {
            dst = Reopen(targetDir, shown);
            if (Entries(dst).Any()) return false;
            CopyTree(src, dst, shown, 0);
            if (!Sys.TryStatOwner(src, "", false, out int mode, out uint uid, out uint gid, out _))
                throw new SyscallException("copy-up: stat", shown, Libc.Errno);
            SetOwnerMode(dst, uid, gid, mode, shown);
            return true;
        }
        finally
        {
            Sys.Close(src);
            if (dst >= 0) Sys.Close(dst);
        }
    }

    static int Reopen(int fd, string shown)
    {
        fixed (byte* dot = Sys.Z("."))
        {
            int r = Libc.openat(fd, dot, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
            return r >= 0 ? r : throw new SyscallException("copy-up: open", shown, Libc.Errno);
        }
    }

    /// <summary>Names in the directory fd (the magic link opens exactly that directory).</summary>
    static IEnumerable<string> Entries(int dirFd) =>
        Directory.EnumerateFileSystemEntries(InRoot.FdPath(dirFd)).Select(Path.GetFileName).Where(n => n is { Length: > 0 })!;

    static void CopyTree(int src, int dst, string shown, int depth)
    {
        if (depth > MaxDepth) throw new SyscallException("copy-up", shown, "directory tree too deep");
        foreach (var name in Entries(src).ToList())
        {
            var path = shown + "/" + name;
            if (!Sys.TryStatOwner(src, name, false, out int mode, out uint uid, out uint gid, out ulong rdev))
                throw new SyscallException("copy-up: stat", path, Libc.Errno);
            fixed (byte* n = Sys.Z(name))
            {
                switch (mode & S_IFMT)
                {
                    case S_IFDIR:
                    {
                        if (Libc.mkdirat(dst, n, 0x1c0 /*0700 until its content is in*/) != 0) throw new SyscallException("copy-up: mkdir", path, Libc.Errno);
                        int s = Libc.openat(src, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
                        if (s < 0) throw new SyscallException("copy-up: open", path, Libc.Errno);
                        int d = Libc.openat(dst, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
                        if (d < 0) { int e = Libc.Errno; Sys.Close(s); throw new SyscallException("copy-up: open", path, e); }
                        try
                        {
                            CopyTree(s, d, path, depth + 1);
                            SetOwnerMode(d, uid, gid, mode, path);
                        }
                        finally { Sys.Close(s); Sys.Close(d); }
                        break;
                    }
                    case S_IFREG:
                    {
                        int s = Libc.openat(src, n, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
                        if (s < 0) throw new SyscallException("copy-up: open", path, Libc.Errno);
                        int d = Libc.openat(dst, n, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0x180 /*0600*/);
                        if (d < 0) { int e = Libc.Errno; Sys.Close(s); throw new SyscallException("copy-up: create", path, e); }
                        try
                        {
                            CopyData(s, d, path);
                            SetOwnerMode(d, uid, gid, mode, path);
                        }
                        finally { Sys.Close(s); Sys.Close(d); }
                        break;
                    }
                    case S_IFLNK:
                    {
                        var buf = new byte[4096];
                        nint len;
                        fixed (byte* b = buf) len = (nint)Tmds.Linux.LibC.readlinkat(src, n, b, buf.Length);
                        if (len < 0) throw new SyscallException("copy-up: readlink", path, Libc.Errno);
                        var target = new byte[len + 1];
                        Array.Copy(buf, target, len);
                        fixed (byte* t = target)
                            if (Libc.symlinkat(t, dst, n) != 0) throw new SyscallException("copy-up: symlink", path, Libc.Errno);
                        if (Libc.fchownat(dst, n, uid, gid, AT_SYMLINK_NOFOLLOW) != 0) throw new SyscallException("copy-up: chown", path, Libc.Errno);
                        break;
                    }
                    case S_IFIFO or S_IFCHR or S_IFBLK:
                    {
                        // mknodat never follows; a device node may be refused in a user namespace (EPERM):
                        // Docker's copy fails there too, we skip that node rather than the whole start.
                        if (Libc.mknodat(dst, n, mode & (S_IFMT | 0xfff), rdev) != 0)
                        {
                            if (Libc.Errno == EPERM && (mode & S_IFMT) != S_IFIFO) break;
                            throw new SyscallException("copy-up: mknod", path, Libc.Errno);
                        }
                        if (Libc.fchownat(dst, n, uid, gid, AT_SYMLINK_NOFOLLOW) != 0) throw new SyscallException("copy-up: chown", path, Libc.Errno);
                        break;
                    }
                    default:
                        break; // sockets: a bound socket is no content (Docker skips them too)
                }
            }
        }
    }

    static void CopyData(int s, int d, string path)
    {
        var buf = new byte[128 * 1024];
        fixed (byte* b = buf)
            while (true)
            {
                nint n = Libc.read(s, b, buf.Length);
                if (n < 0) { if (Libc.Errno == EINTR) continue; throw new SyscallException("copy-up: read", path, Libc.Errno); }
                if (n == 0) return;
                if (!Sys.WriteAll(d, new ReadOnlySpan<byte>(b, (int)n))) throw new SyscallException("copy-up: write", path, Libc.Errno);
            }
    }

    /// <summary>Owner first: a chown clears the setuid/setgid bits the chmod then sets.</summary>
    static void SetOwnerMode(int fd, uint uid, uint gid, int mode, string path)
    {
        if (Tmds.Linux.LibC.fchown(fd, uid, gid) != 0) throw new SyscallException("copy-up: chown", path, Libc.Errno);
        if (Tmds.Linux.LibC.fchmod(fd, (ushort)(mode & 0xfff)) != 0) throw new SyscallException("copy-up: chmod", path, Libc.Errno);
    }
}
