using System.Collections.Concurrent;
using System.Globalization;
using Gocker.Syscalls.Native;
using static Gocker.Syscalls.Native.Consts;

namespace Gocker.Syscalls.Spawn;

/// <summary>
/// A sealed, in-memory copy of a host executable (gocker-init), from which every spawn executes it.
///
/// Why (CVE-2019-5736, the runc escape): gocker-init runs inside containers (as a container's init
/// until it execs the command, as an `exec` process until it execs the user's). If it ran from the
/// host's file, a malicious image could have that file overwritten: it replaces its /bin/sh with
/// `#!/proc/self/exe`; `gocker exec victim sh` makes the exec init execve /bin/sh, the kernel runs
/// the interpreter /proc/self/exe, i.e. gocker-init once more, now inside the container and dumpable
/// (execve reset PR_SET_DUMPABLE, so the init's own non-dumpable guard is gone). A container process
/// opens that process's /proc/PID/exe (the host file, reachable whatever the mount namespace) and
/// keeps the descriptor; it then loops opening /proc/self/fd/N for writing: ETXTBSY while any zygote
/// still runs the binary, success once the daemon stops; the next daemon runs the attacker's code as
/// host root, outside every namespace.
///
/// The fix (runc's): at daemon start the binary is copied into a memfd, sealed against every change
/// (F_SEAL_WRITE|F_SEAL_SHRINK|F_SEAL_GROW, and F_SEAL_SEAL so that no seal can be removed or added),
/// the seals are read back, and every spawn executes the copy: then /proc/PID/exe of any gocker-init
/// names "/memfd:gocker-init (deleted)", and opening it for writing or writing through it fails
/// (EPERM; ETXTBSY while it runs). The host file is never executed, so nothing reaches it from a
/// container. One copy per daemon (~3 MB of shared memory), shared by all spawns.
///
/// posix_spawn needs a path, and its children close every descriptor above their protocol's (and
/// the memfd is CLOEXEC anyway), so the path is the daemon's own descriptor: /proc/DAEMON_PID/fd/N
/// (<see cref="ExecPath"/>). It resolves from every spawning thread: they all still have the host's
/// /proc (the container init's thread unshares its mount namespace, a copy of the host's; the exec
/// thread joins the container's PID and other namespaces but not its mount namespace). argv[0] stays
/// "gocker-init" (<see cref="InitArgv.Zero"/>); the init sets its comm (the kernel names the task
/// after the path's last component, the fd number).
/// A process that outlives the daemon (a keeper, a container's init before its exec) keeps the memfd
/// alive as its executable; the next daemon makes its own copy.
/// </summary>
public sealed unsafe class SealedBinary : IDisposable
{
    const int MFD_CLOEXEC = 0x1, MFD_ALLOW_SEALING = 0x2, MFD_EXEC = 0x10;
    const int F_ADD_SEALS = 1033, F_GET_SEALS = 1034;
    const int F_SEAL_SEAL = 0x1, F_SEAL_SHRINK = 0x2, F_SEAL_GROW = 0x4, F_SEAL_WRITE = 0x8;
    const long SYS_memfd_create = 319, SYS_sendfile = 40;
    const int S_IFMT = 0xF000, S_IFREG = 0x8000;

    /// <summary>The seals every copy carries (checked after adding them).</summary>
    public const int Seals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;

    static readonly ConcurrentDictionary<string, string> hostPaths = new(StringComparer.Ordinal);
    int _fd;

    /// <summary>The executable this is a copy of (for messages: the spawn path names only the fd).</summary>
    public string HostPath { get; }
    /// <summary>What to execute: /proc/DAEMON_PID/fd/N, valid while this object is not disposed.</summary>
    public string ExecPath { get; }
    /// <summary>The memfd (CLOEXEC) in this process.</summary>
    public int Fd => _fd;
    /// <summary>Bytes copied (the source's size).</summary>
    public long Length { get; }

    SealedBinary(string hostPath, int fd, string execPath, long length)
    {
        HostPath = hostPath;
        _fd = fd;
        ExecPath = execPath;
        Length = length;
    }

