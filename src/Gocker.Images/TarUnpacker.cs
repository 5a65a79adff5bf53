using System.Formats.Tar;
using Gocker.Syscalls;

namespace Gocker.Images;

/// <summary>Unpacks a rootfs tar into an empty private directory, refusing anything that could write
/// outside it or smuggle in something dangerous. It throws <see cref="UnsafeArchiveException"/> naming the
/// entry and the reason; the caller removes the directory (the import is all or nothing).
/// The rules (each guards a known tar attack on container engines):
/// - names are root-relative: absolute names and ".." components are refused (path traversal);
/// - no entry is created under a parent that an earlier entry made a symlink ("a -> /etc", then
///   "a/passwd" would write the host's /etc/passwd) — enforced here by name and again by the
///   descriptor-based <see cref="RootfsWriter"/>;
/// - relative symlink targets that climb out of the root are refused (host code that ever follows one
///   would leave the rootfs); absolute targets are fine, they resolve inside the container's root;
/// - hardlinks only to regular files/fifos/devices already unpacked here (a hardlink to a host file
///   would let the container write it);
/// - device nodes only when allowed; a directory never replaces a non-directory or vice versa.</summary>
internal sealed class TarUnpacker
{
    enum Kind { Directory, File, Symlink, Node }

    readonly RootfsWriter _writer;
    readonly ImageStoreOptions _options;
    readonly bool _overlay;
    readonly long _limit;
    readonly Dictionary<string, Kind> _unpacked = new(StringComparer.Ordinal) { [""] = Kind.Directory };
    readonly Dictionary<string, DateTimeOffset> _dirMtimes = new(StringComparer.Ordinal);
    long _total;

    TarUnpacker(RootfsWriter writer, ImageStoreOptions options, bool overlay, long limit)
    {
        _writer = writer;
        _options = options;
        _overlay = overlay;
        _limit = limit;
    }

    /// <summary>Unpacks the archive into rootPath (an existing empty directory); returns the content bytes.
    /// overlay: the archive is an image layer: its whiteouts (".wh.NAME", ".wh..wh..opq") become overlayfs
    /// whiteouts (a 0/0 character device, the trusted.overlay.opaque xattr) instead of plain files.
    /// alreadyUnpacked counts against <see cref="ImageStoreOptions.MaxUnpackedBytes"/> (earlier layers of one load).</summary>
    public static long Unpack(Stream archive, string rootPath, ImageStoreOptions options, bool overlay = false, long alreadyUnpacked = 0)
    {
        using var writer = new RootfsWriter(rootPath);
        var unpacker = new TarUnpacker(writer, options, overlay, options.MaxUnpackedBytes - alreadyUnpacked);
        unpacker.Run(archive);
        return unpacker._total;
    }

    void Run(Stream archive)
    {
        var counted = new CountingReadStream(archive);
        using var reader = new TarReader(counted, leaveOpen: true);
        string last = "(none: at the start)";
        // Where the next header starts: after the last entry's header(s) and its padded data.
        long nextHeader = 0;
        while (true)
        {
            TarEntry? entry;
            try
            {
                entry = reader.GetNextEntry(copyData: false);
            }
            catch (EndOfStreamException) when (counted.SawEnd && counted.Total == nextHeader)
            {
                // No end-of-archive blocks, but nothing cut either: the stream ended exactly where
                // a header would start. Go's archive/tar (umoci, some registries' layers) and GNU tar
                // accept this; an archive cut inside a header or inside data still fails below.
                break;
            }
            catch (Exception ex) when (IsArchiveError(ex))
            {
                throw new UnsafeArchiveException($"archive is corrupt or truncated after entry {last}: {ex.Message}");
            }
            if (entry is null) break;
            last = entry.Name;
            nextHeader = counted.Total + (HasData(entry) ? (entry.Length + 511) / 512 * 512 : 0);
            try
            {
                Apply(entry);
            }
            catch (Exception ex) when (IsArchiveError(ex) || ex is SyscallException)
            {
                throw new UnsafeArchiveException($"entry {entry.Name}: {ex.Message}");
            }
        }
        // Directory mtimes last, deepest first: creating children would have changed them again.
        foreach (var (rel, mtime) in _dirMtimes.OrderByDescending(d => d.Key.Count(c => c == '/') + (d.Key.Length > 0 ? 1 : 0)))
        {
            try { _writer.SetMtime(rel, mtime); }
            catch (SyscallException ex) { throw new UnsafeArchiveException($"entry {(rel.Length == 0 ? "./" : rel)}: {ex.Message}"); }
        }
    }

