using System.Formats.Tar;
using Gocker.Syscalls;
using Gocker.Syscalls.Native;
using Gocker.Syscalls.Security;
using Microsoft.Win32.SafeHandles;

namespace Gocker.Images.ContainerFs;

/// <summary>
/// Tars a file or tree of a container, walking by descriptor only: each child is looked at with
/// statx(AT_SYMLINK_NOFOLLOW) relative to its parent's descriptor and opened as that single name with
/// O_NOFOLLOW (O_PATH first, checked to be the regular file or directory listed, then reopened through
/// the descriptor), so a name swapped for a symlink mid-walk (even to "/") is skipped, never followed
/// onto a host file. Mounts of the container are crossed (volumes are part of its tree) except
/// kernel filesystems (proc, sysfs, cgroup, devpts, ...), which Docker's copy never shows either.
/// </summary>
internal sealed unsafe class InRootTarWriter : IDisposable
{
    readonly TarWriter _tar;
    readonly Stream _output;
    readonly IdMap? _ids;
    readonly Dictionary<(uint, uint, ulong), string> _links = new();
    bool _wrote;

    public InRootTarWriter(Stream output, IdMap? ids)
    {
        _output = output;
        _ids = ids;
        _tar = new TarWriter(output, TarEntryFormat.Gnu, leaveOpen: true);
    }

    public void Dispose()
    {
        _tar.Dispose();
        if (!_wrote) _output.Write(new byte[1024]);
    }

    /// <summary>The requested object: leaf in dir (not followed), or dir itself when leaf is null.
    /// name: its entry name; children are name/child ("." and "/" as Docker rebases them).</summary>
    public void WriteTop(int dir, string? leaf, string name)
    {
        if (leaf is null)
        {
            var st = Native.Fstat(dir, name);
            WriteDirEntry(st, name);
            if (!IsKernelFs(dir)) WriteChildren(dir, name);
            return;
        }
        WriteChild(dir, leaf, name, top: true);
    }

    static string ChildName(string parent, string child) => parent switch
    {
        "/" => "/" + child,
        "." => child,
        _ => parent + "/" + child,
    };

    void WriteChildren(int dir, string name)
    {
        foreach (var child in List(dir))
            WriteChild(dir, child, ChildName(name, child), top: false);
    }

