using Gocker.Syscalls.Native;
using static Gocker.Syscalls.Native.Consts;

namespace Gocker.Syscalls.Mounts;

/// <summary>
/// An overlay made with the new mount API (fsopen/fsconfig/fsmount) and never attached anywhere: the
/// returned descriptor is its root. Used to reach a stopped container's files (the archive API): the
/// mount exists only while the descriptor is open, in no mount namespace, so nothing can be left
/// mounted on the host by a crash, and no host path ever names it.
/// </summary>
public static unsafe class DetachedOverlay
{
    const long SYS_fsopen = 430, SYS_fsmount = 432;
    const int FSOPEN_CLOEXEC = 1, FSMOUNT_CLOEXEC = 1;
    const int FSCONFIG_SET_STRING = 1, FSCONFIG_CMD_CREATE = 6;

    /// <summary>A detached read-write overlay (lowers top first, the upper and a work dir of its own).
    /// For a remapped container use <see cref="IdmappedOverlay.Create"/> instead.</summary>
    public static int Create(IReadOnlyList<string> lowerDirs, string upperDir, string workDir)
    {
        if (lowerDirs.Count == 0) throw new ArgumentException("overlay: no lower dirs");
        _ = Overlay.Options(lowerDirs, upperDir, workDir); // the same path checks as a mount by options
        int fs;
        fixed (byte* type = Sys.Z("overlay")) fs = (int)Libc.syscall(SYS_fsopen, (nint)type, FSOPEN_CLOEXEC, 0, 0, 0);
        if (fs < 0) throw new SyscallException("fsopen", "overlay", Libc.Errno);
        try
        {
            // fsconfig takes at most 256 bytes a value (strndup_user): a longer list is given one
            // layer at a time ("lowerdir+", top first, kernel 6.8+) instead of failing with EINVAL.
            var joined = string.Join(':', lowerDirs);
            if (joined.Length < 256) Config(fs, FSCONFIG_SET_STRING, "lowerdir", joined, upperDir);
            else foreach (var l in lowerDirs) Config(fs, FSCONFIG_SET_STRING, "lowerdir+", l, l);
            Config(fs, FSCONFIG_SET_STRING, "upperdir", upperDir, upperDir);
            Config(fs, FSCONFIG_SET_STRING, "workdir", workDir, workDir);
            Config(fs, FSCONFIG_CMD_CREATE, null, null, upperDir);
            int mnt = (int)Libc.syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, 0, 0, 0);
            if (mnt < 0) throw new SyscallException("fsmount overlay", upperDir, Libc.Errno);
            return mnt;
        }
        finally { Sys.Close(fs); }
    }

    static void Config(int fs, int cmd, string? key, string? value, string shown)
    {
        long r;
        fixed (byte* k = key is null ? null : Sys.Z(key))
        fixed (byte* v = value is null ? null : Sys.Z(value))
            r = Libc.syscall(SYS_fsconfig, fs, cmd, (nint)k, (nint)v, 0);
        if (r == 0) return;
        int e = Libc.Errno;
        var buf = stackalloc byte[512];
        var n = Libc.read(fs, buf, 511);
        var detail = n > 0 ? " (" + System.Text.Encoding.UTF8.GetString(buf, (int)n).Trim() + ")" : "";
        throw new SyscallException($"fsconfig overlay {key ?? "create"}{detail}", shown, e);
    }
}
