using Gocker.Syscalls.Native;
using static Gocker.Syscalls.Native.Consts;

namespace Gocker.Host;

/// <summary>
/// GET /containers/{id}/changes from the overlay's upper dir (Docker's overlay2 differ): a whiteout
/// (char device 0/0) is Kind 2 deleted; anything else is Kind 0 modified when the image's layers have
/// the path, Kind 1 added when not; a directory is reported only when it is new or something under it
/// changed (it was copied up for a change inside). The mount points Gocker makes for every container
/// (/proc, /sys, /dev, the generated /etc files, volume, tmpfs and device targets) are not the user's
/// changes, as Docker keeps them in a separate init layer.
/// The walk never follows a symlink: the upper dir is written by the container, which could swap a
/// directory for a link to a host path while we read (each directory is opened with O_NOFOLLOW under
/// its parent's fd and listed through that fd), and image layers are probed with RESOLVE_NO_SYMLINKS.
/// </summary>
public static class ContainerChanges
{
    public sealed record Change(string Path, int Kind);

    public static List<Change> Compute(string upperDir, IReadOnlyList<string> lowerDirs, IEnumerable<string> mountTargets)
    {
        var skip = new HashSet<string>(["/proc", "/sys", "/dev", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf", .. mountTargets], StringComparer.Ordinal);
        var lowers = new List<int>();
        var result = new List<Change>();
        int root = Sys.OpenAt2(-100 /*AT_FDCWD*/, upperDir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
        if (root < 0) return result; // never started: no upper dir yet
        try
        {
            foreach (var l in lowerDirs)
            {
                int fd = Sys.OpenAt2(-100, l, O_PATH | O_DIRECTORY, 0);
                if (fd >= 0) lowers.Add(fd);
            }
            Walk(root, "", lowers, skip, result, depth: 0);
        }
        finally
        {
            Sys.Close(root);
            foreach (var fd in lowers) Sys.Close(fd);
        }
        result.Sort((a, b) => string.CompareOrdinal(a.Path, b.Path));
        return result;
    }

    /// <summary>Adds the changes under dirfd (path <paramref name="prefix"/>); true when any was added.</summary>
    static bool Walk(int dirfd, string prefix, List<int> lowers, HashSet<string> skip, List<Change> result, int depth)
    {
        if (depth > 512) throw new IOException($"{prefix}: directories nested too deep");
        bool any = false;
        string[] names;
        try { names = Directory.EnumerateFileSystemEntries("/proc/self/fd/" + dirfd).Select(Path.GetFileName).ToArray()!; }
        catch (DirectoryNotFoundException) { return false; }
        foreach (var name in names)
        {
            var path = prefix + "/" + name;
            if (skip.Contains(path)) continue;
            if (!Sys.TryStatOwner(dirfd, name, follow: false, out int mode, out _, out _, out ulong rdev)) continue; // gone meanwhile
            int type = mode & S_IFMT;
            if (type == S_IFCHR && rdev == 0)
            {
                result.Add(new Change(path, 2));
                any = true;
                continue;
            }
            bool inLower = InLower(lowers, path[1..]);
            if (type == S_IFDIR)
            {
                int child = Sys.OpenAt2(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
                if (child < 0) continue; // replaced meanwhile (a symlink is never followed)
                int at = result.Count;
                bool inside;
                try { inside = Walk(child, path, lowers, skip, result, depth + 1); }
                finally { Sys.Close(child); }
                if (!inLower || inside)
                {
                    result.Insert(at, new Change(path, inLower ? 0 : 1));
                    any = true;
                }
                continue;
            }
            result.Add(new Change(path, inLower ? 0 : 1));
            any = true;
        }
        return any;
    }

    /// <summary>The topmost layer that has the path decides; a whiteout there means deleted below.</summary>
    static bool InLower(List<int> lowers, string relative)
    {
        foreach (var layer in lowers)
        {
            int fd = Sys.OpenAt2(layer, relative, O_PATH | O_NOFOLLOW, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);
            if (fd < 0) continue;
            try
            {
                if (!Sys.TryStatDevice(fd, out int mode, out ulong rdev)) continue;
                return !((mode & S_IFMT) == S_IFCHR && rdev == 0);
            }
            finally { Sys.Close(fd); }
        }
        return false;
    }
}
