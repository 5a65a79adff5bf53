using System.Globalization;
using System.Text;
using System.Text.Json;
using Gocker.Syscalls;
using Gocker.Syscalls.Native;

namespace Gocker.Images.ContainerFs;

/// <summary>A path that does not exist in the container: 404, as Docker answers.</summary>
public sealed class ArchivePathNotFoundException(string message) : Exception(message);

/// <summary>A write into a read-only rootfs or volume: 403, as Docker answers.</summary>
public sealed class ArchiveForbiddenException(string message) : Exception(message);

/// <summary>Docker's ContainerPathStat (the X-Docker-Container-Path-Stat header: base64 of this JSON).
/// Mode is Go's os.FileMode (type bits high, permission bits low).</summary>
public sealed record PathStat(string Name, long Size, uint Mode, DateTimeOffset Mtime, string LinkTarget)
{
    public const string HeaderName = "X-Docker-Container-Path-Stat";

    public bool IsDir => (Mode & GoModeDir) != 0;
    public bool IsSymlink => (Mode & GoModeSymlink) != 0;

    public string ToJson()
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            w.WriteString("name", Name);
            w.WriteNumber("size", Size);
            w.WriteNumber("mode", Mode);
            w.WriteString("mtime", GoTime(Mtime));
            w.WriteString("linkTarget", LinkTarget);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    public string ToHeader() => Convert.ToBase64String(Encoding.UTF8.GetBytes(ToJson()));

    /// <summary>Go's time.Time JSON (RFC 3339 with nanoseconds, trailing zeros dropped).</summary>
    static string GoTime(DateTimeOffset t)
    {
        var u = t.UtcDateTime;
        var s = u.ToString("yyyy-MM-ddTHH:mm:ss", CultureInfo.InvariantCulture);
        long frac = u.Ticks % TimeSpan.TicksPerSecond;
        if (frac != 0) s += "." + (frac * 100).ToString("D9", CultureInfo.InvariantCulture).TrimEnd('0');
        return s + "Z";
    }

    public const uint GoModeDir = 1u << 31, GoModeSymlink = 1u << 27, GoModeDevice = 1u << 26, GoModeNamedPipe = 1u << 25,
        GoModeSocket = 1u << 24, GoModeSetuid = 1u << 23, GoModeSetgid = 1u << 22, GoModeCharDevice = 1u << 21, GoModeSticky = 1u << 20;

    /// <summary>st_mode as Go's os.FileMode.</summary>
    public static uint GoMode(int stMode)
    {
        uint m = (uint)stMode & 0x1FF;
        m |= (stMode & 0xF000) switch
        {
            0x4000 => GoModeDir,
            0xA000 => GoModeSymlink,
            0x1000 => GoModeNamedPipe,
            0xC000 => GoModeSocket,
            0x2000 => GoModeDevice | GoModeCharDevice,
            0x6000 => GoModeDevice,
            _ => 0,
        };
        if ((stMode & 0x800) != 0) m |= GoModeSetuid;
        if ((stMode & 0x400) != 0) m |= GoModeSetgid;
        if ((stMode & 0x200) != 0) m |= GoModeSticky;
        return m;
    }
}

/// <summary>What PUT /containers/ID/archive may do.</summary>
public sealed record ExtractOptions
{
    /// <summary>noOverwriteDirNonDir: a directory never replaces a non-directory nor the reverse (an error instead).</summary>
    public bool NoOverwriteDirNonDir { get; init; }
    /// <summary>copyUIDGID with a container user: every entry is owned by this user (container ids), not by the tar's ids.</summary>
    public (uint Uid, uint Gid)? Owner { get; init; }
    /// <summary>Content bytes the archive may unpack (a bound on what one request can write).</summary>
    public long MaxBytes { get; init; } = 16L << 30;
    /// <summary>The container was created with --read-only (its rootfs; volumes are another matter).</summary>
    public bool ReadonlyRootfs { get; init; }
}

/// <summary>
/// Docker's archive API on a <see cref="ContainerRoot"/>: stat a path, tar it, unpack a tar into a
/// directory, with Docker's semantics (moby daemon/archive.go: the path is absolute in the container,
/// a trailing "/" or "/." is kept; stat and GET do not follow a final symlink, PUT does), and none of
/// its old races: every lookup is openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) from the root
/// descriptor, every walk and every change is by descriptor on a single name that is never followed
/// (O_NOFOLLOW, AT_SYMLINK_NOFOLLOW, *at calls), so a symlink swapped in mid-copy stays inside the
/// container (CVE-2018-15664 and its kin).
/// </summary>
public static class ContainerArchive
{
    const ulong InRoot = Consts.RESOLVE_IN_ROOT | Consts.RESOLVE_NO_MAGICLINKS;

    /// <summary>Docker's absolute form of a requested path: "/" + path cleaned, a trailing "/" or
    /// "/." kept (PreserveTrailingDotOrSeparator).</summary>
    public static string AbsPath(string path)
    {
        var clean = Clean("/" + path);
        if (Base(clean) != "." && Base(path) == "." && (path.EndsWith("/.") || path == "."))
            clean = (clean.EndsWith('/') ? clean : clean + "/") + ".";
        if (!clean.EndsWith('/') && path.EndsWith('/')) clean += "/";
        return clean;
    }

