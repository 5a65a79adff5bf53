using Gocker.Syscalls.Native;
using static Gocker.Syscalls.Native.Consts;

namespace Gocker.Syscalls.Mounts;

/// <summary>
/// The container's /sys/fs/cgroup (Cgroups.CgroupNsMounts gives the plan), mounted by gocker-init after
/// pivot_root and, with a private cgroup namespace, after it entered that namespace: a cgroup mount's
/// root is the mounting task's cgroup namespace root, so the container sees its own cgroup as "/" and
/// nothing above or beside it (no host or sibling cgroups). Read-only (nosuid, nodev, noexec) unless
/// privileged, as Docker's.
/// </summary>
public static unsafe class CgroupMounts
{
    public const int CLONE_NEWCGROUP = 0x02000000;
    const string Target = "/sys/fs/cgroup";
    const long SYSFS_MAGIC = 0x62656572, TMPFS_MAGIC = 0x01021994;

    /// <summary>A cgroup namespace of our own, rooted at the cgroups we are in now (the daemon placed us
    /// first). unshare moves this thread only: the one that mounts and execs.</summary>
    public static void NewNamespace()
    {
        if (Libc.unshare(CLONE_NEWCGROUP) != 0) throw new SyscallException("unshare", "cgroup namespace", Libc.Errno);
    }

    /// <summary>
    /// What can be made before the init is placed (off the start's critical path): on v1/hybrid the tmpfs
    /// at /sys/fs/cgroup with one empty directory per hierarchy and the co-mount symlinks, already
    /// read-only (mount points may be on a read-only filesystem). Nothing on v2. Then <see cref="Mount"/>.
    /// </summary>
    public static void Prepare(string[] plan, bool writable)
    {
        if (plan.Length == 0 || plan is ["cgroup2 ."]) return;
        ulong flags = Flags(writable);
        int target = OpenTarget();
        try { Sys.Mount("tmpfs", InRoot.FdPath(target), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755,size=64k", "tmpfs on " + Target + " via"); }
        finally { Sys.Close(target); }
        int dir = Sys.Open(Target, O_PATH | O_DIRECTORY | O_NOFOLLOW);
        try
        {
            if (Sys.FsType(dir) != TMPFS_MAGIC) throw new SyscallException("cgroup mount", Target, "the tmpfs just mounted is not there");
            foreach (var line in plan)
            {
                switch (line.Split(' '))
                {
                    case ["cgroup", var name, _]: MkDir(dir, name); break;
                    case ["cgroup2", var name]: MkDir(dir, name); break;
                    case ["link", var name, var to]:
                        fixed (byte* t = Sys.Z(to))
                        fixed (byte* n = Sys.Z(name))
                            if (Libc.symlinkat(t, dir, n) != 0) throw new SyscallException("symlink", Target + "/" + name, Libc.Errno);
                        break;
                    default: throw new SyscallException("cgroup mount", Target, $"bad plan entry '{line}'");
                }
            }
            if (!writable)
                Sys.Mount(null, InRoot.FdPath(dir), null, MS_REMOUNT | MS_BIND | flags, null, "remount read-only " + Target + " via");
        }
        finally { Sys.Close(dir); }
    }

    /// <summary>Mounts the cgroup filesystems of the plan (after <see cref="Prepare"/>; with a private
    /// cgroup namespace, once in it).</summary>
    public static void Mount(string[] plan, bool writable)
    {
        if (plan.Length == 0) return;
        ulong flags = Flags(writable);
        if (plan is ["cgroup2 ."])
        {
            int target = OpenTarget();
            try { Sys.Mount("cgroup2", InRoot.FdPath(target), "cgroup2", flags, null, "cgroup2 on " + Target + " via"); }
            finally { Sys.Close(target); }
            return;
        }
        int dir = Sys.Open(Target, O_PATH | O_DIRECTORY | O_NOFOLLOW);
        try
        {
            if (Sys.FsType(dir) != TMPFS_MAGIC) throw new SyscallException("cgroup mount", Target, "is not the tmpfs prepared for it");
            foreach (var line in plan)
            {
                switch (line.Split(' '))
                {
                    case ["cgroup", var name, var subsys]: Sub(dir, name, "cgroup", flags, subsys); break;
                    case ["cgroup2", var name]: Sub(dir, name, "cgroup2", flags, null); break;
                }
            }
        }
        finally { Sys.Close(dir); }
    }

    static ulong Flags(bool writable) => (writable ? 0 : MS_RDONLY) | MS_NOSUID | MS_NODEV | MS_NOEXEC;

    /// <summary>/sys/fs/cgroup, checked: /sys is the sysfs we mounted (nothing of the image's is on the
    /// path), or, for a remapped container that could not mount one, the host's /sys bound read-only,
    /// where /sys/fs/cgroup is the host's tmpfs: what we mount covers it (its host cgroup mounts must
    /// stay out of sight).</summary>
    static int OpenTarget()
    {
        int target = Sys.Open(Target, O_PATH | O_DIRECTORY | O_NOFOLLOW);
        long fs = Sys.FsType(target);
        if (fs != SYSFS_MAGIC && fs != TMPFS_MAGIC)
        {
            Sys.Close(target);
            throw new SyscallException("cgroup mount", Target, $"is not on sysfs (filesystem 0x{fs:x}): refused");
        }
        return target;
    }

    static void MkDir(int dir, string name)
    {
        fixed (byte* n = Sys.Z(name))
            if (Libc.mkdirat(dir, n, 0x1ed) != 0) throw new SyscallException("mkdir", Target + "/" + name, Libc.Errno);
    }

    /// <summary>Mounts onto an empty directory made by Prepare (on the read-only tmpfs).</summary>
    static void Sub(int dir, string name, string fstype, ulong flags, string? data)
    {
        fixed (byte* n = Sys.Z(name))
        {
            int fd = Libc.openat(dir, n, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
            if (fd < 0) throw new SyscallException("open", Target + "/" + name, Libc.Errno);
            try { Sys.Mount(fstype, InRoot.FdPath(fd), fstype, flags, data, fstype + " on " + Target + "/" + name + " via"); }
            finally { Sys.Close(fd); }
        }
    }
}
