using Gocker.Syscalls.Native;
using static Gocker.Syscalls.Native.Consts;

namespace Gocker.Syscalls.Mounts;

public static class Overlay
{
    /// <summary>
    /// Builds "lowerdir=a:b,upperdir=u,workdir=w". Why the checks: overlayfs parses ',' as the option
    /// separator and ':' as the lowerdir separator, so a path containing them would inject options
    /// (e.g. a second lowerdir or upperdir pointing anywhere on the host). Such paths are refused.
    /// </summary>
    public static string Options(IReadOnlyList<string> lowerDirs, string upperDir, string workDir, bool volatileUpper = false)
    {
        if (lowerDirs.Count == 0) throw new ArgumentException("overlay: no lower dirs");
        foreach (var l in lowerDirs) Check("lowerdir", l);
        Check("upperdir", upperDir);
        Check("workdir", workDir);
        var options = $"lowerdir={string.Join(':', lowerDirs)},upperdir={upperDir},workdir={workDir}";
        return volatileUpper ? options + ",volatile" : options;
    }

    static void Check(string what, string path)
    {
        if (string.IsNullOrEmpty(path) || path[0] != '/')
            throw new ArgumentException($"overlay {what} must be an absolute path: '{path}'");
        foreach (var c in path)
            if (c == ',' || c == ':' || c == '\\' || c == '\0' || c == '\n')
                throw new ArgumentException($"overlay {what} contains a forbidden character ('{c}'): '{path}'");
    }

    /// <summary>
    /// Mounts the overlay. <paramref name="volatileUpper"/> (kernel >= 5.10): the overlay never syncs
    /// its upper filesystem, in particular not the syncfs at unmount that otherwise runs on the exit
    /// path of the container's last process. Only for an upper dir that is thrown away (--rm).
    /// </summary>
    public static void Mount(string target, IReadOnlyList<string> lowerDirs, string upperDir, string workDir, bool volatileUpper = false)
    {
        if (volatileUpper)
        {
            // A volatile mount leaves WORKDIR/work/incompat/volatile/dirty behind, and overlayfs refuses
            // any later mount of that workdir while it exists (the upper may be incomplete after a
            // crash). A second mount of the same upper only happens after a failed rootfs setup of the
            // same start (the mount policy's retry), with no crash in between: the marker is ours to
            // remove. The workdir is the daemon's own, never reachable from a container.
            var incompat = Path.Combine(workDir, "work", "incompat");
            if (Directory.Exists(incompat)) Directory.Delete(incompat, recursive: true);
            try
            {
                Sys.Mount("overlay", target, "overlay", 0, Options(lowerDirs, upperDir, workDir, volatileUpper: true), "overlay on");
                return;
            }
            // A kernel without the option (< 5.10) says EINVAL: mount as before.
            catch (SyscallException e) when (e.Errno == EINVAL) { }
        }
        Sys.Mount("overlay", target, "overlay", 0, Options(lowerDirs, upperDir, workDir), "overlay on");
    }

    public static bool IsOverlay(int fd) => Sys.FsType(fd) == OVERLAYFS_SUPER_MAGIC;
}
