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

    /// <summary>Read-only unless the container is privileged (Docker's rule).</summary>
    public static void Sysfs(int rootfd, bool writable = false) =>
        MountAt(rootfd, "/sys", "sysfs", "sysfs", (writable ? 0 : MS_RDONLY) | MS_NOSUID | MS_NODEV | MS_NOEXEC, null);

    /// <summary>
    /// A remapped container whose network namespace the host made (a bridge network's) may not mount a
    /// sysfs: the kernel wants CAP_SYS_ADMIN over the network namespace's owner, the host's user
    /// namespace. Then, as runc does, the host's /sys is bound read-only instead (recursively, so that
    /// nothing the host mounted below it is uncovered).
    /// </summary>
    public static void SysfsInUserns(int rootfd)
    {
        try { Sysfs(rootfd); }
        catch (SyscallException e) when (e.Errno == EPERM)
        {
            int target = InRoot.OpenOrCreate(rootfd, "/sys");
            try { BindMount.Attach("/sys", target, readOnly: true, "/sys"); }
            finally { Sys.Close(target); }
        }
    }

    /// <summary>A private /dev: tmpfs with the standard character devices, devpts, shm (shmSize bytes,
    /// 0 = 64 MiB), mqueue (the container's own IPC namespace's queues) and the fd symlinks.</summary>
    /// <param name="bindNodes">In a user namespace mknod is refused: the host's nodes are bound onto empty files (as runc does).</param>
    public static void Dev(int rootfd, long shmSize = 0, bool bindNodes = false)
    {
        MountAt(rootfd, "/dev", "tmpfs", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755," + DevSize);
        // Re-resolve: the walk now crosses into the fresh tmpfs, which holds nothing from the image.
        int dev = InRoot.Open(rootfd, "/dev", O_PATH | O_DIRECTORY);
        try
        {
            foreach (var (name, major, minor) in StandardNodes)
                if (bindNodes) BoundNode(dev, name);
                else Node(dev, name, major, minor);
            Link(dev, "/proc/self/fd", "fd");
            Link(dev, "/proc/self/fd/0", "stdin");
            Link(dev, "/proc/self/fd/1", "stdout");
            Link(dev, "/proc/self/fd/2", "stderr");
            Link(dev, "pts/ptmx", "ptmx");
            SubMount(dev, "pts", 0x1ed, "devpts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5");
            SubMount(dev, "shm", 0x3ff /*1777*/, "shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                "mode=1777," + (shmSize > 0 ? "size=" + shmSize.ToString(System.Globalization.CultureInfo.InvariantCulture) : DevSize));
            SubMount(dev, "mqueue", 0x1ed, "mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, null);
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
    /// <param name="sourceFd">The source opened beforehand (O_PATH), or -1 to resolve v.Source now. A
    /// remapped init opens its sources while it still has the host's credentials: as the container's
    /// root it may not be allowed to walk the host's path (the daemon's run dir is private to root).</param>
    public static void Volume(int rootfd, VolumeMount v, int sourceFd = -1)
    {
        if (string.IsNullOrEmpty(v.Source) || v.Source[0] != '/')
            throw new ArgumentException($"volume source must be an absolute host path: '{v.Source}'");
        if (string.IsNullOrEmpty(v.Destination) || v.Destination[0] != '/')
            throw new ArgumentException($"volume destination must be an absolute path: '{v.Destination}'");
        if (v.Destination.Trim('/').Length == 0)
            throw new ArgumentException("volume destination cannot be '/'");
        if (!(sourceFd >= 0 ? Sys.TryStat(sourceFd, "", out _, out _, out int mode)
                : Sys.TryStat(AT_FDCWD, v.Source, out _, out _, out mode, follow: true)))
            throw new SyscallException("volume source", v.Source, Libc.Errno);
        bool isDir = (mode & S_IFMT) == S_IFDIR;
        // Copy-up only from what the image has there (a mount point made now has nothing to give).
        bool copyUp = v.CopyUp && isDir && sourceFd >= 0 && InRoot.Exists(rootfd, v.Destination);
        int target = InRoot.OpenOrCreate(rootfd, v.Destination, fileLeaf: !isDir);
        try
        {
            RefuseKernelFs(target, v.Destination);
            Sys.TryStat(target, "", out _, out _, out int tmode);
            if (((tmode & S_IFMT) == S_IFDIR) != isDir)
                throw new SyscallException("volume", v.Destination,
                    isDir ? "source is a directory but the destination is not" : "source is a file but the destination is a directory");
            if (copyUp) CopyUp.IntoEmpty(target, sourceFd, v.Destination);
            if (sourceFd >= 0) BindMount.Attach(sourceFd, target, v.ReadOnly, v.Source, v.Destination);
            else BindMount.Attach(v.Source, target, v.ReadOnly, v.Destination);
        }
        finally { Sys.Close(target); }
    }

    const long PROC_SUPER_MAGIC = 0x9fa0, SYSFS_MAGIC = 0x62656572;

    /// <summary>runc's allow-list of files under /proc a volume may cover (lxcfs binds them); the
    /// daemon's check by name uses it too.</summary>
    public static readonly string[] ProcAllowed = ["/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat", "/proc/swaps",
        "/proc/uptime", "/proc/loadavg", "/proc/slabinfo", "/proc/net/dev", "/proc/sys/kernel/ns_last_pid"];

    /// <summary>
    /// The daemon refuses destinations under /proc, /sys and /dev by name, but the name is resolved in
    /// the image's tree: an image symlink (/x -> /proc/self) would lead a mount onto the container's
    /// procfs or sysfs (the shape of runc's CVE-2019-19921 and CVE-2023-27561, where a mount over
    /// /proc/self/attr or similar defeated the confinement). So the resolved target's filesystem is
    /// checked too.
    /// </summary>
    static void RefuseKernelFs(int target, string destination)
    {
        long fs = Sys.FsType(target);
        if (fs == SYSFS_MAGIC || (fs == PROC_SUPER_MAGIC && !ProcAllowed.Contains(destination)))
            throw new SyscallException("volume", destination, "resolves onto /proc or /sys inside the container: refused");
    }

    /// <summary>--tmpfs: a tmpfs on a directory resolved (created if missing) inside the rootfs.</summary>
    public static void Tmpfs(int rootfd, TmpfsMount t)
    {
        int fd = InRoot.OpenOrCreate(rootfd, t.Destination);
        try
        {
            RefuseKernelFs(fd, t.Destination);
            Sys.Mount("tmpfs", InRoot.FdPath(fd), "tmpfs", t.Flags, t.Data.Length > 0 ? t.Data : null, "tmpfs on " + t.Destination + " via");
        }
        finally { Sys.Close(fd); }
    }

    /// <summary>
    /// A device node inside the container (--device, or the host's devices with --privileged): its
    /// parent directories are created inside the rootfs, an existing entry of the same name (one of
    /// /dev's standard nodes) is replaced, and the node gets the host's mode and owner. Whether the
    /// container may read or write it is the device cgroup's decision, not the node's.
    /// </summary>
    /// <param name="replaceExisting">False for --privileged's list of host devices: /dev's own nodes and links stay.</param>
    /// <param name="bind">In a user namespace (mknod refused): the host's node (HostPath) is bound onto an empty file.</param>
    public static void Device(int rootfd, DeviceNode d, bool replaceExisting = true, bool bind = false)
    {
        var slash = d.Path.LastIndexOf('/');
        var (parent, leaf) = (slash <= 0 ? "/" : d.Path[..slash], d.Path[(slash + 1)..]);
        if (leaf.Length == 0 || leaf is "." or "..") throw new SyscallException("device", d.Path, "invalid path");
        int dir = InRoot.OpenOrCreate(rootfd, parent);
        try
        {
            RefuseKernelFs(dir, d.Path);
            if (bind)
            {
                fixed (byte* n = Sys.Z(leaf))
                    if (Libc.unlinkat(dir, n, 0) != 0 && Libc.Errno != ENOENT) throw new SyscallException("unlink", d.Path, Libc.Errno);
                int target = EmptyFile(dir, leaf, d.Path);
                try { BindMount.Attach(d.HostPath, target, readOnly: false, d.Path); }
                finally { Sys.Close(target); }
                return;
            }
            fixed (byte* n = Sys.Z(leaf))
            {
                int type = d.Type == 'b' ? 0x6000 : S_IFCHR;
                ulong dev = HostDevices.MakeDev(d.Major, d.Minor);
                if (Libc.mknodat(dir, n, type | (d.FileMode & 0xfff), dev) != 0)
                {
                    if (Libc.Errno != EEXIST) throw new SyscallException("mknod", d.Path, Libc.Errno);
                    if (!replaceExisting) return;
                    if (Libc.unlinkat(dir, n, 0) != 0 || Libc.mknodat(dir, n, type | (d.FileMode & 0xfff), dev) != 0)
                        throw new SyscallException("mknod", d.Path, Libc.Errno);
                }
                if (Libc.fchownat(dir, n, d.Uid, d.Gid, AT_SYMLINK_NOFOLLOW) != 0)
                    throw new SyscallException("chown", d.Path, Libc.Errno);
            }
        }
        finally { Sys.Close(dir); }
    }

    /// <summary>--sysctl: written to the container's own /proc/sys (the calling process's namespaces),
    /// before /proc/sys is made read-only. The daemon allowed only namespaced keys.</summary>
    public static void Sysctl(int rootfd, SysctlSetting s)
    {
        var path = "/proc/sys/" + s.Key.Replace('.', '/');
        int fd = Sys.OpenAt2(rootfd, path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW, RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS);
        if (fd < 0) throw new SyscallException("sysctl", s.Key, -fd);
        try
        {
            if (Sys.FsType(fd) != PROC_SUPER_MAGIC) throw new SyscallException("sysctl", s.Key, "not on the container's procfs");
            if (!Sys.WriteAll(fd, System.Text.Encoding.UTF8.GetBytes(s.Value))) throw new SyscallException("sysctl write", s.Key, Libc.Errno);
        }
        finally { Sys.Close(fd); }
    }

    /// <summary>--read-only: the overlay alone turns read-only (not recursive: /proc, /dev, volumes and
    /// --tmpfs mounts keep their modes). Last step before pivot_root, once every mount point exists.</summary>
    public static void ReadOnlyRoot(int rootfd)
    {
        long* attr = stackalloc long[4];
        attr[0] = (long)MOUNT_ATTR_RDONLY; attr[1] = 0; attr[2] = 0; attr[3] = 0;
        fixed (byte* empty = Sys.Z(""))
            if (Libc.syscall(SYS_mount_setattr, rootfd, (nint)empty, AT_EMPTY_PATH, (nint)attr, 32) != 0)
                throw new SyscallException("mount_setattr ro", "/", Libc.Errno);
    }

    static void MountAt(int rootfd, string path, string source, string fstype, ulong flags, string? data)
    {
        int fd = InRoot.OpenOrCreate(rootfd, path);
        try { Sys.Mount(source, InRoot.FdPath(fd), fstype, flags, data, fstype + " on " + path + " via"); }
        finally { Sys.Close(fd); }
    }

    static void SubMount(int dev, string name, int mode, string source, string fstype, ulong flags, string? data)
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

    static readonly (string Name, uint Major, uint Minor)[] StandardNodes =
        [("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0)];

    /// <summary>The host's /dev/NAME bound onto an empty file of that name.</summary>
    static void BoundNode(int dev, string name)
    {
        int target = EmptyFile(dev, name, "/dev/" + name);
        try { BindMount.Attach("/dev/" + name, target, readOnly: false, "/dev/" + name); }
        finally { Sys.Close(target); }
    }

    /// <summary>Creates an empty file (a mount point) and returns an O_PATH descriptor of it.</summary>
    static int EmptyFile(int dir, string name, string shown)
    {
        fixed (byte* n = Sys.Z(name))
        {
            int f = Libc.openat(dir, n, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0x1b6);
            if (f < 0) throw new SyscallException("create", shown, Libc.Errno);
            Sys.Close(f);
            int target = Libc.openat(dir, n, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0);
            if (target < 0) throw new SyscallException("open", shown, Libc.Errno);
            return target;
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
