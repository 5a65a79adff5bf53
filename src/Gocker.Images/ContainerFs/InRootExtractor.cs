using System.Formats.Tar;
using Gocker.Syscalls;
using Gocker.Syscalls.Native;
using Microsoft.Win32.SafeHandles;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace Gocker.Images.ContainerFs;

/// <summary>
/// Unpacks an uploaded tar into a directory of a container (PUT /containers/ID/archive), merging with
/// what is there as Docker does (an existing directory takes the entry's metadata, anything else is
/// replaced). The rules, each against a known attack on cp:
/// - names as in the image unpacker (<see cref="TarUnpacker.NormalizeName"/>): ".." is refused (path
///   traversal); an absolute name is taken under the destination, as Docker does (never at the host's /);
/// - every parent is resolved with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) from the
///   container's root: a symlink of the container on the way (even swapped in meanwhile) resolves
///   inside the container, never on the host (CVE-2018-15664);
/// - the last component is created with O_EXCL|O_NOFOLLOW, mkdirat, symlinkat, mknodat, linkat
///   without AT_SYMLINK_FOLLOW, and its owner, mode and times are set through a descriptor of what
///   was created (never by name: fchmodat follows a symlink swapped in after the create);
/// - no entry under a symlink this archive made ("a -> /etc", "a/passwd");
/// - relative symlink targets may not climb out of the destination; hardlinks only to names inside it;
/// - no device nodes; content bounded by <see cref="ExtractOptions.MaxBytes"/>;
/// - nothing under a kernel filesystem mounted in the container (proc, sysfs, cgroup, ...): 403;
/// - a remapped container gets its files owned by its mapped ids (a tar id outside the map is refused).
/// </summary>
internal sealed unsafe class InRootExtractor : IDisposable
{
    const ulong InRoot = Consts.RESOLVE_IN_ROOT | Consts.RESOLVE_NO_MAGICLINKS;
    const int S_IFMT = 0xF000, S_IFDIR = 0x4000, S_IFLNK = 0xA000, S_IFIFO = 0x1000;
    const int EROFS = 30;

    readonly ContainerRoot _root;
    readonly int _dest;
    /// <summary>The destination as a container path (resolved once), or null: then names are resolved
    /// with the destination itself as the root (still never outside it).</summary>
    readonly string? _destPath;
    readonly ExtractOptions _o;
    readonly HashSet<string> _symlinks = new(StringComparer.Ordinal);
    readonly List<(string Rel, DateTimeOffset Mtime)> _dirTimes = [];
    string? _cachedParent;
    int _cachedParentFd = -1;
    long _total;

    public InRootExtractor(ContainerRoot root, int dest, string? destPath, ExtractOptions options)
    {
        _root = root;
        _dest = dest;
        _destPath = destPath;
        _o = options;
    }

    public void Dispose() => Invalidate();

    void Invalidate()
    {
        if (_cachedParentFd >= 0) Sys.Close(_cachedParentFd);
        _cachedParentFd = -1;
        _cachedParent = null;
    }

    public long Run(Stream archive)
    {
        using var reader = new TarReader(archive, leaveOpen: true);
        string last = "(none: at the start)";
        while (true)
        {
            TarEntry? entry;
            try { entry = reader.GetNextEntry(copyData: false); }
            catch (Exception ex) when (ex is InvalidDataException or EndOfStreamException or FormatException or ArgumentException or NotSupportedException)
            {
                throw new UnsafeArchiveException($"archive is corrupt or truncated after entry {last}: {ex.Message}");
            }
            if (entry is null) break;
            last = entry.Name;
            try { Apply(entry); }
            catch (SyscallException ex) when (ex.Errno == EROFS)
            {
                throw new ArchiveForbiddenException($"entry {entry.Name}: the destination is on a read-only filesystem (read-only rootfs or volume)");
            }
            catch (SyscallException ex) { throw new IOException($"entry {entry.Name}: {ex.Message}", ex); }
            catch (Exception ex) when (ex is InvalidDataException or EndOfStreamException or FormatException)
            {
                throw new UnsafeArchiveException($"entry {entry.Name}: {ex.Message}");
            }
        }
        // Directory times last, deepest first: creating their children changed them again.
        foreach (var (rel, mtime) in _dirTimes.OrderByDescending(d => d.Rel.Count(c => c == '/')))
        {
            int fd = Resolve(rel, Consts.O_RDONLY | Consts.O_DIRECTORY | Consts.O_NOFOLLOW);
            if (fd < 0) continue; // removed meanwhile
            try { SetTimes(fd, mtime, rel); }
            finally { Sys.Close(fd); }
        }
        return _total;
    }

