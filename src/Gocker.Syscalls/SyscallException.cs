using System.Runtime.InteropServices;

namespace Gocker.Syscalls;

/// <summary>A failed Linux call. Carries the operation, the path it failed on (if any) and errno,
/// so that errors read like "mount overlay on /run/gocker/x/rootfs: No such file or directory".</summary>
public class SyscallException : Exception
{
    public string Operation { get; }
    public string? Path { get; }
    public int Errno { get; }

    public SyscallException(string operation, string? path, int errno)
        : base(Format(operation, path, errno))
    {
        Operation = operation;
        Path = path;
        Errno = errno;
    }

    public SyscallException(string operation, string? path, string message)
        : base(path is null ? $"{operation}: {message}" : $"{operation} {path}: {message}")
    {
        Operation = operation;
        Path = path;
    }

    static string Format(string op, string? path, int errno) =>
        path is null ? $"{op}: {ErrnoText.Describe(errno)}" : $"{op} {path}: {ErrnoText.Describe(errno)}";
}

public static class ErrnoText
{
    public static string Describe(int errno) => $"{Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})";
}
