using System.Runtime.InteropServices;

namespace Gocker.Syscalls.Native;

/// <summary>
/// The raw libc/syscall surface Gocker needs beyond Tmds.LibC (posix_spawn, pidfd, pivot_root, statfs,
/// the new mount API...). Blittable signatures only, so it works unchanged in the JIT daemon and in the
/// NativeAOT init. Callers check the return value and read errno with Marshal.GetLastPInvokeError().
/// </summary>
public static unsafe partial class Libc
{
    const string L = "libc.so.6";

    // ---- files and descriptors
    [LibraryImport(L, EntryPoint = "open", SetLastError = true)]
    public static partial int open(byte* path, int flags, int mode);
    [LibraryImport(L, EntryPoint = "openat", SetLastError = true)]
    public static partial int openat(int dirfd, byte* path, int flags, int mode);
    [LibraryImport(L, EntryPoint = "close", SetLastError = true)]
    public static partial int close(int fd);
    [LibraryImport(L, EntryPoint = "read", SetLastError = true)]
    public static partial nint read(int fd, byte* buf, nint count);
    [LibraryImport(L, EntryPoint = "write", SetLastError = true)]
    public static partial nint write(int fd, byte* buf, nint count);
    [LibraryImport(L, EntryPoint = "dup3", SetLastError = true)]
    public static partial int dup3(int oldfd, int newfd, int flags);
    [LibraryImport(L, EntryPoint = "pipe2", SetLastError = true)]
    public static partial int pipe2(int* fds, int flags);
    [LibraryImport(L, EntryPoint = "fcntl", SetLastError = true)]
    public static partial int fcntl(int fd, int cmd, int arg);
    [LibraryImport(L, EntryPoint = "mkdirat", SetLastError = true)]
    public static partial int mkdirat(int dirfd, byte* path, int mode);
    [LibraryImport(L, EntryPoint = "mknodat", SetLastError = true)]
    public static partial int mknodat(int dirfd, byte* path, int mode, ulong dev);
    [LibraryImport(L, EntryPoint = "unlinkat", SetLastError = true)]
    public static partial int unlinkat(int dirfd, byte* path, int flags);
    [LibraryImport(L, EntryPoint = "fchownat", SetLastError = true)]
    public static partial int fchownat(int dirfd, byte* path, uint owner, uint group, int flags);
    [LibraryImport(L, EntryPoint = "symlinkat", SetLastError = true)]
    public static partial int symlinkat(byte* target, int dirfd, byte* linkpath);
    [LibraryImport(L, EntryPoint = "fchdir", SetLastError = true)]
    public static partial int fchdir(int fd);
    [LibraryImport(L, EntryPoint = "chdir", SetLastError = true)]
    public static partial int chdir(byte* path);
    [LibraryImport(L, EntryPoint = "umask")]
    public static partial int umask(int mask);
    [LibraryImport(L, EntryPoint = "fstatfs", SetLastError = true)]
    public static partial int fstatfs(int fd, byte* buf);
    [LibraryImport(L, EntryPoint = "statfs", SetLastError = true)]
    public static partial int statfs(byte* path, byte* buf);
    [LibraryImport(L, EntryPoint = "fstatat", SetLastError = true)]
    public static partial int fstatat(int dirfd, byte* path, byte* statbuf, int flags);
    [LibraryImport(L, EntryPoint = "faccessat", SetLastError = true)]
    public static partial int faccessat(int dirfd, byte* path, int mode, int flags);

    // ---- mounts and namespaces
    [LibraryImport(L, EntryPoint = "mount", SetLastError = true)]
    public static partial int mount(byte* source, byte* target, byte* fstype, ulong flags, byte* data);
    [LibraryImport(L, EntryPoint = "umount2", SetLastError = true)]
    public static partial int umount2(byte* target, int flags);
    [LibraryImport(L, EntryPoint = "setns", SetLastError = true)]
    public static partial int setns(int fd, int nstype);
    [LibraryImport(L, EntryPoint = "unshare", SetLastError = true)]
    public static partial int unshare(int flags);
    [LibraryImport(L, EntryPoint = "sethostname", SetLastError = true)]
    public static partial int sethostname(byte* name, nint len);

