using Gocker.Syscalls;
using Gocker.Syscalls.Native;
using Gocker.Syscalls.Spawn;
using static Gocker.Syscalls.Native.Consts;

namespace Gocker.Init;

/// <summary>USER inside the container: resolved from the container's own /etc/passwd and /etc/group
/// (read after pivot_root or setns(mnt), so every path resolves inside the container), applied
/// last, just before the go pipe: setgroups, setgid, setuid.</summary>
static unsafe class Users
{
    const long SYS_setuid = 105, SYS_setgid = 106, SYS_setgroups = 116;
    const int MaxEtcFile = 4 << 20;

    public static ResolvedUser Resolve(string user)
    {
        try { return UserResolver.Resolve(user, ReadEtc("/etc/passwd"), ReadEtc("/etc/group")); }
        catch (UnknownUserException e) { throw new InitFailure(125, e.Message); }
    }

    /// <summary>
    /// Raw syscalls, per thread: the thread that calls them is the one that execs, and glibc's
    /// set*id broadcast to the runtime's other threads (which die at execve) would buy nothing.
    /// setuid to a non-zero uid also clears the permitted and effective capabilities, as in Docker.
    /// </summary>
    public static void Apply(ResolvedUser u)
    {
        var groups = stackalloc uint[Math.Max(1, u.Groups.Length)];
        for (int i = 0; i < u.Groups.Length; i++) groups[i] = u.Groups[i];
        if (Libc.syscall(SYS_setgroups, u.Groups.Length, (nint)groups, 0, 0, 0) != 0) throw new SyscallException("setgroups", null, Libc.Errno);
        if (Libc.syscall(SYS_setgid, (nint)u.Gid, 0, 0, 0, 0) != 0) throw new SyscallException("setgid", u.Gid.ToString(), Libc.Errno);
        if (Libc.syscall(SYS_setuid, (nint)u.Uid, 0, 0, 0, 0) != 0) throw new SyscallException("setuid", u.Uid.ToString(), Libc.Errno);
    }

    /// <summary>HOME from passwd when the environment has none (Docker does the same).</summary>
    public static string[] WithHome(string[] env, ResolvedUser u) =>
        env.Any(e => e.StartsWith("HOME=", StringComparison.Ordinal)) ? env : [.. env, "HOME=" + u.Home];

    /// <summary>
    /// Reads a small regular file, or null if there is none. O_NONBLOCK and the type check guard
    /// against an image whose /etc/passwd is a FIFO or a device: opening or reading that would hang
    /// the init (and the start waiting for it) for ever.
    /// </summary>
    internal static string? ReadEtc(string path)
    {
        int fd;
        fixed (byte* p = Sys.Z(path)) fd = Libc.open(p, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0);
        if (fd < 0)
        {
            int e = Libc.Errno;
            if (e == ENOENT || e == ENOTDIR) return null;
            throw new SyscallException("open", path, e);
        }
        try
        {
            if (!Sys.TryStat(fd, "", out _, out _, out int mode) || (mode & S_IFMT) != S_IFREG)
                throw new InitFailure(125, $"{path} is not a regular file");
            var data = Sys.ReadToEnd(fd, MaxEtcFile);
            return System.Text.Encoding.UTF8.GetString(data);
        }
        finally { Libc.close(fd); }
    }
}
