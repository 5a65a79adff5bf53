using System.CommandLine;
using System.Formats.Tar;
using System.IO.Pipes;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Gocker.Cli.Http;

namespace Gocker.Cli.Commands;

/// <summary>
/// `gocker cp`, as `docker cp` behaves: CONTAINER:SRC DEST|- and SRC|- CONTAINER:DEST, through the
/// archive API (HEAD/GET/PUT /containers/ID/archive). Everything about the container's side is the
/// daemon's (resolved inside the container's root); this side only maps names onto local paths, with
/// Docker's rules (a directory destination receives the source by its name, "SRC/." copies the
/// contents, a missing destination is created with the source's content).
/// </summary>
public static partial class CpCommands
{
    public static Command Build(CliContext ctx, ImageCommandTree.Guarded guard)
    {
        var archive = new Option<bool>("--archive", "-a") { Description = "Archive mode (copy all uid/gid information)" };
        var follow = new Option<bool>("--follow-link", "-L") { Description = "Always follow symbol link in SRC_PATH" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Suppress progress output during copy (gocker prints none)" };
        var src = new Argument<string>("SRC");
        var dest = new Argument<string>("DEST");
        var cmd = new Command("cp", "Copy files/folders between a container and the local filesystem\n\n" +
            "Use '-' as the source to read a tar archive from stdin and extract it to a directory destination in a container.\n" +
            "Use '-' as the destination to stream a tar archive of a container source to stdout.") { archive, follow, quiet, src, dest };
        cmd.SetAction(pr => guard(pr, () => Run(ctx, pr.GetValue(src)!, pr.GetValue(dest)!, pr.GetValue(archive), pr.GetValue(follow))));
        return cmd;
    }

    /// <summary>Docker's splitCpArg: "NAME:PATH" names a container unless the argument is a local
    /// path that is absolute or starts with "." (so "./a:b" and "/x:y" are local files).</summary>
    static (string? Container, string Path) Split(string arg)
    {
        if (arg.StartsWith('/') || arg.StartsWith('.')) return (null, arg);
        int colon = arg.IndexOf(':');
        if (colon <= 0) return (null, arg);
        return (arg[..colon], arg[(colon + 1)..]);
    }

    public static int Run(CliContext ctx, string src, string dest, bool archive, bool follow)
    {
        var (sc, sp) = Split(src);
        var (dc, dp) = Split(dest);
        if (sc is not null && dc is not null) throw new UsageException("copying between containers is not supported");
        if (sc is null && dc is null) throw new UsageException("must specify at least one container source");
        if (sc is not null) return FromContainer(ctx, sc, sp, dp, follow, archive);
        return ToContainer(ctx, sp, dc!, dp, follow, archive);
    }

    static string Esc(string s) => Uri.EscapeDataString(s);

    sealed record Stat(string Name, long Size, uint Mode, string LinkTarget)
    {
        public bool IsDir => (Mode & (1u << 31)) != 0;
        public bool IsSymlink => (Mode & (1u << 27)) != 0;
    }

    static Stat ParseStat(HttpResponse r)
    {
        if (!r.Headers.TryGetValue("X-Docker-Container-Path-Stat", out var h))
            throw new ApiException(r.StatusCode, "the daemon sent no X-Docker-Container-Path-Stat header");
        using var doc = JsonDocument.Parse(Convert.FromBase64String(h));
        var e = doc.RootElement;
        return new Stat(e.GetProperty("name").GetString() ?? "", e.GetProperty("size").GetInt64(), e.GetProperty("mode").GetUInt32(),
            e.TryGetProperty("linkTarget", out var l) ? l.GetString() ?? "" : "");
    }

    /// <summary>HEAD: the stat of a container path, or null when it does not exist (404).</summary>
    static Stat? StatPath(CliContext ctx, string container, string path)
    {
        using var r = ctx.Client.Http.Send("HEAD", $"/containers/{Esc(container)}/archive?path={Esc(path)}");
        if (r.StatusCode == 404)
        {
            // HEAD carries no body: tell a missing container from a missing path as docker does.
            using var c = ctx.Client.Http.Send("GET", $"/containers/{Esc(container)}/json");
            GockerClient.EnsureSuccess(c);
            return null;
        }
        if (r.StatusCode >= 400) throw new ApiException(r.StatusCode, $"stat {container}:{path}: {r.StatusCode} {r.Reason}");
        return ParseStat(r);
    }

    // ---- container -> local -------------------------------------------------------------------

    static int FromContainer(CliContext ctx, string container, string srcPath, string destPath, bool follow, bool archive)
    {
        if (srcPath.Length == 0) srcPath = "/";
        string? rebase = null;
        if (follow)
        {
            var st = StatPath(ctx, container, srcPath) ?? throw new ApiException(404, $"Could not find the file {srcPath} in container {container}");
            if (st.IsSymlink && st.LinkTarget.Length > 0)
            {
                rebase = Base(srcPath);
                srcPath = st.LinkTarget;
            }
        }
        using var r = ctx.Client.Http.Send("GET", $"/containers/{Esc(container)}/archive?path={Esc(srcPath)}");
        GockerClient.EnsureSuccess(r);
        var stat = ParseStat(r);
        if (destPath == "-")
        {
            r.Body.CopyTo(ctx.IO.StdOut);
            ctx.IO.StdOut.Flush();
            return 0;
        }
        // The archive's entries start with the name of the source (Docker's rebase); where they go here:
        var prefix = Base(srcPath);
        var localName = rebase ?? prefix;
        string targetRoot;
        bool contentsOnly = srcPath.EndsWith("/.") || srcPath == ".";
        if (Directory.Exists(destPath))
            targetRoot = contentsOnly && stat.IsDir ? destPath : Path.Combine(destPath, localName == "/" ? "" : localName);
        else if (File.Exists(destPath) || IsSymlink(destPath))
        {
            if (stat.IsDir) throw new UsageException($"cannot copy a directory to a file: {destPath}");
            targetRoot = destPath;
        }
        else
        {
            if (destPath.EndsWith('/') && !stat.IsDir) throw new UsageException($"destination directory {destPath} does not exist");
            var parent = Path.GetDirectoryName(Path.GetFullPath(destPath.TrimEnd('/')));
            if (parent is not null && !Directory.Exists(parent)) throw new UsageException($"destination directory {parent} does not exist");
            targetRoot = destPath.TrimEnd('/');
        }
        ExtractLocal(r.Body, prefix, targetRoot, archive);
        return 0;
    }

    static bool IsSymlink(string path)
    {
        try { return new FileInfo(path).LinkTarget is not null; }
        catch (IOException) { return false; }
    }

    /// <summary>Go's filepath.Base.</summary>
    static string Base(string p)
    {
        if (p.Length == 0) return ".";
        p = p.TrimEnd('/');
        if (p.Length == 0) return "/";
        var i = p.LastIndexOf('/');
        return i >= 0 ? p[(i + 1)..] : p;
    }

    /// <summary>Writes the entries under targetRoot, the prefix (the source's name) replaced. Names
    /// that climb ("..") or do not start with the prefix are refused: the archive comes from the
    /// daemon, but its names come from the container.</summary>
    static void ExtractLocal(Stream tar, string prefix, string targetRoot, bool archive)
    {
        using var reader = new TarReader(tar);
        var dirTimes = new List<(string, DateTime)>();
        var written = new Dictionary<string, string>(StringComparer.Ordinal);
        TarEntry? e;
        while ((e = reader.GetNextEntry()) is not null)
        {
            var name = e.Name.TrimEnd('/');
            string rest;
            if (prefix == ".") rest = name is "." or "" ? "" : "/" + (name.StartsWith("./", StringComparison.Ordinal) ? name[2..] : name);
            else if (prefix == "/") rest = name.StartsWith('/') ? name : "/" + name;
            else if (name == prefix) rest = "";
            else if (name.StartsWith(prefix + "/", StringComparison.Ordinal)) rest = name[prefix.Length..];
            else throw new UsageException($"unexpected entry {e.Name} in the archive of {prefix}");
            if (rest.Split('/').Any(p => p == "..")) throw new UsageException($"refusing entry {e.Name}: it climbs out of the destination");
            var target = targetRoot + rest;
            if (target.Length == 0) target = ".";
            written[e.Name.TrimEnd('/')] = target;
            switch (e.EntryType)
            {
                case TarEntryType.Directory:
                    if (IsSymlink(target) || File.Exists(target)) File.Delete(target);
                    Directory.CreateDirectory(target);
                    File.SetUnixFileMode(target, (UnixFileMode)((int)e.Mode & 0xFFF));
                    dirTimes.Add((target, e.ModificationTime.UtcDateTime));
                    break;
                case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                    if (Directory.Exists(target) && !IsSymlink(target)) throw new UsageException($"cannot overwrite directory {target} with a file");
                    if (IsSymlink(target)) File.Delete(target); // never write through a local symlink
                    using (var f = new FileStream(target, FileMode.Create, FileAccess.Write))
                        e.DataStream?.CopyTo(f);
                    File.SetUnixFileMode(target, (UnixFileMode)((int)e.Mode & 0xFFF));
                    File.SetLastWriteTimeUtc(target, e.ModificationTime.UtcDateTime);
                    break;
                case TarEntryType.SymbolicLink:
                    if (File.Exists(target) || IsSymlink(target)) File.Delete(target);
                    File.CreateSymbolicLink(target, e.LinkName);
                    break;
                case TarEntryType.HardLink:
                    if (!written.TryGetValue(e.LinkName.TrimEnd('/'), out var first)) throw new UsageException($"hardlink {e.Name} to {e.LinkName}, which is not in the archive");
                    if (File.Exists(target) || IsSymlink(target)) File.Delete(target);
                    if (link(first, target) != 0) File.Copy(first, target);
                    break;
                default:
                    continue; // devices, FIFOs: not made here (as an unprivileged docker cp cannot either)
            }
            if (archive && e.EntryType != TarEntryType.HardLink) lchown(target, e.Uid, e.Gid);
        }
        foreach (var (dir, t) in dirTimes.AsEnumerable().Reverse())
            Directory.SetLastWriteTimeUtc(dir, t);
    }

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int lchown(string path, int uid, int gid);

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int link(string oldPath, string newPath);

    // ---- local -> container -------------------------------------------------------------------

    static int ToContainer(CliContext ctx, string srcPath, string container, string destPath, bool follow, bool archive)
    {
        if (destPath.Length == 0) destPath = "/";
        string query(string path) => $"/containers/{Esc(container)}/archive?path={Esc(path)}&noOverwriteDirNonDir=true" + (archive ? "&copyUIDGID=true" : "");
        if (srcPath == "-")
        {
            // A tar on stdin, unpacked into the destination directory as it is.
            using var stdin = Console.OpenStandardInput();
            using var r0 = ctx.Client.Http.SendStreaming("PUT", query(destPath), stdin, "application/x-tar");
            GockerClient.EnsureSuccess(r0);
            return 0;
        }
        var local = srcPath;
        bool exists = File.Exists(local) || Directory.Exists(local) || IsSymlink(local);
        if (!exists) throw new UsageException($"could not find the file {srcPath} on this machine");
        bool srcIsDir = Directory.Exists(local) && (follow || !IsSymlink(local));
        bool contentsOnly = srcPath.EndsWith("/.") || srcPath == ".";
        if (srcPath.EndsWith('/') && !Directory.Exists(local)) throw new UsageException($"{srcPath} is not a directory");

        var dstStat = StatPath(ctx, container, destPath);
        if (dstStat is { IsSymlink: true } && dstStat.LinkTarget.Length > 0)
        {
            destPath = dstStat.LinkTarget;
            dstStat = StatPath(ctx, container, destPath);
        }
        string putPath, entryName;
        if (dstStat is { IsDir: true })
        {
            putPath = destPath;
            entryName = contentsOnly ? "." : Base(local);
        }
        else if (dstStat is not null)
        {
            if (srcIsDir) throw new UsageException($"cannot copy a directory to a file: {container}:{destPath}");
            putPath = Parent(destPath);
            entryName = Base(destPath);
        }
        else
        {
            if (destPath.EndsWith('/')) throw new UsageException($"destination directory {container}:{destPath} does not exist");
            putPath = Parent(destPath);
            entryName = Base(destPath);
        }

        using var server = new AnonymousPipeServerStream(PipeDirection.Out);
        using var client = new AnonymousPipeClientStream(PipeDirection.In, server.ClientSafePipeHandle);
        Exception? failure = null;
        var producer = new Thread(() =>
        {
            try
            {
                using var w = new TarWriter(server, TarEntryFormat.Pax, leaveOpen: true);
                WriteLocal(w, local, entryName, follow, top: true);
            }
            catch (Exception e) { failure = e; }
            finally { server.Dispose(); }
        }) { IsBackground = true };
        producer.Start();
        using var r = ctx.Client.Http.SendStreaming("PUT", query(putPath), client, "application/x-tar");
        producer.Join();
        GockerClient.EnsureSuccess(r);
        if (failure is not null) throw new UsageException($"cannot read {srcPath}: {failure.Message}");
        return 0;
    }

    static string Parent(string containerPath)
    {
        var p = containerPath.TrimEnd('/');
        int i = p.LastIndexOf('/');
        return i <= 0 ? "/" : p[..i];
    }

    static void WriteLocal(TarWriter w, string path, string name, bool follow, bool top)
    {
        bool isLink = IsSymlink(path);
        if (top && isLink && follow)
        {
            var resolved = new FileInfo(path).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? path;
            WriteLocal(w, resolved, name, follow: false, top: true);
            return;
        }
        if (!isLink && Directory.Exists(path))
        {
            if (name != ".") w.WriteEntry(path, name + "/");
            foreach (var child in Directory.GetFileSystemEntries(path).Order(StringComparer.Ordinal))
            {
                var n = Path.GetFileName(child);
                WriteLocal(w, child, name == "." ? n : name + "/" + n, follow, top: false);
            }
            return;
        }
        w.WriteEntry(path, name);
    }
}