    // ---- processes, signals, credentials
    [LibraryImport(L, EntryPoint = "execve", SetLastError = true)]
    public static partial int execve(byte* path, byte** argv, byte** envp);
    [LibraryImport(L, EntryPoint = "_exit")]
    public static partial void _exit(int code);
    [LibraryImport(L, EntryPoint = "waitid", SetLastError = true)]
    public static partial int waitid(int idtype, int id, byte* infop, int options);
    [LibraryImport(L, EntryPoint = "signal", SetLastError = true)]
    public static partial nint signal(int sig, nint handler);
    [LibraryImport(L, EntryPoint = "sigprocmask", SetLastError = true)]
    public static partial int sigprocmask(int how, byte* set, byte* oldset);
    [LibraryImport(L, EntryPoint = "prctl", SetLastError = true)]
    public static partial int prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);
    [LibraryImport(L, EntryPoint = "socket", SetLastError = true)]
    public static partial int socket(int domain, int type, int protocol);
    [LibraryImport(L, EntryPoint = "ioctl", SetLastError = true)]
    public static partial int ioctl(int fd, nuint request, void* arg);
    [LibraryImport(L, EntryPoint = "syscall", SetLastError = true)]
    public static partial long syscall(long number, nint a1, nint a2, nint a3, nint a4, nint a5);

    // ---- epoll (the reaper)
    [LibraryImport(L, EntryPoint = "epoll_create1", SetLastError = true)]
    public static partial int epoll_create1(int flags);
    [LibraryImport(L, EntryPoint = "epoll_ctl", SetLastError = true)]
    public static partial int epoll_ctl(int epfd, int op, int fd, EpollEvent* ev);
    [LibraryImport(L, EntryPoint = "epoll_wait", SetLastError = true)]
    public static partial int epoll_wait(int epfd, EpollEvent* events, int maxevents, int timeout);

    // ---- posix_spawn (returns an error number, does not set errno)
    [LibraryImport(L, EntryPoint = "posix_spawn")]
    public static partial int posix_spawn(int* pid, byte* path, void* fileActions, void* attr, byte** argv, byte** envp);
    [LibraryImport(L, EntryPoint = "posix_spawn_file_actions_init")]
    public static partial int posix_spawn_file_actions_init(void* fa);
    [LibraryImport(L, EntryPoint = "posix_spawn_file_actions_destroy")]
    public static partial int posix_spawn_file_actions_destroy(void* fa);
    [LibraryImport(L, EntryPoint = "posix_spawn_file_actions_addopen")]
    public static partial int posix_spawn_file_actions_addopen(void* fa, int fd, byte* path, int oflag, int mode);
    [LibraryImport(L, EntryPoint = "posix_spawn_file_actions_adddup2")]
    public static partial int posix_spawn_file_actions_adddup2(void* fa, int fd, int newfd);
    [LibraryImport(L, EntryPoint = "posix_spawn_file_actions_addclosefrom_np")]
    public static partial int posix_spawn_file_actions_addclosefrom_np(void* fa, int from);
    [LibraryImport(L, EntryPoint = "posix_spawnattr_init")]
    public static partial int posix_spawnattr_init(void* attr);
    [LibraryImport(L, EntryPoint = "posix_spawnattr_destroy")]
    public static partial int posix_spawnattr_destroy(void* attr);
    [LibraryImport(L, EntryPoint = "posix_spawnattr_setflags")]
    public static partial int posix_spawnattr_setflags(void* attr, short flags);
    [LibraryImport(L, EntryPoint = "posix_spawnattr_setsigmask")]
    public static partial int posix_spawnattr_setsigmask(void* attr, byte* sigset);
    [LibraryImport(L, EntryPoint = "posix_spawnattr_setsigdefault")]
    public static partial int posix_spawnattr_setsigdefault(void* attr, byte* sigset);
    [LibraryImport(L, EntryPoint = "sigemptyset")]
    public static partial int sigemptyset(byte* set);
    [LibraryImport(L, EntryPoint = "sigfillset")]
    public static partial int sigfillset(byte* set);

    public static int Errno => Marshal.GetLastPInvokeError();
}

[StructLayout(LayoutKind.Explicit, Size = 12)] // packed on x86_64
public struct EpollEvent
{
    [FieldOffset(0)] public uint Events;
    [FieldOffset(4)] public ulong Data;
}
