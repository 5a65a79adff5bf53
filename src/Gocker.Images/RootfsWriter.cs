using Microsoft.Win32.SafeHandles;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace Gocker.Images;

/// <summary>Creates entries inside a rootfs directory by descriptor, never by host path: every parent is
/// opened with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) from the root's descriptor, and the final
/// component is created with O_EXCL/O_NOFOLLOW or a *at call that does not follow it. A symlink planted
/// by an earlier archive entry ("a -> /etc", then "a/passwd") therefore fails with ELOOP instead of
/// writing to the host. The unpacker also refuses such entries up front with a clearer message; this
/// layer is the backstop. Needs Linux 5.6+ (openat2).
/// Paths given here are already normalised root-relative paths ("a/b/c", "" for the root itself).</summary>
internal sealed unsafe class RootfsWriter : IDisposable
{
    readonly string _rootPath;
    readonly Fd _root;
    // The last parent opened: archives list siblings together, so this saves most openat2 calls.
    string? _cachedParent;
    Fd? _cachedParentFd;

    public RootfsWriter(string rootPath)
    {
        _rootPath = rootPath;
        _root = Fd.OpenDirectory(rootPath);
    }

    public int RootFd => _root.Value;

    string HostPath(string rel) => rel.Length == 0 ? _rootPath : _rootPath + "/" + rel;

    static (string parent, string leaf) Split(string rel)
    {
        int slash = rel.LastIndexOf('/');
        return slash < 0 ? ("", rel) : (rel[..slash], rel[(slash + 1)..]);
    }

