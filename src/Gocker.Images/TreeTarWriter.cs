using System.Formats.Tar;
using Microsoft.Win32.SafeHandles;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace Gocker.Images;

/// <summary>Writes directory trees as tar: one overlay layer dir as an image layer (overlay whiteouts
/// turned back into ".wh." entries), or a stack of layer dirs as the merged view a container sees (export).
/// Output is deterministic (sorted names, GNU headers without atime/ctime, no pid-named pax headers),
/// so a layer written, unpacked and written again hashes the same.
/// The trees may be a container's upper dir, i.e. written by the container while we read: nothing here
/// follows a symlink. Metadata comes from statx(AT_SYMLINK_NOFOLLOW); file content is opened with
/// openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS) from the tree's root and checked to be the regular file
/// that was listed, so a file swapped for a symlink to a host file mid-commit fails instead of leaking it.</summary>
internal sealed class TreeTarWriter : IDisposable
{
    readonly TarWriter _tar;
    readonly Dictionary<(uint, uint, ulong), string> _links = new();
    readonly Action<long>? _progress;
    public long ContentBytes { get; private set; }

    /// <summary>A remapped container's ids (userns-remap): its upper dir holds host ids (HostUid..),
    /// written into the archive as the container's own (0..), as Docker writes them.</summary>
    readonly Gocker.Syscalls.Security.IdMap? _upperIds;
    /// <summary>Whether the entry being written comes from the container's upper dir.</summary>
    bool _fromUpper;

    public TreeTarWriter(Stream output, Action<long>? progress = null, Gocker.Syscalls.Security.IdMap? upperIds = null)
    {
        _upperIds = upperIds;
        _tar = new TarWriter(output, TarEntryFormat.Gnu, leaveOpen: true);
        _output = output;
        _progress = progress;
    }

    readonly Stream _output;
    bool _wrote;

    /// <summary>Ends the archive. TarWriter writes the two end-of-archive blocks only after an entry,
    /// so an empty tree (a commit without changes) would be an empty file, which is not a tar
    /// archive to most readers: Docker writes those blocks for an empty layer too.</summary>
    public void Dispose()
    {
        _tar.Dispose();
        if (!_wrote) _output.Write(new byte[1024]);
    }

    /// <summary>One layer: a 0/0 character device becomes ".wh.NAME", an opaque directory gets ".wh..wh..opq".</summary>
    public void WriteLayer(string layerDir)
    {
        _fromUpper = true; // a commit: the layer is the upper dir
        using var root = Fd.OpenDirectory(layerDir);
        WriteLayerDir(layerDir, root, "");
    }

    void WriteLayerDir(string layerDir, Fd root, string rel)
    {
        foreach (var name in SortedChildren(Host(layerDir, rel)))
        {
            var childRel = Join(rel, name);
            var path = Host(layerDir, childRel);
            Native.Statx st;
            try { st = Native.Lstat(path); }
            catch (Gocker.Syscalls.SyscallException ex) when (ex.Errno == ENOENT) { continue; } // removed meanwhile
            if (IsWhiteout(st))
            {
                WriteMarker(Join(rel, TarUnpacker.WhiteoutPrefix + name), st.Mtime);
                continue;
            }
            WriteEntry(root, path, childRel, st);
            if (st.Type == S_IFDIR)
            {
                if (Native.HasXattr(path, TarUnpacker.OpaqueXattr, "y"u8))
                    WriteMarker(Join(childRel, TarUnpacker.OpaqueMarker), st.Mtime);
                WriteLayerDir(layerDir, root, childRel);
            }
        }
    }

    /// <summary>The merged view of layer dirs (topmost first), as overlayfs shows it: the topmost entry of
    /// a name wins, whiteouts hide lower names, an opaque or non-directory entry hides everything below it.</summary>
    public void WriteMerged(IReadOnlyList<string> layersTopFirst)
    {
        var roots = layersTopFirst.Select(Fd.OpenDirectory).ToList();
        try
        {
            // The root directory's own entry comes from the topmost layer.
            WriteMergedDir(layersTopFirst, roots, Enumerable.Range(0, layersTopFirst.Count).ToList(), "");
        }
        finally
        {
            foreach (var r in roots) r.Dispose();
        }
    }