    /// <summary>Copies hostPath (a regular file) into a new memfd named <paramref name="name"/>,
    /// seals it and checks the seals and the exec path. Throws SyscallException naming the step.</summary>
    public static SealedBinary Create(string hostPath, string name = InitArgv.Zero)
    {
        ArgumentException.ThrowIfNullOrEmpty(hostPath);
        int src = -1, mfd = -1;
        try
        {
            src = Sys.Open(hostPath, O_RDONLY);
            if (!Stat(src, out var srcMode, out var size, out _, out _) || (srcMode & S_IFMT) != S_IFREG)
                throw new SyscallException("sealed copy", hostPath, "not a regular file");

            fixed (byte* n = Sys.Z(name))
            {
                // MFD_EXEC (kernel >= 6.3): executable whatever vm.memfd_noexec says; an older kernel
                // refuses the unknown flag (EINVAL), and its memfds are executable anyway.
                long r = Libc.syscall(SYS_memfd_create, (nint)n, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC, 0, 0, 0);
                if (r < 0 && Libc.Errno == EINVAL)
                    r = Libc.syscall(SYS_memfd_create, (nint)n, MFD_CLOEXEC | MFD_ALLOW_SEALING, 0, 0, 0);
                if (r < 0) throw new SyscallException("memfd_create", name, Libc.Errno);
                mfd = (int)r;
            }

            long copied = 0;
            while (copied < size)
            {
                long n = Libc.syscall(SYS_sendfile, mfd, src, 0, (nint)Math.Min(size - copied, 1 << 30), 0);
                if (n < 0)
                {
                    if (Libc.Errno == EINTR) continue;
                    throw new SyscallException("sendfile into the memfd", hostPath, Libc.Errno);
                }
                if (n == 0) break; // shrank meanwhile: caught below
                copied += n;
            }
            if (!Stat(mfd, out var mode, out var copiedSize, out var dev, out var ino) || copiedSize != size || copied != size)
                throw new SyscallException("sealed copy", hostPath, $"copied {copied} of {size} bytes (changed while copied?)");
            if ((mode & 0x49) == 0) // no x bit: vm.memfd_noexec forbade an executable memfd
                throw new SyscallException("sealed copy", hostPath, "the memfd is not executable (vm.memfd_noexec?)");

            if (Libc.fcntl(mfd, F_ADD_SEALS, Seals) != 0) throw new SyscallException("fcntl F_ADD_SEALS", $"memfd copy of {hostPath}", Libc.Errno);
            int seals = Libc.fcntl(mfd, F_GET_SEALS, 0);
            if (seals < 0) throw new SyscallException("fcntl F_GET_SEALS", $"memfd copy of {hostPath}", Libc.Errno);
            if ((seals & Seals) != Seals)
                throw new SyscallException("sealed copy", hostPath, $"seals 0x{seals:x} lack some of 0x{Seals:x}");

            // /proc/self names this process as the /proc mount sees it (its PID namespace may not be ours).
            var procPid = new FileInfo("/proc/self").LinkTarget
                          ?? throw new SyscallException("readlink", "/proc/self", "not a link (no /proc?)");
            var execPath = string.Create(CultureInfo.InvariantCulture, $"/proc/{procPid}/fd/{mfd}");
            if (!Sys.TryStat(AT_FDCWD, execPath, out var d2, out var i2, out _, follow: true) || d2 != dev || i2 != ino)
                throw new SyscallException("sealed copy", execPath, "does not resolve to the memfd");

            var sealedCopy = new SealedBinary(Path.GetFullPath(hostPath), mfd, execPath, size);
            mfd = -1;
            hostPaths[execPath] = sealedCopy.HostPath;
            return sealedCopy;
        }
        finally
        {
            Sys.Close(src);
            Sys.Close(mfd);
        }
    }

    /// <summary>For messages: "PATH (sealed copy of HOST)" when path is a live copy's ExecPath, else path.</summary>
    public static string Describe(string path) =>
        hostPaths.TryGetValue(path, out var host) ? $"{path} (sealed copy of {host})" : path;

    /// <summary>Closes the memfd: spawns from <see cref="ExecPath"/> fail from then on (processes
    /// already running it keep their copy).</summary>
    public void Dispose()
    {
        int fd = Interlocked.Exchange(ref _fd, -1);
        if (fd < 0) return;
        hostPaths.TryRemove(ExecPath, out _);
        Sys.Close(fd);
    }

    /// <summary>fstat: st_mode, st_size, st_dev, st_ino (x86_64 struct stat).</summary>
    static bool Stat(int fd, out int mode, out long size, out ulong dev, out ulong ino)
    {
        byte* st = stackalloc byte[256];
        int r;
        fixed (byte* p = Sys.Z("")) r = Libc.fstatat(fd, p, st, AT_EMPTY_PATH);
        if (r != 0) { mode = 0; size = 0; dev = ino = 0; return false; }
        dev = *(ulong*)st; ino = *(ulong*)(st + 8); mode = (int)*(uint*)(st + 24); size = *(long*)(st + 48);
        return true;
    }
}

/// <summary>argv[0] of every gocker-init the daemon starts, whatever path it is executed from (a
/// sealed copy's /proc/PID/fd/N): what `ps` shows.</summary>
public static class InitArgv
{
    public const string Zero = "gocker-init";
}
