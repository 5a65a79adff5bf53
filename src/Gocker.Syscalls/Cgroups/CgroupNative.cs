using System.Runtime.InteropServices;
using System.Text;
using Tmds.Linux;

namespace Gocker.Syscalls.Cgroups;

/// <summary>The few raw calls the cgroup drivers need, with errno kept so errors can name it.
/// statfs is not in Tmds.LibC, so it is imported here.</summary>
internal static unsafe partial class CgroupNative
{
    public const long CgroupSuperMagic = 0x27e0eb;
    public const long Cgroup2SuperMagic = 0x63677270;
    public const long TmpfsMagic = 0x01021994;

    [LibraryImport("libc", EntryPoint = "statfs", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int statfs_native(string path, byte* buf);

    /// <summary>f_type of the filesystem holding <paramref name="path"/>, or -errno.</summary>
    public static long FilesystemMagic(string path, out int errno)
    {
        // struct statfs is 120 bytes on 64-bit Linux; f_type is its first field (a long).
        byte* buf = stackalloc byte[256];
        if (statfs_native(path, buf) != 0)
        {
            errno = Marshal.GetLastPInvokeError();
            return -1;
        }
        errno = 0;
        return IntPtr.Size == 8 ? *(long*)buf : *(int*)buf;
    }

    static byte[] Z(string s)
    {
        var b = new byte[Encoding.UTF8.GetByteCount(s) + 1];
        Encoding.UTF8.GetBytes(s, 0, s.Length, b, 0);
        return b;
    }

    /// <summary>Write the whole value in one write(2): cgroup files parse one write at a time.</summary>
    public static int WriteFile(string path, string value)
    {
        var p = Z(path);
        var data = Encoding.ASCII.GetBytes(value);
        int fd;
        // O_TRUNC as runc does: meaningless on cgroupfs, needed for fixture files.
        fixed (byte* pp = p) fd = LibC.open(pp, LibC.O_WRONLY | LibC.O_TRUNC | LibC.O_CLOEXEC | LibC.O_NOFOLLOW, 0);
        if (fd < 0) return LibC.errno;
        try
        {
            fixed (byte* d = data)
            {
                while (true)
                {
                    long n = LibC.write(fd, d, data.Length);
                    if (n >= 0) return 0;
                    int e = LibC.errno;
                    if (e != LibC.EINTR) return e;
                }
            }
        }
        finally { LibC.close(fd); }
    }

    /// <summary>Read a (small) cgroup file; returns errno or 0.</summary>
    public static int ReadFile(string path, out string text)
    {
        text = "";
        var p = Z(path);
        int fd;
        fixed (byte* pp = p) fd = LibC.open(pp, LibC.O_RDONLY | LibC.O_CLOEXEC | LibC.O_NOFOLLOW, 0);
        if (fd < 0) return LibC.errno;
        try
        {
            var ms = new MemoryStream();
            var buf = new byte[8192];
            fixed (byte* b = buf)
            {
                while (true)
                {
                    long n = LibC.read(fd, b, buf.Length);
                    if (n < 0)
                    {
                        int e = LibC.errno;
                        if (e == LibC.EINTR) continue;
                        return e;
                    }
                    if (n == 0) break;
                    ms.Write(buf, 0, (int)n);
                }
            }
            text = Encoding.UTF8.GetString(ms.GetBuffer(), 0, (int)ms.Length);
            return 0;
        }
        finally { LibC.close(fd); }
    }

    public static int Mkdir(string path)
    {
        var p = Z(path);
        fixed (byte* pp = p) return LibC.mkdir(pp, 0x1ed /* 0755 */) == 0 ? 0 : LibC.errno;
    }

    public static int Rmdir(string path)
    {
        var p = Z(path);
        fixed (byte* pp = p) return LibC.rmdir(pp) == 0 ? 0 : LibC.errno;
    }

    // ---- the OOM watch (CgroupEventWatcher): eventfd for v1, inotify for v2, one epoll set
    public const int EFD_CLOEXEC = 0x80000, EFD_NONBLOCK = 0x800;
    public const int IN_CLOEXEC = 0x80000, IN_NONBLOCK = 0x800;
    public const uint IN_MODIFY = 0x2, IN_IGNORED = 0x8000;

    [LibraryImport("libc", EntryPoint = "eventfd", SetLastError = true)]
    public static partial int eventfd(uint initval, int flags);
    [LibraryImport("libc", EntryPoint = "inotify_init1", SetLastError = true)]
    public static partial int inotify_init1(int flags);
    [LibraryImport("libc", EntryPoint = "inotify_add_watch", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int inotify_add_watch(int fd, string path, uint mask);
    [LibraryImport("libc", EntryPoint = "inotify_rm_watch", SetLastError = true)]
    public static partial int inotify_rm_watch(int fd, int wd);

    /// <summary>open(2) read-only, close-on-exec, no symlink; the fd or -errno.</summary>
    public static int OpenReadOnly(string path)
    {
        var p = Z(path);
        int fd;
        fixed (byte* pp = p) fd = LibC.open(pp, LibC.O_RDONLY | LibC.O_CLOEXEC | LibC.O_NOFOLLOW, 0);
        return fd >= 0 ? fd : -LibC.errno;
    }

    public static int Close(int fd) => LibC.close(fd);
    public static long Read(int fd, byte* buf, int count) => LibC.read(fd, buf, count);
    public static int LastErrno => Marshal.GetLastPInvokeError();
    public static int EINTR => LibC.EINTR;
    public static int EAGAIN => LibC.EAGAIN;

    public static int Kill(int pid, int sig) => LibC.kill(pid, sig) == 0 ? 0 : LibC.errno;

    public static int SIGKILL => LibC.SIGKILL;
    public static int EEXIST => LibC.EEXIST;
    public static int ENOENT => LibC.ENOENT;
    public static int EBUSY => LibC.EBUSY;
    public static int ESRCH => LibC.ESRCH;
    public static int ENOTEMPTY => LibC.ENOTEMPTY;
}