    static string[] List(int dir)
    {
        // The descriptor's own directory (its /proc/self/fd link names exactly that inode, no path walk).
        string[] names;
        try { names = Directory.GetFileSystemEntries("/proc/self/fd/" + dir).Select(p => Path.GetFileName(p)!).ToArray(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return []; }
        Array.Sort(names, StringComparer.Ordinal);
        return names;
    }

    void WriteChild(int dir, string leaf, string name, bool top)
    {
        Native.Statx st;
        if (Native.statx(dir, leaf, Native.AT_SYMLINK_NOFOLLOW, Native.STATX_BASIC_STATS, &st) != 0)
        {
            if (top) throw Native.Error("statx", name);
            return; // removed meanwhile
        }
        switch (st.Type)
        {
            case S_IFDIR:
            {
                int fd = OpenChecked(dir, leaf, Consts.O_RDONLY | Consts.O_DIRECTORY, st);
                if (fd < 0)
                {
                    if (top) throw new IOException($"{name}: changed while it was being read");
                    return;
                }
                try
                {
                    WriteDirEntry(Native.Fstat(fd, name), name);
                    // A kernel filesystem mounted in the container (its /proc, /sys, ...) is an empty
                    // directory here, as in Docker's view of the rootfs: never its files (kcore, the
                    // processes' memory, the host's kernel settings).
                    if (!IsKernelFs(fd)) WriteChildren(fd, name);
                }
                finally { Sys.Close(fd); }
                return;
            }
            case S_IFREG:
                WriteFile(dir, leaf, name, st, top);
                return;
            case S_IFLNK:
            {
                var target = ContainerArchive.ReadLinkAt(dir, leaf);
                if (target is null) return;
                var e = new GnuTarEntry(TarEntryType.SymbolicLink, name) { LinkName = target };
                Put(e, st);
                return;
            }
            case S_IFCHR or S_IFBLK:
            {
                var e = new GnuTarEntry(st.Type == S_IFCHR ? TarEntryType.CharacterDevice : TarEntryType.BlockDevice, name)
                    { DeviceMajor = (int)st.RdevMajor, DeviceMinor = (int)st.RdevMinor };
                Put(e, st);
                return;
            }
            case S_IFIFO:
                Put(new GnuTarEntry(TarEntryType.Fifo, name), st);
                return;
            default:
                return; // sockets have no tar form (Docker skips them too)
        }
    }

    /// <summary>Opens the single name (never followed) as an O_PATH descriptor, checks it is the inode
    /// listed, and reopens that very inode through it. -1 if it changed meanwhile.</summary>
    static int OpenChecked(int dir, string leaf, int flags, Native.Statx listed)
    {
        int path;
        fixed (byte* p = Native.Z(leaf))
            path = Tmds.Linux.LibC.openat(dir, p, Consts.O_PATH | Consts.O_NOFOLLOW | Consts.O_CLOEXEC, 0);
        if (path < 0) return -1;
        try
        {
            var now = Native.Fstat(path, leaf);
            if (now.Type != listed.Type || now.Ino != listed.Ino) return -1;
            // Reopen the checked inode (the magic link jumps to it; no name is resolved again). Regular
            // files and directories only: a device or FIFO swapped in was refused above.
            int fd;
            fixed (byte* p = Native.Z("/proc/self/fd/" + path))
                fd = Tmds.Linux.LibC.open(p, flags | Consts.O_CLOEXEC | Consts.O_NONBLOCK, 0);
            return fd < 0 ? -1 : fd;
        }
        catch (SyscallException) { return -1; }
        finally { Sys.Close(path); }
    }

    void WriteFile(int dir, string leaf, string name, Native.Statx listed, bool top)
    {
        if (listed.Nlink > 1)
        {
            var key = (listed.DevMajor, listed.DevMinor, listed.Ino);
            if (_links.TryGetValue(key, out var first))
            {
                Put(new GnuTarEntry(TarEntryType.HardLink, name) { LinkName = first }, listed);
                return;
            }
            _links[key] = name;
        }
        int fd = OpenChecked(dir, leaf, Consts.O_RDONLY, listed);
        if (fd < 0)
        {
            if (top) throw new IOException($"{name}: changed while it was being read");
            return;
        }
        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        var now = Native.Fstat(fd, name);
        using var data = new FileStream(handle, FileAccess.Read, bufferSize: 0);
        // The size goes in the header first: content that grows meanwhile is cut, that shrinks is padded
        // (a copy of a live file is a snapshot of no one moment; it must still be a valid archive).
        var e = new GnuTarEntry(TarEntryType.RegularFile, name) { DataStream = new FixedLengthStream(data, (long)now.Size) };
        Put(e, now);
    }

    void WriteDirEntry(Native.Statx st, string name)
    {
        if (name == "/") return; // Docker's archive of "/" has no entry for the root itself
        Put(new GnuTarEntry(TarEntryType.Directory, name.EndsWith('/') ? name : name + "/"), st);
    }

    void Put(GnuTarEntry e, Native.Statx st)
    {
        e.Mode = (UnixFileMode)(st.Mode & 0xFFF);
        // A remapped container's files carry host ids; its archive shows its own (0.. ), as Docker's does.
        e.Uid = (int)(_ids is { } m ? m.ToContainerUid(st.Uid) : st.Uid);
        e.Gid = (int)(_ids is { } g ? g.ToContainerGid(st.Gid) : st.Gid);
        e.ModificationTime = DateTimeOffset.FromUnixTimeSeconds(st.MtimeSec);
        _tar.WriteEntry(e);
        _wrote = true;
    }

    internal static bool IsKernelFs(int fd)
    {
        long type;
        try { type = Sys.FsType(fd); }
        catch (SyscallException) { return true; }
        return type is 0x9fa0 /* proc */ or 0x62656572 /* sysfs */ or 0x27e0eb /* cgroup */ or 0x63677270 /* cgroup2 */
            or 0x1cd1 /* devpts */ or 0x19800202 /* mqueue */ or 0x73636673 /* securityfs */ or 0x64626720 /* debugfs */
            or 0x74726163 /* tracefs */ or (long)0xcafe4a11 /* bpf */ or 0x62656570 /* configfs */ or 0x6165676c /* pstore */
            or 0x42494e4d /* binfmt_misc */ or 0xde5e81e4 /* efivarfs */;
    }

    const int S_IFDIR = 0x4000, S_IFREG = 0x8000, S_IFLNK = 0xA000, S_IFCHR = 0x2000, S_IFBLK = 0x6000, S_IFIFO = 0x1000;

    /// <summary>Exactly length bytes: cut when the file grew, zero-padded when it shrank.</summary>
    sealed class FixedLengthStream(Stream inner, long size) : Stream
    {
        readonly long _length = size;
        long _left = size;
        bool _eof;
        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));
        public override int Read(Span<byte> buffer)
        {
            if (_left == 0) return 0;
            var want = buffer[..(int)Math.Min(buffer.Length, _left)];
            int n = _eof ? 0 : inner.Read(want);
            if (n == 0)
            {
                _eof = true;
                want.Clear();
                n = want.Length;
            }
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
