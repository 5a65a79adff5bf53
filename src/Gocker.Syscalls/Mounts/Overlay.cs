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
    public static string Options(IReadOnlyList<string> lowerDirs, string upperDir, string workDir)
    {
        if (lowerDirs.Count == 0) throw new ArgumentException("overlay: no lower dirs");
        foreach (var l in lowerDirs) Check("lowerdir", l);
        Check("upperdir", upperDir);
        Check("workdir", workDir);
        return $"lowerdir={string.Join(':', lowerDirs)},upperdir={upperDir},workdir={workDir}";
    }

    static void Check(string what, string path)
    {
        if (string.IsNullOrEmpty(path) || path[0] != '/')
            throw new ArgumentException($"overlay {what} must be an absolute path: '{path}'");
        foreach (var c in path)
            if (c == ',' || c == ':' || c == '\\' || c == '\0' || c == '\n')
                throw new ArgumentException($"overlay {what} contains a forbidden character ('{c}'): '{path}'");
    }

    public static void Mount(string target, IReadOnlyList<string> lowerDirs, string upperDir, string workDir) =>
        Sys.Mount("overlay", target, "overlay", 0, Options(lowerDirs, upperDir, workDir), "overlay on");

    public static bool IsOverlay(int fd) => Sys.FsType(fd) == OVERLAYFS_SUPER_MAGIC;
}
