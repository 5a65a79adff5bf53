using System.Runtime.InteropServices;

namespace Gocker.Syscalls.IO;

/// <summary>Free space of a filesystem (statvfs) and the recognition of "no space left" failures
/// (ENOSPC, EDQUOT), wherever .NET or our own calls report them.</summary>
public static unsafe partial class DiskSpace
{
    const int ENOSPC = 28, EDQUOT = 122;

    [LibraryImport("libc.so.6", EntryPoint = "statvfs", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int statvfs(string path, byte* buf);

    [LibraryImport("libc.so.6", EntryPoint = "renameat2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int renameat2(int olddirfd, string oldpath, int newdirfd, string newpath, uint flags);

    const int AT_FDCWD = -100;
    const uint RENAME_EXCHANGE = 2;

    /// <summary>Bytes an unprivileged writer may still use (f_bavail x f_frsize) and free inodes
    /// (f_favail) on the filesystem holding <paramref name="path"/>.</summary>
    public static (long Bytes, long Inodes) Available(string path)
    {
        // struct statvfs on 64-bit Linux: 11 unsigned longs then 6 ints (112 bytes).
        var buf = stackalloc byte[128];
        if (statvfs(path, buf) != 0) throw new SyscallException("statvfs", path, Marshal.GetLastPInvokeError());
        var u = (ulong*)buf;
        return ((long)Math.Min(u[4] * u[1], long.MaxValue), (long)Math.Min(u[7], long.MaxValue));
    }

    /// <summary>Swaps two existing names atomically (renameat2 RENAME_EXCHANGE): each keeps its
    /// inode and blocks, so nothing is allocated. False with errno when the filesystem cannot
    /// (EINVAL) or a name is missing (ENOENT).</summary>
    public static bool TryExchange(string a, string b, out int errno)
    {
        errno = 0;
        if (renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) == 0) return true;
        errno = Marshal.GetLastPInvokeError();
        return false;
    }

    /// <summary>Whether the failure is the disk (or a quota) being full.</summary>
    public static bool IsNoSpace(Exception? ex)
    {
        for (; ex is not null; ex = ex.InnerException)
        {
            if (ex is SyscallException s && s.Errno is ENOSPC or EDQUOT) return true;
            // .NET's IOExceptions on Unix carry the errno as HResult (and its text as the message).
            if (ex is IOException io && (io.HResult is ENOSPC or EDQUOT || io.Message.Contains("No space left on device", StringComparison.Ordinal)
                || io.Message.Contains("Disk quota exceeded", StringComparison.Ordinal))) return true;
        }
        return false;
    }

    public static string Describe(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):0.0} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):0.0} MiB",
        >= 1L << 10 => $"{bytes / 1024.0:0.0} KiB",
        _ => $"{bytes} B",
    };
}