    static UnsafeArchiveException Refuse(string name, string reason) => new($"entry {name}: {reason}");

    void Apply(TarEntry entry)
    {
        if (entry.EntryType is TarEntryType.GlobalExtendedAttributes) return;
        var name = entry.Name;
        // An absolute name is taken under the destination, as Docker joins it (Testcontainers sends
        // "/etc/app/x" to path=/); it is resolved in the container's root like any other.
        var rel = TarUnpacker.NormalizeName(name.TrimStart('/').Length == 0 && name.Length > 0 ? "." : name.TrimStart('/'));
        if (rel.Length == 0) return; // "./": the destination itself, left as it is (Docker skips it too)
        int slash = -1;
        while ((slash = rel.IndexOf('/', slash + 1)) >= 0)
            if (_symlinks.Contains(rel[..slash])) throw Refuse(name, $"parent {rel[..slash]} is a symlink of this archive");
        var (parentRel, leaf) = Split(rel);
        int parent = Parent(parentRel, name);
        bool isDir = entry.EntryType is TarEntryType.Directory;
        _symlinks.Remove(rel);

        // What is there now (not followed).
        bool exists = Sys.TryStat(parent, leaf, out _, out _, out var mode);
        if (exists)
        {
            bool wasDir = (mode & S_IFMT) == S_IFDIR;
            if (_o.NoOverwriteDirNonDir && wasDir && !isDir) throw new ArgumentException($"cannot overwrite directory {Show(rel)} with non-directory {name}");
            if (_o.NoOverwriteDirNonDir && !wasDir && isDir) throw new ArgumentException($"cannot overwrite non-directory {Show(rel)} with directory {name}");
            if (!(wasDir && isDir))
            {
                if (wasDir) { RemoveTree(parent, leaf, Show(rel)); Invalidate(); parent = Parent(parentRel, name); }
                else Unlink(parent, leaf, 0, rel);
            }
        }

        var (uid, gid) = Owner(entry);
        switch (entry.EntryType)
        {
            case TarEntryType.Directory:
            {
                if (!(exists && (mode & S_IFMT) == S_IFDIR))
                    fixed (byte* l = Native.Z(leaf))
                        if (mkdirat(parent, l, 0b111_000_000) != 0) throw Native.Error("mkdir", Show(rel), errno);
                int fd;
                fixed (byte* l = Native.Z(leaf))
                    fd = openat(parent, l, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
                if (fd < 0) throw Native.Error("open", Show(rel), errno);
                try
                {
                    Chown(fd, uid, gid, rel);
                    Chmod(fd, (int)entry.Mode, rel);
                }
                finally { Sys.Close(fd); }
                _dirTimes.Add((rel, entry.ModificationTime));
                if (_cachedParent is { } c && (c == rel || c.StartsWith(rel + "/", StringComparison.Ordinal))) Invalidate();
                break;
            }
            case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
            {
                long length = entry.Length;
                if (length < 0 || _total + length > _o.MaxBytes)
                    throw Refuse(name, $"the archive's content exceeds the limit of {_o.MaxBytes} bytes");
                _total += length;
                int fd;
                fixed (byte* l = Native.Z(leaf))
                    fd = openat(parent, l, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0b110_000_000);
                if (fd < 0) throw Native.Error("create", Show(rel), errno);
                using var handle = new SafeFileHandle(fd, ownsHandle: true);
                using (var file = new FileStream(handle, FileAccess.Write, bufferSize: 0))
                {
                    if (entry.DataStream is { } data)
                    {
                        data.CopyTo(file, 1 << 16);
                        if (file.Length != length) throw Refuse(name, $"archive is truncated: {file.Length} of {length} bytes");
                    }
                    Chown(fd, uid, gid, rel);
                    Chmod(fd, (int)entry.Mode, rel);
                    SetTimes(fd, entry.ModificationTime, rel);
                }
                break;
            }
            case TarEntryType.SymbolicLink:
            {
                CheckSymlinkTarget(name, rel, entry.LinkName);
                fixed (byte* t = Native.Z(entry.LinkName))
                fixed (byte* l = Native.Z(leaf))
                {
                    if (symlinkat(t, parent, l) != 0) throw Native.Error("symlink", Show(rel), errno);
                    // The link's own owner and times (AT_SYMLINK_NOFOLLOW: never its target's).
                    if (fchownat(parent, l, uid, gid, AT_SYMLINK_NOFOLLOW) != 0) throw Native.Error("chown", Show(rel), errno);
                    var ts = stackalloc timespec[2];
                    Times(ts, entry.ModificationTime);
                    if (utimensat(parent, l, ts, AT_SYMLINK_NOFOLLOW) != 0) throw Native.Error("utimensat", Show(rel), errno);
                }
                _symlinks.Add(rel);
                break;
            }
            case TarEntryType.HardLink:
            {
                if (string.IsNullOrEmpty(entry.LinkName)) throw Refuse(name, "hardlink with an empty target");
                string target;
                // Docker: the target is a name in the archive, i.e. under the destination.
                try { target = TarUnpacker.NormalizeName(entry.LinkName.TrimStart('/')); }
                catch (UnsafeArchiveException) { throw Refuse(name, $"hardlink target {entry.LinkName} escapes the destination"); }
                if (target.Length == 0 || target == rel) throw Refuse(name, $"hardlink to {entry.LinkName}");
                var (tparentRel, tleaf) = Split(target);
                int tparent = Resolve(tparentRel, O_PATH | O_DIRECTORY);
                if (tparent < 0) throw Refuse(name, $"hardlink target {entry.LinkName} does not exist");
                try
                {
                    if (!Sys.TryStat(tparent, tleaf, out _, out _, out var tmode)) throw Refuse(name, $"hardlink target {entry.LinkName} does not exist");
                    if ((tmode & S_IFMT) == S_IFDIR) throw Refuse(name, $"hardlink target {entry.LinkName} is a directory");
                    fixed (byte* t = Native.Z(tleaf))
                    fixed (byte* l = Native.Z(leaf))
                        // flags 0: a symlink at the target is linked itself, never followed.
                        if (linkat(tparent, t, parent, l, 0) != 0) throw Native.Error("link", Show(rel), errno);
                }
                finally { Sys.Close(tparent); }
                break;
            }
            case TarEntryType.Fifo:
            {
                fixed (byte* l = Native.Z(leaf))
                    if (mknodat(parent, l, (mode_t)(ushort)(S_IFIFO | 0b110_000_000), 0) != 0) throw Native.Error("mknod", Show(rel), errno);
                int fd;
                fixed (byte* l = Native.Z(leaf))
                    fd = openat(parent, l, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0);
                if (fd < 0) throw Native.Error("open", Show(rel), errno);
                try
                {
                    if (!Sys.TryStat(fd, "", out _, out _, out var m) || (m & S_IFMT) != S_IFIFO) throw Refuse(name, "changed while it was being made");
                    // O_PATH: through the descriptor's /proc link (that inode, no name resolved again).
                    fixed (byte* p = Native.Z("/proc/self/fd/" + fd))
                    fixed (byte* empty = EmptyZ)
                    {
                        if (fchownat(fd, empty, uid, gid, AT_EMPTY_PATH) != 0) throw Native.Error("chown", Show(rel), errno);
                        if (chmod(p, (mode_t)(ushort)((int)entry.Mode & 0xFFF)) != 0) throw Native.Error("chmod", Show(rel), errno);
                        var ts = stackalloc timespec[2];
                        Times(ts, entry.ModificationTime);
                        if (utimensat(AT_FDCWD, p, ts, 0) != 0) throw Native.Error("utimensat", Show(rel), errno);
                    }
                }
                finally { Sys.Close(fd); }
                break;
            }
            case TarEntryType.CharacterDevice or TarEntryType.BlockDevice:
                throw Refuse(name, "device nodes cannot be copied into a container");
            default:
                throw Refuse(name, $"unsupported entry type {entry.EntryType}");
        }
    }

    static readonly byte[] EmptyZ = [0];

    string Show(string rel) => (_destPath ?? "") + "/" + rel;

    static (string Parent, string Leaf) Split(string rel)
    {
        int slash = rel.LastIndexOf('/');
        return slash < 0 ? ("", rel) : (rel[..slash], rel[(slash + 1)..]);
    }

    /// <summary>A name under the destination, resolved inside the container's root (or, when the
    /// destination has no container path, with the destination as the root). -errno on failure.</summary>
    int Resolve(string rel, int flags)
    {
        if (_destPath is not null)
        {
            var path = rel.Length == 0 ? _destPath : (_destPath == "/" ? "/" : _destPath + "/") + rel;
            return Sys.OpenAt2(_root.Fd, path, flags, InRoot);
        }
        return Sys.OpenAt2(_dest, rel.Length == 0 ? "." : rel, flags, InRoot);
    }

    /// <summary>The parent directory of an entry (O_PATH), made (0755, the container's root) where missing, as tar does.</summary>
    int Parent(string parentRel, string name)
    {
        if (_cachedParent == parentRel) return _cachedParentFd;
        Invalidate();
        int fd = Resolve(parentRel, O_PATH | O_DIRECTORY);
        if (fd == -Consts.ENOENT)
        {
            // Component by component from the destination: each made with mkdirat in the one before.
            var parts = parentRel.Split('/');
            string prefix = "";
            for (int i = 0; i < parts.Length; i++)
            {
                var next = prefix.Length == 0 ? parts[i] : prefix + "/" + parts[i];
                int nfd = Resolve(next, O_PATH | O_DIRECTORY);
                if (nfd == -Consts.ENOENT)
                {
                    int pfd = Resolve(prefix, O_PATH | O_DIRECTORY);
                    if (pfd < 0) throw new SyscallException("resolve in the container", Show(prefix), -pfd);
                    try
                    {
                        fixed (byte* l = Native.Z(parts[i]))
                            if (mkdirat(pfd, l, 0b111_101_101) != 0 && errno != EEXIST) throw Native.Error("mkdir", Show(next), errno);
                        int made;
                        fixed (byte* l = Native.Z(parts[i]))
                            made = openat(pfd, l, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
                        if (made < 0) throw Native.Error("open", Show(next), errno);
                        // Owned by the container's root (its mapped id when remapped), as Docker's MkdirAll.
                        try { Chown(made, _root.Ids?.HostUid ?? 0, _root.Ids?.HostGid ?? 0, next); }
                        finally { Sys.Close(made); }
                    }
                    finally { Sys.Close(pfd); }
                    nfd = Resolve(next, O_PATH | O_DIRECTORY);
                }
                if (nfd < 0) throw new SyscallException("resolve in the container", Show(next), -nfd);
                Sys.Close(nfd);
                prefix = next;
            }
            fd = Resolve(parentRel, O_PATH | O_DIRECTORY);
        }
        if (fd < 0) throw new SyscallException($"resolve the parent of {name} in the container", Show(parentRel), -fd);
        // Never into the container's /proc, /sys or cgroup fs: the daemon is the host's root there
        // (a mkdir in a cgroup fs makes a cgroup; /proc/sys holds host-wide settings).
        if (InRootTarWriter.IsKernelFs(fd))
        {
            Sys.Close(fd);
            throw new ArchiveForbiddenException($"entry {name}: {Show(parentRel)} is on a kernel filesystem of the container (proc, sysfs, cgroup, ...)");
        }
        _cachedParent = parentRel;
        _cachedParentFd = fd;
        return fd;
    }

    (uint Uid, uint Gid) Owner(TarEntry entry)
    {
        var (uid, gid) = _o.Owner ?? ((uint)entry.Uid, (uint)entry.Gid);
        if (_root.Ids is not { } m) return (uid, gid);
        // userns-remap: the container's ids are stored as its mapped host ids (Docker's IDMap).
        var hu = m.ToHostUid(uid) ?? throw Refuse(entry.Name, $"uid {uid} cannot be mapped to a host id in this remapped container");
        var hg = m.ToHostGid(gid) ?? throw Refuse(entry.Name, $"gid {gid} cannot be mapped to a host id in this remapped container");
        return (hu, hg);
    }

    void Chown(int fd, uint uid, uint gid, string rel)
    {
        if (fchown(fd, uid, gid) != 0) throw Native.Error("chown", Show(rel), errno);
    }

    void Chmod(int fd, int mode, string rel)
    {
        if (fchmod(fd, (mode_t)(ushort)(mode & 0xFFF)) != 0) throw Native.Error("chmod", Show(rel), errno);
    }

    void SetTimes(int fd, DateTimeOffset mtime, string rel)
    {
        var ts = stackalloc timespec[2];
        Times(ts, mtime);
        if (futimens(fd, ts) != 0) throw Native.Error("futimens", Show(rel), errno);
    }

    static void Times(timespec* ts, DateTimeOffset mtime)
    {
        long ticks = mtime.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks;
        long sec = Math.DivRem(ticks, TimeSpan.TicksPerSecond, out long rem);
        if (rem < 0) { sec--; rem += TimeSpan.TicksPerSecond; }
        ts[0].tv_sec = sec; ts[0].tv_nsec = (long_t)(rem * 100);
        ts[1] = ts[0];
    }

    void Unlink(int dir, string leaf, int flags, string rel)
    {
        fixed (byte* l = Native.Z(leaf))
            if (unlinkat(dir, l, flags) != 0 && errno != ENOENT) throw Native.Error("unlink", Show(rel), errno);
    }

    /// <summary>rm -r of leaf in dir, by descriptor, never following a symlink (each child is removed
    /// as the name it is; directories are entered with O_NOFOLLOW).</summary>
    void RemoveTree(int dir, string leaf, string shown)
    {
        int fd;
        fixed (byte* l = Native.Z(leaf))
            fd = openat(dir, l, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
        if (fd >= 0)
        {
            try
            {
                string[] names;
                try { names = Directory.GetFileSystemEntries("/proc/self/fd/" + fd).Select(p => Path.GetFileName(p)!).ToArray(); }
                catch (IOException) { names = []; }
                foreach (var n in names)
                {
                    if (Sys.TryStat(fd, n, out _, out _, out var m) && (m & S_IFMT) == S_IFDIR) RemoveTree(fd, n, shown + "/" + n);
                    else
                        fixed (byte* l = Native.Z(n))
                            if (unlinkat(fd, l, 0) != 0 && errno != ENOENT) throw Native.Error("unlink", shown + "/" + n, errno);
                }
            }
            finally { Sys.Close(fd); }
        }
        fixed (byte* l = Native.Z(leaf))
            if (unlinkat(dir, l, AT_REMOVEDIR) != 0 && errno != ENOENT) throw Native.Error("rmdir", shown, errno);
    }

    /// <summary>Relative targets are resolved lexically from the link's directory and must stay under
    /// the destination (Docker's breakout check); absolute ones resolve inside the container's root.</summary>
    static void CheckSymlinkTarget(string name, string rel, string target)
    {
        if (string.IsNullOrEmpty(target)) throw Refuse(name, "symlink with an empty target");
        if (target.Contains('\0')) throw Refuse(name, "symlink target contains a NUL byte");
        if (target[0] == '/') return;
        int depth = rel.Count(c => c == '/');
        foreach (var part in target.Split('/'))
        {
            if (part.Length == 0 || part == ".") continue;
            if (part == "..") { if (--depth < 0) throw Refuse(name, $"symlink target {target} escapes the destination"); }
            else depth++;
        }
    }
}
