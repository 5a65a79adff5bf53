using Gocker.Syscalls.Native;
using Gocker.Syscalls.Spawn;
using static Gocker.Syscalls.Native.Consts;

namespace Gocker.Syscalls.Mounts;

/// <summary>The host's device nodes, for --device (one, by path) and --privileged (all of /dev, as
/// Docker gives a privileged container).</summary>
public static class HostDevices
{
    const int S_IFBLK = 0x6000, S_IFCHR = 0x2000;

    /// <summary>The device at path (symlinks followed: /dev/disk/by-id/... works), with the host's
    /// numbers, mode bits and owner; the container path defaults to the host path. Throws IOException
    /// (missing) or ArgumentException (not a character or block device).</summary>
    public static DeviceNode Lookup(string path)
    {
        if (!Sys.TryStatOwner(AT_FDCWD, path, follow: true, out int mode, out uint uid, out uint gid, out ulong rdev))
            throw new IOException($"{path}: {ErrnoText.Describe(Libc.Errno)}");
        char type = (mode & S_IFMT) switch
        {
            S_IFCHR => 'c',
            S_IFBLK => 'b',
            S_IFDIR => throw new ArgumentException($"{path} is a directory (give each device)"),
            _ => throw new ArgumentException($"{path} is not a character or block device"),
        };
        return new DeviceNode(path, path, type, Major(rdev), Minor(rdev), mode & 0xfff, uid, gid, "rwm");
    }

    /// <summary>Every character and block device under /dev, as runc's HostDevices walks it: not into
    /// pts (the container has its own), shm, mqueue, fd, or the .lxc/.udev bookkeeping, and not the
    /// host's console.</summary>
    public static DeviceNode[] List(string root = "/dev")
    {
        var result = new List<DeviceNode>();
        Walk(root, result);
        return result.ToArray();
    }

    static void Walk(string dir, List<DeviceNode> into)
    {
        IEnumerable<string> entries;
        try { entries = Directory.EnumerateFileSystemEntries(dir); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { return; }
        foreach (var path in entries)
        {
            var name = Path.GetFileName(path);
            if (!Sys.TryStatOwner(AT_FDCWD, path, follow: false, out int mode, out uint uid, out uint gid, out ulong rdev)) continue;
            switch (mode & S_IFMT)
            {
                case S_IFDIR:
                    if (name is "pts" or "shm" or "mqueue" or "fd" or ".lxc" or ".lxd-mounts" or ".udev") continue;
                    Walk(path, into);
                    break;
                case S_IFCHR when name != "console":
                    into.Add(new DeviceNode(path, path, 'c', Major(rdev), Minor(rdev), mode & 0xfff, uid, gid, "rwm"));
                    break;
                case S_IFBLK:
                    into.Add(new DeviceNode(path, path, 'b', Major(rdev), Minor(rdev), mode & 0xfff, uid, gid, "rwm"));
                    break;
            }
        }
    }

    // glibc's gnu_dev_major/minor.
    public static long Major(ulong dev) => (long)(((dev >> 8) & 0xfff) | ((dev >> 32) & ~0xfffUL));
    public static long Minor(ulong dev) => (long)((dev & 0xff) | ((dev >> 12) & ~0xffUL));
    public static ulong MakeDev(long major, long minor) =>
        ((ulong)minor & 0xff) | (((ulong)major & 0xfff) << 8) | (((ulong)minor & ~0xffUL) << 12) | (((ulong)major & ~0xfffUL) << 32);
}