    // Note: .NET's TarReader does not verify header checksums; damage shows only where a field fails
    // to parse. The image id (SHA-256 of the archive) is the end-to-end integrity check.
    /// <summary>Entries whose size field counts data blocks that follow the header.</summary>
    static bool HasData(TarEntry e) => e.EntryType is TarEntryType.RegularFile or TarEntryType.V7RegularFile
        or TarEntryType.ContiguousFile or TarEntryType.SparseFile;

    static bool IsArchiveError(Exception ex) =>
        ex is InvalidDataException or EndOfStreamException or FormatException or IOException or ArgumentException or NotSupportedException
        && ex is not UnsafeArchiveException;

    void Apply(TarEntry entry)
    {
        string name = entry.Name;
        if (entry.EntryType is TarEntryType.GlobalExtendedAttributes)
            return; // pax global headers carry defaults for other tools (e.g. git archive's commit id); nothing to create
        string rel = NormalizeName(name);
        if (_overlay && ApplyWhiteout(entry, rel)) return;

        switch (entry.EntryType)
        {
            case TarEntryType.Directory:
                ApplyDirectory(entry, rel);
                break;
            case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                Prepare(name, rel);
                WriteFile(entry, name, rel);
                break;
            case TarEntryType.SymbolicLink:
                CheckSymlinkTarget(name, rel, entry.LinkName);
                Prepare(name, rel);
                _writer.Symlink(rel, entry.LinkName);
                _unpacked[rel] = Kind.Symlink;
                _writer.SetOwner(rel, entry.Uid, entry.Gid);
                _writer.SetMtime(rel, entry.ModificationTime);
                break;
            case TarEntryType.HardLink:
                var target = HardlinkTarget(name, rel, entry.LinkName);
                Prepare(name, rel);
                _writer.Hardlink(rel, target);
                _unpacked[rel] = _unpacked[target];
                break; // a hardlink shares the target's inode: owner, mode and mtime are the target's
            case TarEntryType.Fifo:
                Prepare(name, rel);
                MakeNode(entry, rel, S_IFIFO, 0);
                break;
            case TarEntryType.CharacterDevice or TarEntryType.BlockDevice:
                var dev = (PosixTarEntry)entry;
                string what = entry.EntryType == TarEntryType.CharacterDevice ? "character" : "block";
                if (!_options.AllowDeviceNodes)
                    throw Refuse(name, $"{what} device node {dev.DeviceMajor}:{dev.DeviceMinor} not allowed (device nodes are refused by default)");
                Prepare(name, rel);
                MakeNode(entry, rel, entry.EntryType == TarEntryType.CharacterDevice ? S_IFCHR : S_IFBLK,
                    MakeDev((uint)dev.DeviceMajor, (uint)dev.DeviceMinor));
                break;
            default:
                throw Refuse(name, $"unsupported entry type {entry.EntryType}");
        }
    }

    public const string WhiteoutPrefix = ".wh.";
    public const string OpaqueMarker = ".wh..wh..opq";
    public const string OpaqueXattr = "trusted.overlay.opaque";

