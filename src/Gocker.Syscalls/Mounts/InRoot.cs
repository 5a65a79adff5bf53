using Gocker.Syscalls.Native;
using static Gocker.Syscalls.Native.Consts;

namespace Gocker.Syscalls.Mounts;

/// <summary>
/// Resolves paths INSIDE a container rootfs, as the container would see them.
///
/// Why: the rootfs comes from an image, i.e. from someone else. A naive host-side path join
/// ("rootfs" + "/evil/x") lets an image symlink (/evil -> /, or -> ../../..) redirect a mount or a
/// mkdir onto the HOST. openat2(RESOLVE_IN_ROOT) makes the kernel resolve every symlink and ".." as if
/// rootfd were "/", atomically, and RESOLVE_NO_MAGICLINKS refuses /proc/*/fd-style jumps. Missing
/// components are created one at a time relative to the fd of the already-resolved parent, so no
/// path string is ever re-walked on the host. The returned O_PATH fd is then used as the mount target
/// (via move_mount or /proc/self/fd/N), never a path.
/// </summary>
public static class InRoot
{
    const ulong Resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;

    /// <summary>O_PATH fd of an existing path inside the root; throws naming the path if it cannot be resolved.</summary>
    public static int Open(int rootfd, string path, int flags = O_PATH)
    {
        int fd = Sys.OpenAt2(rootfd, path, flags, Resolve);
        return fd >= 0 ? fd : throw new SyscallException("resolve in rootfs", path, -fd);
    }

    /// <summary>Whether path resolves inside the root (following symlinks within it).</summary>
    public static bool Exists(int rootfd, string path)
    {
        int fd = Sys.OpenAt2(rootfd, path, O_PATH, Resolve);
        if (fd < 0) return false;
        Sys.Close(fd);
        return true;
    }

    /// <summary>
    /// O_PATH fd of path inside the root, creating missing directories (mode 0755) and, if
    /// <paramref name="fileLeaf"/>, an empty regular file as the last component.
    /// </summary>
    public static int OpenOrCreate(int rootfd, string path, bool fileLeaf = false) => OpenOrCreate(rootfd, path, fileLeaf, 0);

    const int MaxSymlinks = 40; // as the kernel's own ELOOP limit

    static int OpenOrCreate(int rootfd, string path, bool fileLeaf, int depth)
    {
        int fd = Sys.OpenAt2(rootfd, path, O_PATH, Resolve);
        if (fd >= 0) return fd;
        if (fd != -ENOENT) throw new SyscallException("resolve in rootfs", path, -fd);

        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        int parent = Sys.OpenAt2(rootfd, "/", O_PATH, Resolve);
        if (parent < 0) throw new SyscallException("resolve in rootfs", "/", -parent);
        try
        {
            string prefix = "";
            for (int i = 0; i < parts.Length; i++)
            {
                var parentPrefix = prefix;
                prefix += "/" + parts[i];
                int next = Sys.OpenAt2(rootfd, prefix, O_PATH, Resolve);
                if (next == -ENOENT)
                {
                    // A dangling symlink: follow it the way the container would, within the root
                    // (like runc's securejoin), and create what is missing at its target there.
                    var link = ReadLink(parent, parts[i]);
                    if (link is not null)
                    {
                        if (depth >= MaxSymlinks) throw new SyscallException("resolve in rootfs", path, ELOOP);
                        var rest = string.Join('/', parts.AsSpan(i + 1).ToArray());
                        var target = link.StartsWith('/') ? link : parentPrefix + "/" + link;
                        return OpenOrCreate(rootfd, rest.Length == 0 ? target : target + "/" + rest, fileLeaf, depth + 1);
                    }
                    Create(parent, parts[i], fileLeaf && i == parts.Length - 1, prefix);
                    next = Sys.OpenAt2(rootfd, prefix, O_PATH, Resolve);
                }
                if (next < 0) throw new SyscallException("resolve in rootfs", prefix, -next);
                Sys.Close(parent);
                parent = next;
            }
            int result = parent;
            parent = -1;
            return result;
        }
        finally { Sys.Close(parent); }
    }

    /// <summary>The target of name if it is a symlink in the directory parentFd, else null.</summary>
    static unsafe string? ReadLink(int parentFd, string name)
    {
        var buf = new byte[4096];
        fixed (byte* p = Sys.Z(name))
        fixed (byte* b = buf)
        {
            var n = Tmds.Linux.LibC.readlinkat(parentFd, p, b, buf.Length);
            return n > 0 ? System.Text.Encoding.UTF8.GetString(buf, 0, (int)n) : null;
        }
    }

    static unsafe void Create(int parentFd, string name, bool file, string shownPath)
    {
        fixed (byte* p = Sys.Z(name))
        {
            // O_EXCL|O_NOFOLLOW / mkdirat never follow a symlink in the last component: if the name
            // exists as a (dangling) symlink we fail instead of creating its target somewhere.
            int r;
            if (file)
            {
                r = Libc.openat(parentFd, p, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0x1a4 /*0644*/);
                if (r >= 0) { Libc.close(r); r = 0; }
            }
            else r = Libc.mkdirat(parentFd, p, 0x1ed /*0755*/);
            if (r != 0)
            {
                int e = Libc.Errno;
                if (e == EEXIST)
                    throw new SyscallException("create in rootfs", shownPath,
                        "exists but does not resolve inside the rootfs (dangling symlink?)");
                throw new SyscallException(file ? "create file in rootfs" : "mkdir in rootfs", shownPath, e);
            }
        }
    }

    /// <summary>The magic-link path that names fd, usable as a mount(2) target.</summary>
    public static string FdPath(int fd) => "/proc/self/fd/" + fd.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
