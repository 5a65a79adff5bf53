using Gocker.Syscalls.IO;
using System.IO.Compression;
using System.Text.Json;

namespace Gocker.Images;

/// <summary>Images on local disk. Layout under the images directory:
/// <code>
///   &lt;hex id&gt;/rootfs        the image's root filesystem (an overlay lower dir; never written after commit)
///   &lt;hex id&gt;/image.json    ImageConfig (id, env, cmd, workdir, created, size, layer references)
///   &lt;hex id&gt;/config.json   the image config exactly as loaded (its SHA-256 is the id), for `save`
///   layers/&lt;diff id hex&gt;/diff  an image layer unpacked once, shared by every image that has it
///   layers/&lt;diff id hex&gt;/layer.json
///   repositories.json       { "Repositories": { "name:tag": "sha256:&lt;hex&gt;" } }, replaced atomically
///   tmp/&lt;pid&gt;-&lt;guid&gt;       work dirs of imports/builds in progress (renamed into place on success)
///   .lock                   flock held around every change of the above
/// </code>
/// An image directory with no name is "dangling" (a name moved to a newer import, or a crash between
/// rename and index write): it is listed as &lt;none&gt;:&lt;none&gt; and can be removed by id. It is not deleted
/// automatically because a running container may still have it as its overlay lower dir.</summary>
public sealed partial class ImageStore : IImageStore
{
    public const string DanglingName = "<none>:<none>";

    readonly string _root;
    readonly string _tmp;
    readonly string _indexPath;
    readonly string _lockPath;
    readonly ImageStoreOptions _options;
    readonly Lock _gate = new();
    int _busyboxBuilds;

    /// <summary>How many times this store built the busybox image (tests check parallel first uses build once).</summary>
    internal int BusyboxBuilds => Volatile.Read(ref _busyboxBuilds);

    public ImageStore(string imagesDirectory, ImageStoreOptions? options = null)
    {
        _options = options ?? new ImageStoreOptions();
        _root = Path.GetFullPath(imagesDirectory);
        _tmp = Path.Combine(_root, "tmp");
        _indexPath = Path.Combine(_root, "repositories.json");
        _lockPath = Path.Combine(_root, ".lock");
        // 0700: image contents are trusted by the runtime, so nobody else may write (or race) in here.
        Directory.CreateDirectory(_root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Directory.CreateDirectory(_tmp, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        RemoveStaleWorkDirs();
    }

    /// <summary>The images directory this store manages.</summary>
    public string ImagesDirectory => _root;

    public ImageRecord Resolve(string reference)
    {
        ArgumentNullException.ThrowIfNull(reference);
        if (reference.Contains('@'))
        {
            // NAME@sha256:...: the image pulled by that digest (RepoDigests).
            var r = Registry.RegistryReference.Parse(reference);
            return ResolveDigest(r.FamiliarName, r.Digest!) ?? throw new ImageNotFoundException(reference);
        }
        bool isName = ImageReference.TryNormalize(reference, out var name, out var reason);
        if (isName)
        {
            if (ReadIndex().Repositories.TryGetValue(name, out var id))
                return Load(id, name) ?? throw new ImageNotFoundException(reference);
            if (name == BusyboxImage.Name)
                return EnsureBusybox();
        }
        if (ImageReference.LooksLikeId(reference) && FindByIdPrefix(reference) is { } hex)
            return Load("sha256:" + hex, NameOf("sha256:" + hex, ReadIndex())) ?? throw new ImageNotFoundException(reference);
        if (!isName) throw new InvalidImageNameException(reference, reason);
        throw new ImageNotFoundException(reference);
    }

    public ImageRecord Import(Stream tar, string name)
    {
        ArgumentNullException.ThrowIfNull(tar);
        name = ImageReference.Normalize(name);
        var work = NewWorkDir();
        try
        {
            var rootfs = Path.Combine(work, "rootfs");
            Directory.CreateDirectory(rootfs);
            File.SetUnixFileMode(rootfs, (UnixFileMode)0b111_101_101);
            using var hashing = new HashingReadStream(tar, _options.MaxArchiveBytes);
            bool gzip = hashing.Peek(2) is [0x1f, 0x8b];
            Stream input = gzip ? new GZipStream(hashing, CompressionMode.Decompress, leaveOpen: true) : hashing;
            long size;
            try
            {
                size = TarUnpacker.Unpack(input, rootfs, _options);
                // Read to the end: the id hashes the whole archive, and gzip checks its CRC only at the end.
                input.CopyTo(Stream.Null);
                hashing.Drain();
            }
            catch (InvalidDataException ex) when (gzip)
            {
                throw new UnsafeArchiveException($"archive is corrupt (gzip): {ex.Message}");
            }
            finally
            {
                if (gzip) input.Dispose();
            }
            var config = new ImageConfig
            {
                Id = hashing.Id(),
                Env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                Cmd = ["sh"],
                Created = DateTimeOffset.UtcNow,
                SizeBytes = size,
            };
            lock (_gate)
            using (DirectoryLock.Acquire(_lockPath))
                return Commit(work, config, name);
        }
        catch
        {
            RemoveTree(work);
            throw;
        }
    }

    public IReadOnlyList<ImageRecord> List()
    {
        var index = ReadIndex();
        var result = new List<ImageRecord>();
        var named = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, id) in index.Repositories)
        {
            named.Add(id);
            if (Load(id, name) is { } r) result.Add(r);
        }
        foreach (var dir in Directory.EnumerateDirectories(_root))
        {
            var hex = Path.GetFileName(dir);
            if (IsHexId(hex) && !named.Contains("sha256:" + hex) && Load("sha256:" + hex, DanglingName) is { } r)
                result.Add(r);
        }
        return result;
    }