    /// <summary>Layer whiteouts (OCI image spec, "Representing Changes"). Returns false for ordinary entries.
    /// The 0/0 character device is made even when device nodes are refused: overlayfs reads it as "deleted
    /// here", it gives no access to any device (0/0 is no device, and the kernel refuses to open it).</summary>
    bool ApplyWhiteout(TarEntry entry, string rel)
    {
        int slash = rel.LastIndexOf('/');
        string parent = slash < 0 ? "" : rel[..slash], leaf = rel[(slash + 1)..];
        if (!leaf.StartsWith(WhiteoutPrefix, StringComparison.Ordinal)) return false;
        if (entry.EntryType is TarEntryType.Directory) throw Refuse(entry.Name, "a whiteout cannot be a directory");
        if (leaf == OpaqueMarker)
        {
            // Opaque: nothing of the lower layers shows in this directory (its own entries in this layer do).
            if (parent.Length > 0)
            {
                EnsureParents(entry.Name, rel);
                if (_unpacked.GetValueOrDefault(parent) != Kind.Directory) throw Refuse(entry.Name, $"parent {parent} is not a directory");
            }
            _writer.SetXattr(parent, OpaqueXattr, "y"u8);
            return true;
        }
        if (leaf.StartsWith(WhiteoutPrefix + WhiteoutPrefix, StringComparison.Ordinal))
            return true; // other ".wh..wh." names are aufs bookkeeping (plnk, aufs): nothing to create
        var hidden = leaf[WhiteoutPrefix.Length..];
        if (hidden is "." or "..") throw Refuse(entry.Name, "whiteout of . or ..");
        var target = parent.Length == 0 ? hidden : parent + "/" + hidden;
        Prepare(entry.Name, target);
        _writer.MakeNode(target, S_IFCHR, 0);
        _unpacked[target] = Kind.Node;
        _writer.SetMtime(target, entry.ModificationTime); // kept so that writing the layer again hashes the same
        return true;
    }

    const int S_IFIFO = 0x1000, S_IFCHR = 0x2000, S_IFBLK = 0x6000;

    static UnsafeArchiveException Refuse(string name, string reason) => new($"entry {name}: {reason}");

    /// <summary>"./a//b/" -> "a/b"; "./" -> "" (the root). Absolute names and ".." are refused.</summary>
    internal static string NormalizeName(string name)
    {
        if (name.Length == 0) throw Refuse(name, "empty name");
        if (name.Contains('\0')) throw Refuse(name, "name contains a NUL byte");
        if (name[0] == '/') throw Refuse(name, "path escapes the root (absolute name)");
        var parts = new List<string>();
        foreach (var part in name.Split('/'))
        {
            if (part.Length == 0 || part == ".") continue;
            if (part == "..") throw Refuse(name, "path escapes the root");
            parts.Add(part);
        }
        return string.Join('/', parts);
    }

    /// <summary>Every parent must be a directory this archive made (or an implicit one we make now);
    /// a symlink or file in the way is refused.</summary>
    void EnsureParents(string name, string rel)
    {
        int slash = -1;
        while ((slash = rel.IndexOf('/', slash + 1)) >= 0)
        {
            var prefix = rel[..slash];
            if (_unpacked.TryGetValue(prefix, out var kind))
            {
                if (kind == Kind.Symlink) throw Refuse(name, $"parent {prefix} is a symlink");
                if (kind != Kind.Directory) throw Refuse(name, $"parent {prefix} is not a directory");
                continue;
            }
            // Tar lets entries come without their parents: make them as tar does (0755, root-owned).
            _writer.MakeDirectory(prefix);
            _writer.SetMode(prefix, 0b111_101_101);
            _unpacked[prefix] = Kind.Directory;
        }
    }

    /// <summary>Parents checked; an earlier non-directory at rel is removed (tar: last entry wins);
    /// an earlier directory is never replaced by a non-directory.</summary>
    void Prepare(string name, string rel)
    {
        if (rel.Length == 0) throw Refuse(name, "the root can only be a directory");
        EnsureParents(name, rel);
        if (_unpacked.TryGetValue(rel, out var existing))
        {
            if (existing == Kind.Directory) throw Refuse(name, "a non-directory cannot replace the directory unpacked earlier");
            _writer.Unlink(rel);
            _unpacked.Remove(rel);
        }
    }

