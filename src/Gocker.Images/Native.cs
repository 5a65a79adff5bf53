using System.Runtime.InteropServices;
using System.Text;
using Gocker.Syscalls;

namespace Gocker.Images;

/// <summary>The few libc calls Tmds.LibC lacks, and helpers shared by the image code.</summary>
internal static partial class Native
{
    public const int LOCK_EX = 2;

    [LibraryImport("libc", SetLastError = true)]
    public static partial int flock(int fd, int operation);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int fsetxattr(int fd, string name, ReadOnlySpan<byte> value, nuint size, int flags);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint lgetxattr(string path, string name, Span<byte> value, nuint size);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static unsafe partial int statx(int dirfd, string path, int flags, uint mask, Statx* buf);

    public const int AT_FDCWD = -100, AT_SYMLINK_NOFOLLOW = 0x100, AT_EMPTY_PATH = 0x1000;
    public const uint STATX_BASIC_STATS = 0x7ff;

    /// <summary>struct statx (the same on every architecture, unlike struct stat).</summary>
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    public struct Statx
    {
        [FieldOffset(16)] public uint Nlink;
        [FieldOffset(20)] public uint Uid;
        [FieldOffset(24)] public uint Gid;
        [FieldOffset(28)] public ushort Mode;
        [FieldOffset(32)] public ulong Ino;
        [FieldOffset(40)] public ulong Size;
        [FieldOffset(112)] public long MtimeSec;
        [FieldOffset(120)] public uint MtimeNsec;
        [FieldOffset(128)] public uint RdevMajor;
        [FieldOffset(132)] public uint RdevMinor;
        [FieldOffset(136)] public uint DevMajor;
        [FieldOffset(140)] public uint DevMinor;

        public int Type => Mode & 0xF000;
        public DateTimeOffset Mtime => DateTimeOffset.FromUnixTimeSeconds(MtimeSec).AddTicks(MtimeNsec / 100);
    }

    /// <summary>lstat of a host path (never follows a final symlink).</summary>
    public static unsafe Statx Lstat(string path)
    {
        Statx st;
        if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &st) != 0) throw Error("statx", path);
        return st;
    }

    public static unsafe Statx Fstat(int fd, string pathForErrors)
    {
        Statx st;
        if (statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &st) != 0) throw Error("statx", pathForErrors);
        return st;
    }

    /// <summary>True if the path (not followed) carries the xattr with exactly this value.</summary>
    public static bool HasXattr(string path, string name, ReadOnlySpan<byte> value)
    {
        Span<byte> buf = stackalloc byte[16];
        var n = lgetxattr(path, name, buf, (nuint)buf.Length);
        return n == value.Length && buf[..(int)n].SequenceEqual(value);
    }

    /// <summary>A NUL-terminated UTF-8 copy of a path for the byte* libc calls.</summary>
    public static byte[] Z(string s)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(s) + 1];
        Encoding.UTF8.GetBytes(s, bytes);
        return bytes;
    }

    public static SyscallException Error(string op, string? path) =>
        new(op, path, Marshal.GetLastPInvokeError());

    public static SyscallException Error(string op, string? path, int errno) => new(op, path, errno);
}