    /// <summary>Go's path.Clean for an absolute path.</summary>
    public static string Clean(string abs)
    {
        var parts = new List<string>();
        foreach (var s in abs.Split('/'))
        {
            if (s is "" or ".") continue;
            if (s == "..") { if (parts.Count > 0) parts.RemoveAt(parts.Count - 1); continue; }
            parts.Add(s);
        }
        return "/" + string.Join('/', parts);
    }

    /// <summary>Go's filepath.Base.</summary>
    public static string Base(string p)
    {
        if (p.Length == 0) return ".";
        p = p.TrimEnd('/');
        if (p.Length == 0) return "/";
        var i = p.LastIndexOf('/');
        return i >= 0 ? p[(i + 1)..] : p;
    }

    /// <summary>The requested path split as Docker's ResolvePath does: the directory part is resolved
    /// (all symlinks followed, inside the root), the last element is not. Dir is an O_RDONLY
    /// directory descriptor (the caller closes it); Leaf null means the target is Dir itself (a
    /// trailing "/" or "/.", or "/").</summary>
    internal readonly record struct Located(int Dir, string? Leaf, Native.Statx St, string Abs);

    static void Check(string path)
    {
        if (path.Length == 0) throw new ArgumentException("path is required (the path=... parameter)");
        if (path.Contains('\0')) throw new ArgumentException($"path {path} contains a NUL byte");
    }

    internal static unsafe Located Locate(ContainerRoot root, string path, string container)
    {
        Check(path);
        var abs = AbsPath(path);
        int slash = abs.LastIndexOf('/');
        string dirPart = abs[..(slash + 1)], basePart = abs[(slash + 1)..];
        int dir = Sys.OpenAt2(root.Fd, dirPart, Consts.O_RDONLY | Consts.O_DIRECTORY, InRoot);
        if (dir < 0) throw NotFound(path, container, -dir);
        try
        {
            // Inside a kernel filesystem of the container (/proc/..., /sys/...): not part of its rootfs
            // as Docker shows it, and never read by the daemon (host root) on a caller's behalf.
            if (InRootTarWriter.IsKernelFs(dir)) throw NotFound(path, container, Consts.ENOENT);
            string? leaf = basePart is "" or "." ? null : basePart;
            Native.Statx st;
            int r = leaf is null
                ? Native.statx(dir, "", Native.AT_EMPTY_PATH, Native.STATX_BASIC_STATS, &st)
                : Native.statx(dir, leaf, Native.AT_SYMLINK_NOFOLLOW, Native.STATX_BASIC_STATS, &st);
            if (r != 0) throw NotFound(path, container, System.Runtime.InteropServices.Marshal.GetLastPInvokeError());
            return new Located(dir, leaf, st, abs);
        }
        catch
        {
            Sys.Close(dir);
            throw;
        }
    }

    static Exception NotFound(string path, string container, int errno) =>
        errno is Consts.ENOENT or Consts.ENOTDIR or Consts.ELOOP
            ? new ArchivePathNotFoundException($"Could not find the file {path} in container {container}")
            : new SyscallException("resolve in the container", path, errno);

    /// <summary>HEAD: Docker's StatPath. A symlink's LinkTarget is its full resolution inside the container.</summary>
    public static PathStat Stat(ContainerRoot root, string path, string container)
    {
        var at = Locate(root, path, container);
        try { return StatOf(root, at); }
        finally { Sys.Close(at.Dir); }
    }

    internal static PathStat StatOf(ContainerRoot root, Located at)
    {
        var st = at.St;
        string link = "";
        if (st.Type == 0xA000) link = ResolveLink(root, at);
        return new PathStat(Base(at.Abs), (long)st.Size, PathStat.GoMode(st.Mode), st.Mtime, link);
    }

    /// <summary>Where a symlink leads, as a path in the container (Docker: FollowSymlinkInScope).</summary>
    static string ResolveLink(ContainerRoot root, Located at)
    {
        int fd = Sys.OpenAt2(root.Fd, Clean(at.Abs), Consts.O_PATH, InRoot);
        if (fd >= 0)
        {
            try
            {
                if (PathInRoot(root.Fd, fd) is { } p) return p;
            }
            finally { Sys.Close(fd); }
        }
        // Dangling (or not nameable): the lexical resolution of its target, as securejoin gives.
        var target = ReadLinkAt(at.Dir, at.Leaf!) ?? "";
        var dir = Clean(at.Abs)[..(Clean(at.Abs).LastIndexOf('/') + 1)];
        return Clean(target.StartsWith('/') ? target : dir + target);
    }

