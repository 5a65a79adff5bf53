using Gocker.Syscalls;
using Gocker.Syscalls.Native;
using static Gocker.Syscalls.Native.Consts;

namespace Gocker.Init;

/// <summary>A remapped init's steps (userns-remap; its user namespace was made by native/userns.c).</summary>
static unsafe class Userns
{
    /// <summary>The detached overlay the daemon made (IdmappedOverlay), passed as fd 6.</summary>
    public const int RootfsFd = 6;
    const long SYS_setresuid = 117, SYS_setresgid = 119, SYS_setgroups = 116;

    /// <summary>uid and gid 0 of the user namespace (the map's first host ids), no supplementary groups.
    /// Capabilities stay: a change to uid 0 keeps them (and we hold them in this namespace only).</summary>
    public static void BecomeRoot()
    {
        if (Libc.syscall(SYS_setgroups, 0, 0, 0, 0, 0) != 0) throw new SyscallException("setgroups", null, Libc.Errno);
        if (Libc.syscall(SYS_setresgid, 0, 0, 0, 0, 0) != 0) throw new SyscallException("setresgid", "0", Libc.Errno);
        if (Libc.syscall(SYS_setresuid, 0, 0, 0, 0, 0) != 0) throw new SyscallException("setresuid", "0", Libc.Errno);
    }

    /// <summary>Moves the overlay onto the rootfs mount point (opened before, as the host's root).</summary>
    public static void AttachRootfs(int target, string shownTarget)
    {
        try
        {
            fixed (byte* empty = Sys.Z(""))
                if (Libc.syscall(SYS_move_mount, RootfsFd, (nint)empty, target, (nint)empty, MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
                    throw new SyscallException("move_mount overlay onto", shownTarget, Libc.Errno);
        }
        finally { Sys.Close(target); }
    }
}