    /// <summary>By name: removes the name, and the image directory once no name refers to it.
    /// By id or unique id prefix: removes the image and every name referring to it.</summary>
    public void Remove(string reference) => Delete(reference, untagOnly: false);

    // ---- built-in busybox ----

    ImageRecord EnsureBusybox()
    {
        // In-process lock for threads of this daemon, flock for anything else sharing the directory:
        // parallel first uses build it once, the others wait and find it registered.
        lock (_gate)
        using (DirectoryLock.Acquire(_lockPath))
        {
            if (ReadIndex().Repositories.TryGetValue(BusyboxImage.Name, out var id) && Load(id, BusyboxImage.Name) is { } existing)
                return existing;
            var work = NewWorkDir();
            try
            {
                Interlocked.Increment(ref _busyboxBuilds);
                var config = BusyboxImage.Build(_options.BusyboxPath, work);
                return Commit(work, config, BusyboxImage.Name);
            }
            catch
            {
                RemoveTree(work);
                throw;
            }
        }
    }

    // ---- commit and index (callers hold both locks) ----

    ImageRecord Commit(string work, ImageConfig config, string name)
    {
        var hex = ImageReference.HexOf(config.Id);
        File.WriteAllBytes(Path.Combine(work, "image.json"),
            JsonSerializer.SerializeToUtf8Bytes(config, ImageJsonContext.Default.ImageConfig));
        var final = Path.Combine(_root, hex);
        if (Directory.Exists(final))
        {
            // Same content already stored (same archive imported again): keep the existing directory,
            // which running containers may be using, and only (re)point the name at it.
            RemoveTree(work);
        }
        else
        {
            // Data and metadata of the whole tree reach the disk before the rename publishes it.
            using (var fd = Fd.OpenDirectory(work))
                if (Tmds.Linux.LibC.syncfs(fd.Value) != 0) throw Native.Error("syncfs", work);
            Directory.Move(work, final);
            AtomicFile.SyncDirectory(_root);
        }
        var index = ReadIndex();
        index.Repositories[name] = config.Id;
        WriteIndex(index);
        return Load(config.Id, name) ?? throw new InvalidOperationException($"image {config.Id}: image.json missing after commit");
    }

