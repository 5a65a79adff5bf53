using Gocker.Syscalls;
using Gocker.Syscalls.Mounts;
using Gocker.Syscalls.Native;
using static Gocker.Syscalls.Native.Consts;

namespace Gocker.Init;

static unsafe class Root
{
    /// <summary>
    /// pivot_root(".", ".") stacks the old root on top of the new one, and umount2(".", MNT_DETACH)
    /// peels it off: no directory inside the image is used to park the old root, so whatever the image
    /// contains (a /.pivot_root, a symlink, a file) cannot influence it. Afterwards "/" must be the
    /// overlay we mounted, or we refuse to go on: a container must never run on the host's root.
    /// </summary>
    public static void Pivot(int rootfd)
    {
        if (Libc.fchdir(rootfd) != 0) throw new SyscallException("fchdir", "rootfs", Libc.Errno);
        fixed (byte* dot = Sys.Z("."))
        {
            if (Libc.syscall(SYS_pivot_root, (nint)dot, (nint)dot, 0, 0, 0) != 0)
                throw new SyscallException("pivot_root", ".", Libc.Errno);
            if (Libc.umount2(dot, MNT_DETACH) != 0) throw new SyscallException("umount old root", ".", Libc.Errno);
        }
        fixed (byte* slash = Sys.Z("/"))
            if (Libc.chdir(slash) != 0) throw new SyscallException("chdir", "/", Libc.Errno);

        int now = Sys.Open("/", O_PATH | O_DIRECTORY);
        try
        {
            Sys.TryStat(rootfd, "", out var d1, out var i1, out _);
            Sys.TryStat(now, "", out var d2, out var i2, out _);
            if (!Overlay.IsOverlay(now) || d1 != d2 || i1 != i2)
                throw new InitFailure(125, "after pivot_root, / is not the container's overlay; refusing to continue");
        }
        finally { Sys.Close(now); }
    }

    /// <summary>Resolves (creating if missing) the working dir inside the new root and enters it.</summary>
    public static void ChdirInside(string dir)
    {
        if (string.IsNullOrEmpty(dir) || dir[0] != '/') throw new InitFailure(125, $"working dir must be absolute: '{dir}'");
        int root = Sys.Open("/", O_PATH | O_DIRECTORY);
        try
        {
            int fd = InRoot.OpenOrCreate(root, dir);
            try { if (Libc.fchdir(fd) != 0) throw new SyscallException("chdir", dir, Libc.Errno); }
            finally { Sys.Close(fd); }
        }
        finally { Sys.Close(root); }
    }
}