    int ParentFd(string parent)
    {
        if (parent.Length == 0) return _root.Value;
        if (_cachedParent == parent) return _cachedParentFd!.Value;
        _cachedParentFd?.Dispose();
        _cachedParent = null;
        var how = new open_how
        {
            flags = (ulong)(O_PATH | O_DIRECTORY | O_CLOEXEC),
            resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        int fd;
        fixed (byte* p = Native.Z(parent))
            fd = openat2(_root.Value, p, &how, (size_t)sizeof(open_how));
        if (fd < 0) throw Native.Error("openat2", HostPath(parent), errno);
        _cachedParentFd = new Fd(fd);
        _cachedParent = parent;
        return fd;
    }

    /// <summary>Forget the cached parent (after removing or replacing a directory).</summary>
    public void InvalidateCache()
    {
        _cachedParentFd?.Dispose();
        _cachedParentFd = null;
        _cachedParent = null;
    }

    public void MakeDirectory(string rel)
    {
        var (parent, leaf) = Split(rel);
        int dfd = ParentFd(parent);
        fixed (byte* l = Native.Z(leaf))
            if (mkdirat(dfd, l, 0b111_000_000) != 0)
                throw Native.Error("mkdir", HostPath(rel), errno);
    }

    /// <summary>A new regular file, opened for writing. O_EXCL|O_NOFOLLOW: never an existing file or link.</summary>
    public FileStream CreateFile(string rel)
    {
        var (parent, leaf) = Split(rel);
        int dfd = ParentFd(parent);
        int fd;
        fixed (byte* l = Native.Z(leaf))
            fd = openat(dfd, l, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0b110_000_000);
        if (fd < 0) throw Native.Error("create", HostPath(rel), errno);
        return new FileStream(new SafeFileHandle(fd, ownsHandle: true), FileAccess.Write, bufferSize: 0);
    }

    public void Symlink(string rel, string target)
    {
        var (parent, leaf) = Split(rel);
        int dfd = ParentFd(parent);
        fixed (byte* t = Native.Z(target))
        fixed (byte* l = Native.Z(leaf))
            if (symlinkat(t, dfd, l) != 0)
                throw Native.Error("symlink", HostPath(rel), errno);
    }

    public void Hardlink(string rel, string targetRel)
    {
        var (tparent, tleaf) = Split(targetRel);
        // Two parents may be open at once: open the target's parent separately (not via the cache).
        using var tfd = OpenParentUncached(tparent);
        var (parent, leaf) = Split(rel);
        int dfd = ParentFd(parent);
        fixed (byte* t = Native.Z(tleaf))
        fixed (byte* l = Native.Z(leaf))
            // flags 0: do not follow a symlink at the target (the unpacker refuses those anyway).
            if (linkat(tfd?.Value ?? _root.Value, t, dfd, l, 0) != 0)
                throw Native.Error("link", HostPath(rel), errno);
    }

    Fd? OpenParentUncached(string parent)
    {
        if (parent.Length == 0) return null;
        var how = new open_how
        {
            flags = (ulong)(O_PATH | O_DIRECTORY | O_CLOEXEC),
            resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        int fd;
        fixed (byte* p = Native.Z(parent))
            fd = openat2(_root.Value, p, &how, (size_t)sizeof(open_how));
        if (fd < 0) throw Native.Error("openat2", HostPath(parent), errno);
        return new Fd(fd);
    }

    /// <summary>mknod for fifos and (when allowed) devices. typeBits is S_IFIFO, S_IFCHR or S_IFBLK.</summary>
    public void MakeNode(string rel, int typeBits, ulong dev)
    {
        var (parent, leaf) = Split(rel);
        int dfd = ParentFd(parent);
        fixed (byte* l = Native.Z(leaf))
            if (mknodat(dfd, l, (mode_t)(ushort)(typeBits | 0b110_000_000), dev) != 0)
                throw Native.Error("mknod", HostPath(rel), errno);
    }

    public void Unlink(string rel)
    {
        var (parent, leaf) = Split(rel);
        int dfd = ParentFd(parent);
        fixed (byte* l = Native.Z(leaf))
            if (unlinkat(dfd, l, 0) != 0)
                throw Native.Error("unlink", HostPath(rel), errno);
    }

    /// <summary>lchown semantics: a symlink's own owner changes, never its target's.</summary>
    public void SetOwner(string rel, int uid, int gid)
    {
        if (rel.Length == 0)
        {
            if (fchown(_root.Value, (uint)uid, (uint)gid) != 0) throw Native.Error("chown", _rootPath, errno);
            return;
        }
        var (parent, leaf) = Split(rel);
        int dfd = ParentFd(parent);
        fixed (byte* l = Native.Z(leaf))
            if (fchownat(dfd, l, (uint)uid, (uint)gid, AT_SYMLINK_NOFOLLOW) != 0)
                throw Native.Error("chown", HostPath(rel), errno);
    }

    /// <summary>Mode bits incl. setuid/setgid/sticky. Call after SetOwner: chown clears setuid/setgid.
    /// Never called on symlinks (fchmodat follows the final component; the unpacker knows the type of
    /// every entry it created itself in this private directory).</summary>
    public void SetMode(string rel, int mode)
    {
        if (rel.Length == 0)
        {
            if (fchmod(_root.Value, (mode_t)(ushort)(mode & 0xFFF)) != 0) throw Native.Error("chmod", _rootPath, errno);
            return;
        }
        var (parent, leaf) = Split(rel);
        int dfd = ParentFd(parent);
        fixed (byte* l = Native.Z(leaf))
            if (fchmodat(dfd, l, (mode_t)(ushort)(mode & 0xFFF), 0) != 0)
                throw Native.Error("chmod", HostPath(rel), errno);
    }

    public void SetMtime(string rel, DateTimeOffset mtime)
    {
        var ts = stackalloc timespec[2];
        long ticks = mtime.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks;
        long sec = Math.DivRem(ticks, TimeSpan.TicksPerSecond, out long rem);
        if (rem < 0) { sec--; rem += TimeSpan.TicksPerSecond; }
        ts[0].tv_sec = sec; ts[0].tv_nsec = (long_t)(rem * 100);
        ts[1] = ts[0];
        var (parent, leaf) = rel.Length == 0 ? ("", ".") : Split(rel);
        int dfd = ParentFd(parent);
        fixed (byte* l = Native.Z(leaf))
            if (utimensat(dfd, l, ts, AT_SYMLINK_NOFOLLOW) != 0)
                throw Native.Error("utimensat", HostPath(rel), errno);
    }

    /// <summary>Sets an extended attribute on a directory this writer made (opened beneath the root,
    /// never through a symlink). Used for overlayfs' opaque marker.</summary>
    public void SetXattr(string rel, string name, ReadOnlySpan<byte> value)
    {
        if (rel.Length == 0)
        {
            if (Native.fsetxattr(_root.Value, name, value, (nuint)value.Length, 0) != 0) throw Native.Error("setxattr " + name, _rootPath);
            return;
        }
        var how = new open_how
        {
            flags = (ulong)(O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC),
            resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        int fd;
        fixed (byte* p = Native.Z(rel))
            fd = openat2(_root.Value, p, &how, (size_t)sizeof(open_how));
        if (fd < 0) throw Native.Error("openat2", HostPath(rel), errno);
        using var dir = new Fd(fd);
        if (Native.fsetxattr(fd, name, value, (nuint)value.Length, 0) != 0) throw Native.Error("setxattr " + name, HostPath(rel));
    }

    public void Dispose()
    {
        InvalidateCache();
        _root.Dispose();
    }
}
