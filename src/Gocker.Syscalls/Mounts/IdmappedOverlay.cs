using Gocker.Syscalls.Native;
using static Gocker.Syscalls.Native.Consts;

namespace Gocker.Syscalls.Mounts;

/// <summary>
/// The root filesystem of a remapped container (userns-remap), made by the daemon as a detached mount
/// that the init attaches in its own mount namespace (move_mount).
///
/// Why the daemon and not the init: each image layer must be seen through an idmapped mount (files
/// owned by 0 on disk appear owned by the container's root, HostUid, so the layers are shared with
/// every other container, never copied or chowned), and idmapping a mount needs CAP_SYS_ADMIN over
/// the layer's filesystem, which only the host's root has. The overlay is then made with the new
/// mount API from those detached layers (fsconfig "lowerdir+" by descriptor: recent kernels), the
/// upper and work dirs (owned by the container's root on disk), and never appears on a host path.
/// </summary>
public static unsafe class IdmappedOverlay
{
    const long SYS_fsopen = 430, SYS_fsmount = 432;
    const int FSOPEN_CLOEXEC = 1, FSMOUNT_CLOEXEC = 1;
    const int FSCONFIG_SET_STRING = 1, FSCONFIG_SET_FD = 5, FSCONFIG_CMD_CREATE = 6;
    const ulong MOUNT_ATTR_IDMAP = 0x00100000;

    /// <summary>A detached overlay mount (an fd, CLOEXEC) whose lower layers are idmapped through usernsFd.</summary>
    public static int Create(IReadOnlyList<string> lowerDirs, string upperDir, string workDir, int usernsFd, bool volatileUpper)
    {
        if (lowerDirs.Count == 0) throw new ArgumentException("overlay: no lower dirs");
        _ = Overlay.Options(lowerDirs, upperDir, workDir); // the same path checks as a mount by options
        if (volatileUpper)
        {
            // As Overlay.Mount: a retried mount of the same volatile upper finds its marker.
            var incompat = Path.Combine(workDir, "work", "incompat");
            if (Directory.Exists(incompat)) Directory.Delete(incompat, recursive: true);
        }
        int fs;
        fixed (byte* type = Sys.Z("overlay")) fs = (int)Libc.syscall(SYS_fsopen, (nint)type, FSOPEN_CLOEXEC, 0, 0, 0);
        if (fs < 0) throw new SyscallException("fsopen", "overlay", Libc.Errno);
        // Each detached layer lives as long as its descriptor: closing one dissolves its mount before
        // the overlay, at create, takes its private clone ("failed to clone lowerpath"). Closed at the end.
        var layers = new List<int>(lowerDirs.Count);
        try
        {
            foreach (var lower in lowerDirs)
            {
                int layer = IdmappedClone(lower, usernsFd);
                layers.Add(layer);
                Config(fs, FSCONFIG_SET_FD, "lowerdir+", null, layer, lower);
            }
            Config(fs, FSCONFIG_SET_STRING, "upperdir", upperDir, 0, upperDir);
            Config(fs, FSCONFIG_SET_STRING, "workdir", workDir, 0, workDir);
            if (volatileUpper) Config(fs, FSCONFIG_SET_FLAG, "volatile", null, 0, "volatile");
            Config(fs, FSCONFIG_CMD_CREATE, null, null, 0, upperDir);
            int mnt = (int)Libc.syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, 0, 0, 0);
            if (mnt < 0) throw new SyscallException("fsmount overlay", upperDir, Libc.Errno);
            return mnt;
        }
        finally
        {
            Sys.Close(fs);
            foreach (var layer in layers) Sys.Close(layer);
        }
    }

    /// <summary>A detached copy of the directory's mount, idmapped with the user namespace's maps.</summary>
    public static int IdmappedClone(string dir, int usernsFd)
    {
        int tree;
        fixed (byte* p = Sys.Z(dir))
            tree = (int)Libc.syscall(SYS_open_tree, AT_FDCWD, (nint)p, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC, 0, 0);
        if (tree < 0) throw new SyscallException("open_tree", dir, Libc.Errno);
        ulong* attr = stackalloc ulong[4];
        attr[0] = MOUNT_ATTR_IDMAP; attr[1] = 0; attr[2] = 0; attr[3] = (ulong)usernsFd;
        fixed (byte* empty = Sys.Z(""))
            if (Libc.syscall(SYS_mount_setattr, tree, (nint)empty, AT_EMPTY_PATH, (nint)attr, 32) != 0)
            {
                int e = Libc.Errno;
                Sys.Close(tree);
                throw new SyscallException("mount_setattr idmap", dir, e);
            }
        return tree;
    }

    static void Config(int fs, int cmd, string? key, string? value, int aux, string shown)
    {
        long r;
        fixed (byte* k = key is null ? null : Sys.Z(key))
        fixed (byte* v = value is null ? null : Sys.Z(value))
            r = Libc.syscall(SYS_fsconfig, fs, cmd, (nint)k, (nint)v, aux);
        if (r == 0) return;
        int e = Libc.Errno;
        // The kernel's own words (e.g. "overlayfs: failed to resolve ..."), read from the fs context.
        var detail = KernelMessage(fs);
        throw new SyscallException($"fsconfig overlay {key ?? "create"}{(detail is null ? "" : " (" + detail + ")")}", shown, e);
    }

    static string? KernelMessage(int fs)
    {
        var buf = stackalloc byte[512];
        var n = Libc.read(fs, buf, 511);
        return n > 0 ? System.Text.Encoding.UTF8.GetString(buf, (int)n).Trim() : null;
    }
}
