using Gocker.Syscalls.Native;
using Gocker.Syscalls.Spawn;
using static Gocker.Syscalls.Native.Consts;

namespace Gocker.Syscalls.Mounts;

/// <summary>
/// The kernel filesystems and volumes of a container, mounted inside its (not yet pivoted) rootfs.
/// Every mountpoint is resolved with <see cref="InRoot"/> and mounted through its fd, never through a
/// host path built from the image's contents.
/// </summary>
public static unsafe class ContainerMounts
{
    const string DevSize = "size=65536k";

    public static void Proc(int rootfd) =>
        MountAt(rootfd, "/proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, null);

    public static void Sysfs(int rootfd) =>
        MountAt(rootfd, "/sys", "sysfs", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, null);

    /// <summary>A private /dev: tmpfs with the standard character devices, devpts, shm and the fd symlinks.</summary>
    public static void Dev(int rootfd)
    {
        MountAt(rootfd, "/dev", "tmpfs", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755," + DevSize);
        // Re-resolve: the walk now crosses into the fresh tmpfs, which holds nothing from the image.
        int dev = InRoot.Open(rootfd, "/dev", O_PATH | O_DIRECTORY);
        try
        {
            Node(dev, "null", 1, 3); Node(dev, "zero", 1, 5); Node(dev, "full", 1, 7);
            Node(dev, "random", 1, 8); Node(dev, "urandom", 1, 9); Node(dev, "tty", 5, 0);
            Link(dev, "/proc/self/fd", "fd");
            Link(dev, "/proc/self/fd/0", "stdin");
            Link(dev, "/proc/self/fd/1", "stdout");
            Link(dev, "/proc/self/fd/2", "stderr");
            Link(dev, "pts/ptmx", "ptmx");
            SubMount(dev, "pts", 0x1ed, "devpts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5");
            SubMount(dev, "shm", 0x3ff /*1777*/, "shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777," + DevSize);
        }
        finally { Sys.Close(dev); }
    }

    /// <summary>
    /// Bind-mounts the terminal that is fd 0 (a pty slave of the daemon's devpts) on the container's
    /// /dev/console. Why: the container has its own devpts instance, so the slave's name (/dev/pts/N of
    /// the host's instance) means nothing inside, and ttyname() (`tty`) would fail; with the same inode
    /// mounted on /dev/console, glibc's fallback scan of /dev finds it. The source is the slave's path
    /// in our copy of the host mount table (open_tree of fd 0 itself is refused: its mount belongs to
    /// the daemon's namespace), checked to be the very inode of fd 0.
    /// </summary>
    public static void Console(int rootfd)
    {
        var path = File.ResolveLinkTarget("/proc/self/fd/0", false)?.FullName
            ?? throw new SyscallException("readlink", "/proc/self/fd/0", "not a link");
        if (!path.StartsWith("/dev/pts/", StringComparison.Ordinal))
            throw new SyscallException("console", path, "stdin is not a /dev/pts terminal");
        if (!Sys.TryStat(0, "", out ulong dev0, out ulong ino0, out _) ||
            !Sys.TryStat(AT_FDCWD, path, out ulong dev, out ulong ino, out _) || dev != dev0 || ino != ino0)
            throw new SyscallException("console", path, "is not the terminal on fd 0");
        int devDir = InRoot.Open(rootfd, "/dev", O_PATH | O_DIRECTORY);
        try
        {
            int target;
            fixed (byte* n = Sys.Z("console"))
            {
                int f = Libc.openat(devDir, n, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0x180);
                if (f < 0) throw new SyscallException("create", "/dev/console", Libc.Errno);
                Sys.Close(f);
                target = Libc.openat(devDir, n, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0);
                if (target < 0) throw new SyscallException("open", "/dev/console", Libc.Errno);
            }
            try { BindMount.Attach(path, target, readOnly: false, "/dev/console"); }
            finally { Sys.Close(target); }
        }
        finally { Sys.Close(devDir); }
    }

    // Docker's defaults. Why: container root is real root; /proc/sys/vm/drop_caches, /proc/sysrq-trigger,
    // /proc/kcore... are global to the host, not per namespace. Read-only paths get a read-only bind of
    // themselves; masked paths are covered (directories by an empty read-only tmpfs, files by /dev/null).
    static readonly string[] ReadonlyPaths = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];
    static readonly string[] MaskedPaths = ["/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
        "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap"];

    /// <summary>Makes the host-global parts of /proc and /sys read-only or invisible. Needs /proc, /dev and /sys mounted.</summary>
    public static void ProtectKernelPaths(int rootfd)
    {
        foreach (var path in ReadonlyPaths)
        {
            int fd = Sys.OpenAt2(rootfd, path, O_PATH, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
            if (fd == -ENOENT) continue;
            if (fd < 0) throw new SyscallException("resolve in rootfs", path, -fd);
            try { BindMount.Attach(fd, fd, readOnly: true, path, path); }
            finally { Sys.Close(fd); }
        }
        int devNull = InRoot.Open(rootfd, "/dev/null");
        try
        {
            foreach (var path in MaskedPaths)
            {
                int fd = Sys.OpenAt2(rootfd, path, O_PATH, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
                if (fd == -ENOENT) continue;
                if (fd < 0) throw new SyscallException("resolve in rootfs", path, -fd);
                try
                {
                    Sys.TryStat(fd, "", out _, out _, out int mode);
                    if ((mode & S_IFMT) == S_IFDIR)
                        Sys.Mount("tmpfs", InRoot.FdPath(fd), "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0", "mask tmpfs on " + path + " via");
                    else
                        BindMount.Attach(devNull, fd, readOnly: true, "/dev/null", path);
                }
                finally { Sys.Close(fd); }
            }
        }
        finally { Sys.Close(devNull); }
    }

    /// <summary>
    /// Bind-mounts a host path onto a path inside the rootfs. The destination is resolved in the root
    /// (see InRoot for why): an image shipping "/evil -> /" plus "-v SRC:/evil/x" mounts on ROOTFS/x,
    /// never on the host's /x.
    /// </summary>
    public static void Volume(int rootfd, VolumeMount v)
    {
        if (string.IsNullOrEmpty(v.Source) || v.Source[0] != '/')
            throw new ArgumentException($"volume source must be an absolute host path: '{v.Source}'");
        if (string.IsNullOrEmpty(v.Destination) || v.Destination[0] != '/')
            throw new ArgumentException($"volume destination must be an absolute path: '{v.Destination}'");
        if (v.Destination.Trim('/').Length == 0)
            throw new ArgumentException("volume destination cannot be '/'");
        if (!Sys.TryStat(AT_FDCWD, v.Source, out _, out _, out int mode, follow: true))
            throw new SyscallException("volume source", v.Source, Libc.Errno);
        bool isDir = (mode & S_IFMT) == S_IFDIR;
        int target = InRoot.OpenOrCreate(rootfd, v.Destination, fileLeaf: !isDir);
        try
        {
            Sys.TryStat(target, "", out _, out _, out int tmode);
            if (((tmode & S_IFMT) == S_IFDIR) != isDir)
                throw new SyscallException("volume", v.Destination,
                    isDir ? "source is a directory but the destination is not" : "source is a file but the destination is a directory");
            BindMount.Attach(v.Source, target, v.ReadOnly, v.Destination);
        }
        finally { Sys.Close(target); }
    }

    static void MountAt(int rootfd, string path, string source, string fstype, ulong flags, string? data)
    {
        int fd = InRoot.OpenOrCreate(rootfd, path);
        try { Sys.Mount(source, InRoot.FdPath(fd), fstype, flags, data, fstype + " on " + path + " via"); }
        finally { Sys.Close(fd); }
    }

    static void SubMount(int dev, string name, int mode, string source, string fstype, ulong flags, string data)
    {
        fixed (byte* n = Sys.Z(name))
        {
            if (Libc.mkdirat(dev, n, mode) != 0) throw new SyscallException("mkdir", "/dev/" + name, Libc.Errno);
            int fd = Libc.openat(dev, n, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
            if (fd < 0) throw new SyscallException("open", "/dev/" + name, Libc.Errno);
            try { Sys.Mount(source, InRoot.FdPath(fd), fstype, flags, data, fstype + " on /dev/" + name + " via"); }
            finally { Sys.Close(fd); }
        }
    }

    static void Node(int dev, string name, uint major, uint minor)
    {
        fixed (byte* n = Sys.Z(name))
            if (Libc.mknodat(dev, n, S_IFCHR | 0x1b6 /*0666*/, (major << 8) | minor) != 0)
                throw new SyscallException("mknod", "/dev/" + name, Libc.Errno);
    }

    static void Link(int dev, string target, string name)
    {
        fixed (byte* t = Sys.Z(target))
        fixed (byte* n = Sys.Z(name))
            if (Libc.symlinkat(t, dev, n) != 0) throw new SyscallException("symlink", "/dev/" + name, Libc.Errno);
    }
}