    void WriteMergedDir(IReadOnlyList<string> layers, List<Fd> roots, List<int> stack, string rel)
    {
        // stack: the layers (topmost first) in which rel is a directory that shows through.
        var names = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var i in stack)
            foreach (var n in SortedChildren(Host(layers[i], rel))) names.Add(n);
        foreach (var name in names)
        {
            var childRel = Join(rel, name);
            int top = -1;
            Native.Statx topSt = default;
            var below = new List<int>();
            foreach (var i in stack)
            {
                Native.Statx st;
                try { st = Native.Lstat(Host(layers[i], childRel)); }
                catch (Gocker.Syscalls.SyscallException ex) when (ex.Errno == ENOENT || ex.Errno == ENOTDIR) { continue; }
                if (top < 0)
                {
                    top = i; topSt = st;
                    if (st.Type != S_IFDIR || Native.HasXattr(Host(layers[i], childRel), TarUnpacker.OpaqueXattr, "y"u8)) break;
                    below.Add(i);
                    continue;
                }
                if (st.Type != S_IFDIR) break; // a lower non-directory ends the merge (overlayfs does the same)
                below.Add(i);
                if (Native.HasXattr(Host(layers[i], childRel), TarUnpacker.OpaqueXattr, "y"u8)) break;
            }
            if (top < 0 || IsWhiteout(topSt)) continue;
            _fromUpper = top == 0; // an export: the upper dir is the topmost layer
            WriteEntry(roots[top], Host(layers[top], childRel), childRel, topSt);
            if (topSt.Type == S_IFDIR)
                WriteMergedDir(layers, roots, below.Count > 0 ? below : [top], childRel);
        }
    }

    static bool IsWhiteout(Native.Statx st) => st.Type == S_IFCHR && st.RdevMajor == 0 && st.RdevMinor == 0;

    void WriteMarker(string name, DateTimeOffset mtime)
    {
        var e = new GnuTarEntry(TarEntryType.RegularFile, name) { Mode = (UnixFileMode)0b110_100_100, ModificationTime = mtime };
        _tar.WriteEntry(e);
        _wrote = true;
    }

    void WriteEntry(Fd root, string hostPath, string rel, Native.Statx st)
    {
        GnuTarEntry e;
        switch (st.Type)
        {
            case S_IFDIR:
                e = new GnuTarEntry(TarEntryType.Directory, rel + "/");
                break;
            case S_IFREG:
                if (st.Nlink > 1)
                {
                    var key = (st.DevMajor, st.DevMinor, st.Ino);
                    if (_links.TryGetValue(key, out var first))
                    {
                        e = new GnuTarEntry(TarEntryType.HardLink, rel) { LinkName = first };
                        break;
                    }
                    _links[key] = rel;
                }
                WriteFile(root, hostPath, rel, st);
                return;
            case S_IFLNK:
                e = new GnuTarEntry(TarEntryType.SymbolicLink, rel) { LinkName = new FileInfo(hostPath).LinkTarget ?? "" };
                break;
            case S_IFCHR or S_IFBLK:
                e = new GnuTarEntry(st.Type == S_IFCHR ? TarEntryType.CharacterDevice : TarEntryType.BlockDevice, rel)
                    { DeviceMajor = (int)st.RdevMajor, DeviceMinor = (int)st.RdevMinor };
                break;
            case S_IFIFO:
                e = new GnuTarEntry(TarEntryType.Fifo, rel);
                break;
            default:
                return; // sockets have no tar form (docker skips them too)
        }
        Fill(e, st);
        _tar.WriteEntry(e);
        _wrote = true;
    }

    void Fill(GnuTarEntry e, Native.Statx st)
    {
        e.Mode = (UnixFileMode)(st.Mode & 0xFFF);
        e.Uid = (int)(_fromUpper && _upperIds is { } m ? m.ToContainerUid(st.Uid) : st.Uid);
        e.Gid = (int)(_fromUpper && _upperIds is { } g ? g.ToContainerGid(st.Gid) : st.Gid);
        // Whole seconds: GNU headers hold no more, and a round trip must hash the same.
        e.ModificationTime = DateTimeOffset.FromUnixTimeSeconds(st.MtimeSec);
    }

    unsafe void WriteFile(Fd root, string hostPath, string rel, Native.Statx st)
    {
        var how = new open_how
        {
            flags = (ulong)(O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK),
            resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        int fd;
        fixed (byte* p = Native.Z(rel))
            fd = openat2(root.Value, p, &how, (size_t)sizeof(open_how));
        if (fd < 0) throw Native.Error("openat2", hostPath, errno);
        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        var now = Native.Fstat(fd, hostPath);
        if (now.Type != S_IFREG || now.Ino != st.Ino)
            throw new IOException($"{hostPath}: changed while it was being read (not the regular file listed)");
        using var data = new FileStream(handle, FileAccess.Read, bufferSize: 0);
        // The size is fixed in the header first: a file growing or shrinking meanwhile is cut or refused.
        var e = new GnuTarEntry(TarEntryType.RegularFile, rel) { DataStream = new ExactLengthStream(data, (long)now.Size, hostPath) };
        Fill(e, now);
        _tar.WriteEntry(e);
        _wrote = true;
        ContentBytes += (long)now.Size;
        _progress?.Invoke((long)now.Size);
    }

    static IEnumerable<string> SortedChildren(string dir)
    {
        string[] names;
        try { names = Directory.GetFileSystemEntries(dir).Select(p => Path.GetFileName(p)!).ToArray(); }
        catch (DirectoryNotFoundException) { return []; }
        Array.Sort(names, StringComparer.Ordinal);
        return names;
    }

    static string Host(string root, string rel) => rel.Length == 0 ? root : root + "/" + rel;
    static string Join(string rel, string name) => rel.Length == 0 ? name : rel + "/" + name;

    const int S_IFDIR = 0x4000, S_IFREG = 0x8000, S_IFLNK = 0xA000, S_IFCHR = 0x2000, S_IFBLK = 0x6000, S_IFIFO = 0x1000;

    /// <summary>Exactly length bytes of a file that may change meanwhile: a shrunk file is an error.</summary>
    sealed class ExactLengthStream(Stream inner, long size, string path) : Stream
    {
        readonly long _length = size;
        long _left = size;
        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));
        public override int Read(Span<byte> buffer)
        {
            if (_left == 0) return 0;
            int n = inner.Read(buffer[..(int)Math.Min(buffer.Length, _left)]);
            if (n == 0) throw new IOException($"{path}: shrank while it was being read");
            _left -= n;
            return n;
        }
        public override bool CanRead => true;
        public override bool CanSeek => true; // TarWriter asks for Length up front
        public override bool CanWrite => false;
        public override long Length => _length;
        public override long Position { get => _length - _left; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