    /// <summary>The container path of fd (a descriptor under root), from the kernel's names of both.</summary>
    internal static string? PathInRoot(int rootFd, int fd)
    {
        string r, p;
        try
        {
            r = File.ResolveLinkTarget("/proc/self/fd/" + rootFd, false)?.FullName ?? "";
            p = File.ResolveLinkTarget("/proc/self/fd/" + fd, false)?.FullName ?? "";
        }
        catch (IOException) { return null; }
        if (p.EndsWith(" (deleted)", StringComparison.Ordinal)) return null;
        if (r == "/") return p.StartsWith('/') ? p : null;
        if (p == r) return "/";
        return p.StartsWith(r + "/", StringComparison.Ordinal) ? p[r.Length..] : null;
    }

    internal static unsafe string? ReadLinkAt(int dir, string name)
    {
        var buf = new byte[4096];
        fixed (byte* p = Native.Z(name))
        fixed (byte* b = buf)
        {
            var n = Tmds.Linux.LibC.readlinkat(dir, p, b, buf.Length);
            return n >= 0 ? Encoding.UTF8.GetString(buf, 0, (int)n) : null;
        }
    }

    /// <summary>GET: the stat of the path and a writer of its tar (Docker's entry names: the top entry is
    /// named as the requested path's last element, so "/etc/" gives "etc/..." and a symlink to a
    /// directory given as "/link/" gives "link/..."). The writer owns the located descriptor.</summary>
    public static (PathStat Stat, Action<Stream> Write) Archive(ContainerRoot root, string path, string container)
    {
        var at = Locate(root, path, container);
        PathStat stat;
        try { stat = StatOf(root, at); }
        catch
        {
            Sys.Close(at.Dir);
            throw;
        }
        return (stat, output =>
        {
            try
            {
                using var w = new InRootTarWriter(output, root.Ids);
                var name = Base(at.Abs);
                w.WriteTop(at.Dir, at.Leaf, name);
            }
            finally { Sys.Close(at.Dir); }
        });
    }

    /// <summary>PUT: unpacks a tar into the directory at path (its final symlink followed, inside the
    /// root). The archive is read as it comes, never held whole.</summary>
    public static long Extract(ContainerRoot root, string path, string container, Stream tar, ExtractOptions options)
    {
        Check(path);
        var abs = AbsPath(path);
        int dest = Sys.OpenAt2(root.Fd, abs, Consts.O_RDONLY, InRoot);
        if (dest < 0) throw NotFound(path, container, -dest);
        try
        {
            if (!Sys.TryStat(dest, "", out _, out _, out var mode) || (mode & 0xF000) != 0x4000)
                throw new ArgumentException("extraction point is not a directory");
            if (InRootTarWriter.IsKernelFs(dest))
                throw new ArchiveForbiddenException($"{path} is on a kernel filesystem of the container (proc, sysfs, cgroup, ...): nothing is copied there");
            // Docker's check: a destination in a volume may not be in a read-only one, one outside any
            // volume may not be in a --read-only rootfs. A running container's mounts say it themselves;
            // a stopped one's rootfs is mounted writable for the copy, so its record says it.
            bool volume = IsVolumeLike(root, dest);
            if (IsReadOnlyMount(dest) || (options.ReadonlyRootfs && root.Detached && !volume))
                throw new ArchiveForbiddenException(options.ReadonlyRootfs && !volume
                    ? "container rootfs is marked read-only"
                    : "mounted volume is marked read-only");
            var destPath = PathInRoot(root.Fd, dest);
            using var x = new InRootExtractor(root, dest, destPath, options);
            return x.Run(tar);
        }
        finally { Sys.Close(dest); }
    }

    /// <summary>Whether dest is on another mount than the container's root (a volume, a bind mount).</summary>
    static bool IsVolumeLike(ContainerRoot root, int dest) =>
        Sys.TryStat(root.Fd, "", out var rdev, out _, out _) && Sys.TryStat(dest, "", out var ddev, out _, out _) && rdev != ddev;

    internal static unsafe bool IsReadOnlyMount(int fd)
    {
        byte* buf = stackalloc byte[128];
        if (Libc.fstatfs(fd, buf) != 0) return false;
        const long ST_RDONLY = 1;
        return (*(long*)(buf + 80) & ST_RDONLY) != 0; // struct statfs f_flags (x86_64)
    }

    /// <summary>copyUIDGID: the container's user (its Config.User) as ids, from the container's own
    /// /etc/passwd and /etc/group (opened inside the root, regular files only, bounded).</summary>
    public static (uint Uid, uint Gid) ResolveUser(ContainerRoot root, string user)
    {
        var passwd = ReadSmallFile(root, "/etc/passwd");
        var group = ReadSmallFile(root, "/etc/group");
        var u = Gocker.Syscalls.Spawn.UserResolver.Resolve(user, passwd, group);
        return (u.Uid, u.Gid);
    }

    static string? ReadSmallFile(ContainerRoot root, string path)
    {
        int fd = Sys.OpenAt2(root.Fd, path, Consts.O_RDONLY | Consts.O_NONBLOCK, InRoot);
        if (fd < 0) return null;
        try
        {
            if (!Sys.TryStat(fd, "", out _, out _, out var mode) || (mode & 0xF000) != 0x8000) return null;
            return Encoding.UTF8.GetString(Sys.ReadToEnd(fd, 1 << 20));
        }
        finally { Sys.Close(fd); }
    }
}
