using Gocker.Syscalls.Keeper;
using Gocker.Syscalls.Native;
using Gocker.Syscalls.Security;
using static Gocker.Syscalls.Native.Consts;

namespace Gocker.Syscalls.Spawn;

/// <summary>
/// A remapped container's spawn (userns-remap): its own user namespace with Map, created by the init
/// before anything else (gocker-init's native constructor, native/userns.c), and its root filesystem
/// made by the daemon from idmapped layers (IdmappedOverlay) and handed to the init as fd 6.
/// What needs the host's privileges is done by the daemon on the init's behalf before it goes on:
/// resource limits above the current ones (CAP_SYS_RESOURCE of the host) and a lower oom_score_adj.
/// </summary>
public sealed record UsernsSpawn(IdMap Map, string[] LowerDirs, string UpperDir, string WorkDir, bool VolatileUpper)
{
    public Rlimit[]? Rlimits { get; init; }
    public int? OomScoreAdj { get; init; }
}

/// <summary>The daemon's side of the constructor's handshake on fd 5 (see native/userns.c).</summary>
static unsafe class UsernsHandshake
{
    public const int ChildFd = 5, RootfsFd = 6;
    const int TimeoutMs = 30_000;

    /// <summary>Waits for the child's "U" (its user namespace exists), writes the maps and what needs
    /// the host's privileges, and lets it go on ("G").</summary>
    public static void MapAndGo(int pid, int sock, int statusR, IdMap map, UsernsSpawn? spawn)
    {
        if (ReadMessage(sock, 1, statusR, "wait for the user namespace") is not [(byte)'U'])
            throw new SyscallException("userns handshake", $"pid {pid}", "unexpected message");
        // One write() each: the kernel takes a map only whole, in a single write.
        WriteProc(pid, "uid_map", map.UidMapLine);
        WriteProc(pid, "gid_map", map.GidMapLine);
        if (spawn?.OomScoreAdj is { } oom) WriteProc(pid, "oom_score_adj", oom.ToString(System.Globalization.CultureInfo.InvariantCulture));
        ProcessLimits.Set(pid, spawn?.Rlimits ?? []);
        byte go = (byte)'G';
        if (Libc.write(sock, &go, 1) != 1) throw new SyscallException("userns handshake go", $"pid {pid}", Libc.Errno);
    }

    /// <summary>The pid of the init the intermediate forked (our child by CLONE_PARENT).</summary>
    public static int ReadInitPid(int sock, int statusR)
    {
        var msg = ReadMessage(sock, 4, statusR, "wait for the init's pid");
        if (msg.Length != 4) throw new SyscallException("userns handshake", "init pid", "short message");
        return BitConverter.ToInt32(msg);
    }

    /// <summary>Reaps the intermediate process, which exits right after its last message.</summary>
    public static void Reap(int pid)
    {
        int pidfd = Sys.PidfdOpen(pid);
        try
        {
            byte* info = stackalloc byte[128];
            while (Libc.waitid(P_PIDFD, pidfd, info, WEXITED) != 0 && Libc.Errno == EINTR) { }
        }
        finally { Sys.Close(pidfd); }
    }

    static byte[] ReadMessage(int sock, int size, int statusR, string what)
    {
        if (!KeeperSocket.WaitReadable(sock, TimeoutMs))
            throw new SyscallException("userns handshake", what, "no answer in 30 s");
        var buf = stackalloc byte[8];
        nint n;
        do n = Libc.read(sock, buf, 8); while (n < 0 && Libc.Errno == EINTR);
        if (n < 0) throw new SyscallException("userns handshake", what, Libc.Errno);
        if (n == 0)
        {
            // The child failed and said why on the status pipe ("125 userns: ...").
            // One read of what is there: a forked init may still hold the pipe open.
            var why = "";
            if (KeeperSocket.WaitReadable(statusR, 1000))
            {
                var line = stackalloc byte[1024];
                var got = Libc.read(statusR, line, 1024);
                if (got > 0) why = System.Text.Encoding.UTF8.GetString(line, (int)got).Trim();
            }
            throw new SyscallException("userns handshake: " + what, null, why.Length > 0 ? why : "the process exited");
        }
        if (n != size) throw new SyscallException("userns handshake", what, $"{n} bytes instead of {size}");
        return new ReadOnlySpan<byte>(buf, (int)n).ToArray();
    }

    static void WriteProc(int pid, string file, string text)
    {
        var path = $"/proc/{pid}/{file}";
        int fd = Sys.Open(path, O_WRONLY);
        try
        {
            var bytes = System.Text.Encoding.ASCII.GetBytes(text);
            fixed (byte* b = bytes)
                if (Libc.write(fd, b, bytes.Length) != bytes.Length) throw new SyscallException("write", path, Libc.Errno);
        }
        finally { Sys.Close(fd); }
    }
}

/// <summary>Resource limits set on another process (prlimit), by the daemon.</summary>
public static unsafe class ProcessLimits
{
    const long SYS_prlimit64 = 302;

    /// <summary>Sets each limit on the process. The caller must own it (our unreleased child: its pid
    /// cannot have been reused).</summary>
    public static void Set(int pid, IEnumerable<Rlimit> limits)
    {
        long* lim = stackalloc long[2];
        foreach (var rl in limits)
        {
            lim[0] = rl.Soft; lim[1] = rl.Hard; // -1 is RLIM_INFINITY (all ones) as the kernel reads it
            if (Libc.syscall(SYS_prlimit64, pid, rl.Resource, (nint)lim, 0, 0) != 0)
                throw new SyscallException("prlimit " + rl.Name, $"pid {pid}", Libc.Errno);
        }
    }
}
