using Gocker.Syscalls.Native;
using static Gocker.Syscalls.Native.Consts;

namespace Gocker.Syscalls.Cgroups;

/// <summary>
/// The cgroup2 `favordynmods` mount option (kernel >= 6.1). Moving a process between cgroups takes
/// the global cgroup_threadgroup_rwsem for writing; by default that rwsem is per-CPU and a writer
/// first waits for an RCU grace period, so the first placement after an idle moment costs ~14 ms on
/// our machines (0.03 ms when placements follow each other). favordynmods keeps the rwsem in its
/// writer-friendly mode: placements stay at ~0.4 ms, at the price of slightly dearer fork and exit
/// host-wide (kernel doc: "reduce the latencies of dynamic cgroup modifications ... at the cost of
/// making hot path operations such as forks and exits more expensive"). It is a host-wide setting,
/// so gockerd only sets it when asked (gocker.cgroups.favor-dynmods = on).
/// </summary>
public static unsafe class FavorDynmods
{
    const string Option = "favordynmods";

    /// <summary>The cgroup2 mount to reconfigure on this host: the v2 root, or the hybrid's unified
    /// tree (the rwsem is global, so it covers the v1 hierarchies too). Null on pure v1.</summary>
    public static string? MountPointFor(CgroupLayout layout) => layout.Mode == CgroupMode.V1 ? null : layout.UnifiedRoot;

    /// <summary><see cref="MountPointFor"/> on this host.</summary>
    public static string? MountPointOnThisHost() => MountPointFor(CgroupManagerFactory.DetectLayout(
        "/sys/fs/cgroup", File.ReadAllText("/proc/self/mountinfo"), p => CgroupNative.FilesystemMagic(p, out _)));

    /// <summary>Whether the cgroup2 mount at <paramref name="mountPoint"/> has the option, from mountinfo.</summary>
    public static bool IsEnabled(string mountPoint, string mountinfo) =>
        SuperOptions(mountPoint, mountinfo).Contains(Option);

    /// <summary>The superblock options of the cgroup2 mount at <paramref name="mountPoint"/>.</summary>
    public static IReadOnlyList<string> SuperOptions(string mountPoint, string mountinfo)
    {
        var m = MountInfo.Parse(mountinfo).LastOrDefault(e => e.MountPoint == mountPoint)
                ?? throw new SyscallException("favordynmods", mountPoint, "not a mount point");
        if (m.FsType != "cgroup2") throw new SyscallException("favordynmods", mountPoint, $"is {m.FsType}, not cgroup2");
        return m.SuperOptions;
    }

    /// <summary>The flags a reconfigure must set to end with <paramref name="enable"/>: every option
    /// the superblock has now (a cgroup2 reconfigure clears the flags it is not given, e.g.
    /// nsdelegate, which systemd relies on), with favordynmods added or left out. "rw"/"ro" are the
    /// generic superblock flags, not cgroup options: a reconfigure leaves them alone.</summary>
    public static IReadOnlyList<string> ReconfigureFlags(IReadOnlyList<string> current, bool enable)
    {
        var flags = current.Where(o => o is not ("rw" or "ro" or Option) && o.Length > 0).ToList();
        if (enable) flags.Add(Option);
        return flags;
    }

    /// <summary>Sets or clears the option on the cgroup2 mount at <paramref name="mountPoint"/> with
    /// the new mount API (fspick + fsconfig): only the superblock is reconfigured, the mount's own
    /// flags (nosuid, nodev, noexec) stay as they are, which a legacy MS_REMOUNT would reset.
    /// Returns false when nothing had to change.</summary>
    public static bool Set(string mountPoint, bool enable)
    {
        var current = SuperOptions(mountPoint, File.ReadAllText("/proc/self/mountinfo"));
        if (current.Contains(Option) == enable) return false;
        int fd;
        fixed (byte* p = Sys.Z(mountPoint))
        {
            long r = Libc.syscall(SYS_fspick, AT_FDCWD, (nint)p, FSPICK_CLOEXEC, 0, 0);
            if (r < 0) throw new SyscallException("fspick", mountPoint, Libc.Errno);
            fd = (int)r;
        }
        try
        {
            foreach (var flag in ReconfigureFlags(current, enable))
                fixed (byte* k = Sys.Z(flag))
                    if (Libc.syscall(SYS_fsconfig, fd, FSCONFIG_SET_FLAG, (nint)k, 0, 0) < 0)
                        throw new SyscallException($"fsconfig {flag}", mountPoint, Libc.Errno);
            if (Libc.syscall(SYS_fsconfig, fd, FSCONFIG_CMD_RECONFIGURE, 0, 0, 0) < 0)
                throw new SyscallException("fsconfig reconfigure", mountPoint, Libc.Errno);
        }
        finally { Libc.close(fd); }
        return true;
    }
}