    RepositoriesFile ReadIndex()
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(_indexPath); }
        catch (FileNotFoundException) { return new RepositoriesFile(); }
        try
        {
            var file = JsonSerializer.Deserialize(bytes, ImageJsonContext.Default.RepositoriesFile) ?? new RepositoriesFile();
            // Rebuild with an ordinal comparer (the deserializer uses the default one).
            return new RepositoriesFile { Repositories = new(file.Repositories, StringComparer.Ordinal) };
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{_indexPath}: corrupt image index: {ex.Message}", ex);
        }
    }

    void WriteIndex(RepositoriesFile index) =>
        AtomicFile.Write(_indexPath, JsonSerializer.SerializeToUtf8Bytes(index, ImageJsonContext.Default.RepositoriesFile));

    ImageRecord? Load(string id, string name)
    {
        var hex = ImageReference.HexOf(id);
        if (!IsHexId(hex)) return null; // never build a path from a malformed (tampered) index value
        var dir = Path.Combine(_root, hex);
        ImageConfig? config;
        try
        {
            config = JsonSerializer.Deserialize(File.ReadAllBytes(Path.Combine(dir, "image.json")), ImageJsonContext.Default.ImageConfig);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
        if (config is null) return null;
        var refs = config.Layers ?? ["rootfs:" + hex];
        var extras = ReadConfigExtras(dir);
        return new ImageRecord
        {
            RepoDigests = ReadRepoDigests(dir),
            StopSignal = extras?.StopSignal,
            Labels = extras?.Labels,
            Name = name,
            Id = "sha256:" + hex,
            Layers = refs.Reverse().Select(LayerPath).ToArray(),
            LayerIds = refs,
            Env = config.Env,
            Cmd = config.Cmd,
            Entrypoint = config.Entrypoint,
            User = config.User,
            ExposedPorts = config.ExposedPorts,
            Volumes = config.Volumes ?? [],
            Parent = config.Parent,
            Comment = config.Comment,
            WorkingDir = config.WorkingDir,
            Created = config.Created,
            SizeBytes = config.SizeBytes,
        };
    }

    static string NameOf(string id, RepositoriesFile index) =>
        index.Repositories.FirstOrDefault(kv => kv.Value == id).Key ?? DanglingName;

    /// <summary>The hex id of the single image whose id starts with the prefix; null if none.</summary>
    string? FindByIdPrefix(string reference)
    {
        var prefix = ImageReference.HexOf(reference);
        string? found = null;
        foreach (var dir in Directory.EnumerateDirectories(_root))
        {
            var hex = Path.GetFileName(dir);
            if (!IsHexId(hex) || !hex.StartsWith(prefix, StringComparison.Ordinal)) continue;
            if (!File.Exists(Path.Combine(dir, "image.json"))) continue; // kept only as another image's layer
            if (found is not null) throw new AmbiguousImageReferenceException(reference);
            found = hex;
        }
        return found;
    }

    static bool IsHexId(string s) => s.Length == 64 && s.All(c => c is >= '0' and <= '9' or >= 'a' and <= 'f');

    // ---- work dirs ----

    string NewWorkDir()
    {
        var dir = Path.Combine(_tmp, $"{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return dir;
    }

    void DeleteImageDir(string hex)
    {
        var dir = Path.Combine(_root, hex);
        if (!Directory.Exists(dir)) return;
        // Its rootfs may be a layer of an image committed on top of it: then only the image goes.
        File.Delete(Path.Combine(dir, "image.json"));
        File.Delete(Path.Combine(dir, "config.json"));
        File.Delete(Path.Combine(dir, "repo-digests.json"));
        CollectGarbage();
    }

    void DeleteTree(string dir, string hex)
    {
        // Move it out of sight first: a crash halfway through the delete must not leave a half image listed.
        var doomed = Path.Combine(_tmp, $"{Environment.ProcessId}-rm-{hex}-{Guid.NewGuid():N}");
        Directory.Move(dir, doomed);
        RemoveTree(doomed);
    }

    /// <summary>Work dirs of processes that died (crash mid-import). Those of live processes are theirs.</summary>
    void RemoveStaleWorkDirs()
    {
        foreach (var dir in Directory.EnumerateFileSystemEntries(_tmp))
        {
            var n = Path.GetFileName(dir);
            int dash = n.IndexOf('-');
            if (dash > 0 && int.TryParse(n[..dash], out var pid) && pid != Environment.ProcessId && !Directory.Exists($"/proc/{pid}"))
                RemoveTree(dir);
        }
    }

    /// <summary>Recursive delete that does not follow symlinks (.NET removes links, not their targets).</summary>
    static void RemoveTree(string path)
    {
        try
        {
            if (Directory.Exists(path)) Directory.Delete(path, recursive: true);
        }
        catch (DirectoryNotFoundException) { }
    }
}
