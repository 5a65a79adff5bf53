namespace Gocker.Syscalls.Native;

/// <summary>Linux x86_64 constants used by the spawner and the init.</summary>
public static class Consts
{
    // open(2)
    public const int O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2, O_CREAT = 0x40, O_EXCL = 0x80, O_NOCTTY = 0x100,
        O_APPEND = 0x400, O_NONBLOCK = 0x800, O_DIRECTORY = 0x10000, O_NOFOLLOW = 0x20000,
        O_CLOEXEC = 0x80000, O_PATH = 0x200000;
    public const int AT_FDCWD = -100, AT_EMPTY_PATH = 0x1000, AT_SYMLINK_NOFOLLOW = 0x100, AT_RECURSIVE = 0x8000;
    public const int F_DUPFD_CLOEXEC = 1030, F_GETFL = 3, F_SETFL = 4, F_SETPIPE_SZ = 1031;
    public const int X_OK = 1;

    // openat2 resolve flags
    public const ulong RESOLVE_NO_XDEV = 0x01, RESOLVE_NO_MAGICLINKS = 0x02, RESOLVE_NO_SYMLINKS = 0x04,
        RESOLVE_BENEATH = 0x08, RESOLVE_IN_ROOT = 0x10;

    // unshare / clone
    public const int CLONE_NEWNS = 0x00020000, CLONE_NEWUTS = 0x04000000, CLONE_NEWIPC = 0x08000000,
        CLONE_NEWPID = 0x20000000, CLONE_NEWNET = 0x40000000;

    // mount(2)
    public const ulong MS_RDONLY = 1, MS_NOSUID = 2, MS_NODEV = 4, MS_NOEXEC = 8, MS_REMOUNT = 32,
        MS_BIND = 4096, MS_REC = 16384, MS_PRIVATE = 1 << 18, MS_STRICTATIME = 1 << 24;
    public const int MNT_DETACH = 2;

    // new mount API
    public const int OPEN_TREE_CLONE = 1, OPEN_TREE_CLOEXEC = O_CLOEXEC;
    public const int MOVE_MOUNT_F_EMPTY_PATH = 0x04, MOVE_MOUNT_T_EMPTY_PATH = 0x40;
    public const ulong MOUNT_ATTR_RDONLY = 0x1;
    public const int FSPICK_CLOEXEC = 1, FSCONFIG_SET_FLAG = 0, FSCONFIG_CMD_RECONFIGURE = 7;

    // syscall numbers (x86_64)
    public const long SYS_rt_sigaction = 13, SYS_pivot_root = 155, SYS_capset = 126, SYS_pidfd_send_signal = 424, SYS_open_tree = 428,
        SYS_move_mount = 429, SYS_fsconfig = 431, SYS_fspick = 433, SYS_pidfd_open = 434, SYS_close_range = 436, SYS_openat2 = 437, SYS_mount_setattr = 442;
    public const uint CLOSE_RANGE_CLOEXEC = 4;

    // posix_spawn (glibc)
    public const short POSIX_SPAWN_SETSIGDEF = 0x04, POSIX_SPAWN_SETSIGMASK = 0x08, POSIX_SPAWN_SETSID = 0x80;

    // waitid
    public const int P_PIDFD = 3, WEXITED = 4, WNOHANG = 1;
    public const int CLD_EXITED = 1, CLD_KILLED = 2, CLD_DUMPED = 3;

    // epoll
    public const int EPOLL_CLOEXEC = O_CLOEXEC, EPOLL_CTL_ADD = 1, EPOLL_CTL_DEL = 2;
    public const uint EPOLLIN = 1;

    // network
    public const int AF_INET = 2, SOCK_DGRAM = 2, SOCK_CLOEXEC = O_CLOEXEC;
    public const uint SIOCGIFFLAGS = 0x8913, SIOCSIFFLAGS = 0x8914;
    public const short IFF_UP = 1;

    // prctl / capabilities
    public const int PR_CAPBSET_READ = 23, PR_CAPBSET_DROP = 24, PR_CAP_AMBIENT = 47, PR_CAP_AMBIENT_CLEAR_ALL = 4;
    public const uint LINUX_CAPABILITY_VERSION_3 = 0x20080522;

    // errno
    public const int EPERM = 1, ENOENT = 2, ESRCH = 3, EINTR = 4, EAGAIN = 11, EACCES = 13, EEXIST = 17, ELOOP = 40,
        ENOTDIR = 20, EISDIR = 21, EINVAL = 22, EPIPE = 32, ENOEXEC = 8;

    // file types (st_mode)
    public const int S_IFMT = 0xF000, S_IFDIR = 0x4000, S_IFREG = 0x8000, S_IFCHR = 0x2000, S_IFLNK = 0xA000;

    // statfs magic
    public const long OVERLAYFS_SUPER_MAGIC = 0x794c7630;
}
