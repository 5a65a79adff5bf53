using Gocker.Syscalls.Native;
using static Gocker.Syscalls.Native.Consts;

namespace Gocker.Syscalls.Mounts;

/// <summary>
/// Bind mounts with the fd-based mount API (open_tree / mount_setattr / move_mount, Linux >= 5.12).
/// Why not mount(MS_BIND) + MS_REMOUNT|MS_RDONLY: that remount makes only the top mount read-only,
/// sub-mounts of a recursive bind stay writable; mount_setattr(AT_RECURSIVE) makes the whole cloned
/// tree read-only BEFORE it becomes visible, and move_mount attaches it onto an fd that was resolved
/// inside the rootfs (no path is re-walked).
/// </summary>
public static unsafe class BindMount
{
    /// <summary>Clones the host path source (recursively), optionally read-only, onto targetFd.</summary>
    public static void Attach(string source, int targetFd, bool readOnly, string shownTarget)
    {
        int tree;
        fixed (byte* s = Sys.Z(source))
            tree = (int)Libc.syscall(SYS_open_tree, AT_FDCWD, (nint)s, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE, 0, 0);
        if (tree < 0) throw new SyscallException("open_tree", source, Libc.Errno);
        AttachTree(tree, targetFd, readOnly, source, shownTarget);
    }

    /// <summary>Clones what sourceFd names (an fd resolved inside the rootfs) onto targetFd.</summary>
    public static void Attach(int sourceFd, int targetFd, bool readOnly, string shownSource, string shownTarget)
    {
        byte* empty = stackalloc byte[1];
        empty[0] = 0;
        int tree = (int)Libc.syscall(SYS_open_tree, sourceFd, (nint)empty,
            OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH, 0, 0);
        if (tree < 0) throw new SyscallException("open_tree", shownSource, Libc.Errno);
        AttachTree(tree, targetFd, readOnly, shownSource, shownTarget);
    }

    static void AttachTree(int tree, int targetFd, bool readOnly, string shownSource, string shownTarget)
    {
        try
        {
            byte* empty = stackalloc byte[1];
            empty[0] = 0;
            if (readOnly)
            {
                ulong* attr = stackalloc ulong[4];
                attr[0] = MOUNT_ATTR_RDONLY; attr[1] = 0; attr[2] = 0; attr[3] = 0;
                if (Libc.syscall(SYS_mount_setattr, tree, (nint)empty, AT_EMPTY_PATH | AT_RECURSIVE, (nint)attr, 32) != 0)
                    throw new SyscallException("mount_setattr ro", shownSource, Libc.Errno);
            }
            if (Libc.syscall(SYS_move_mount, tree, (nint)empty, targetFd, (nint)empty,
                    MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
                throw new SyscallException("move_mount " + shownSource + " onto", shownTarget, Libc.Errno);
        }
        finally { Sys.Close(tree); }
    }
}