    void ApplyDirectory(TarEntry entry, string rel)
    {
        if (rel.Length > 0)
        {
            EnsureParents(entry.Name, rel);
            if (_unpacked.TryGetValue(rel, out var existing))
            {
                if (existing != Kind.Directory)
                    throw Refuse(entry.Name, $"a directory cannot replace the {existing.ToString().ToLowerInvariant()} unpacked earlier");
            }
            else
            {
                _writer.MakeDirectory(rel);
                _unpacked[rel] = Kind.Directory;
            }
        }
        _writer.SetOwner(rel, entry.Uid, entry.Gid);
        _writer.SetMode(rel, (int)entry.Mode);
        _dirMtimes[rel] = entry.ModificationTime;
    }

    void WriteFile(TarEntry entry, string name, string rel)
    {
        long length = entry.Length;
        if (length < 0 || _total + length > _limit)
            throw Refuse(name, $"unpacked content exceeds the limit of {_options.MaxUnpackedBytes} bytes");
        _total += length;
        _unpacked[rel] = Kind.File; // recorded before writing so a failure still leaves it known
        using (var file = _writer.CreateFile(rel))
        {
            if (entry.DataStream is { } data)
            {
                data.CopyTo(file);
                if (file.Length != length)
                    throw Refuse(name, $"archive is truncated: {file.Length} of {length} bytes");
            }
        }
        _writer.SetOwner(rel, entry.Uid, entry.Gid);
        _writer.SetMode(rel, (int)entry.Mode);
        _writer.SetMtime(rel, entry.ModificationTime);
    }

    void MakeNode(TarEntry entry, string rel, int type, ulong dev)
    {
        _writer.MakeNode(rel, type, dev);
        _unpacked[rel] = Kind.Node;
        _writer.SetOwner(rel, entry.Uid, entry.Gid);
        _writer.SetMode(rel, (int)entry.Mode);
        _writer.SetMtime(rel, entry.ModificationTime);
    }

    /// <summary>Relative targets are resolved lexically from the link's directory and must stay inside.</summary>
    static void CheckSymlinkTarget(string name, string rel, string target)
    {
        if (string.IsNullOrEmpty(target)) throw Refuse(name, "symlink with an empty target");
        if (target.Contains('\0')) throw Refuse(name, "symlink target contains a NUL byte");
        if (target[0] == '/') return;
        int depth = rel.Count(c => c == '/'); // components of the link's directory
        foreach (var part in target.Split('/'))
        {
            if (part.Length == 0 || part == ".") continue;
            if (part == "..")
            {
                if (--depth < 0) throw Refuse(name, $"symlink target {target} escapes the root");
            }
            else depth++;
        }
    }

    /// <summary>A hardlink target is a root-relative name (a leading '/' is taken as the root) that this
    /// archive already unpacked, and not a symlink or directory.</summary>
    string HardlinkTarget(string name, string rel, string linkName)
    {
        if (string.IsNullOrEmpty(linkName)) throw Refuse(name, "hardlink with an empty target");
        string target;
        try { target = NormalizeName(linkName.TrimStart('/')); }
        catch (UnsafeArchiveException) { throw Refuse(name, $"hardlink target {linkName} escapes the root"); }
        if (target.Length == 0) throw Refuse(name, "hardlink to the root directory");
        if (!_unpacked.TryGetValue(target, out var kind))
            throw Refuse(name, $"hardlink target {linkName} is not an entry unpacked before it");
        if (kind == Kind.Symlink) throw Refuse(name, $"hardlink target {linkName} is a symlink");
        if (kind == Kind.Directory) throw Refuse(name, $"hardlink target {linkName} is a directory");
        if (target == rel) throw Refuse(name, "hardlink to itself");
        return target;
    }

    // glibc's makedev layout (major/minor beyond 8 bits split around the low word).
    static ulong MakeDev(uint major, uint minor) =>
        ((ulong)(major & 0xfffff000) << 32) | ((ulong)(major & 0xfff) << 8) |
        ((ulong)(minor & 0xffffff00) << 12) | (minor & 0xff);
}
