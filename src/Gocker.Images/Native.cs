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
