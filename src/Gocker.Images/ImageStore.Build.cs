using Gocker.Images.Build;
using Gocker.Syscalls.IO;
using System.Security.Cryptography;
using System.Text.Json;

namespace Gocker.Images;

// The image store's side of `build`: the config a build starts from, one step committed as an image
// (a layer from an upper dir, or none), and the step cache (an image whose BuildCacheKey matches).
public sealed partial class ImageStore
{
    /// <summary>The config of an image as a build continues it (from its stored config.json when it has
    /// one, so labels, healthcheck, shell and onbuild triggers carry on).</summary>
    public BuildImageConfig BuildConfigOf(ImageRecord image)
    {
        var c = ReadFullConfig(image.Id)?.Config;
        return new BuildImageConfig
        {
            Env = image.Env.ToList(),
            Cmd = image.Cmd.Length > 0 ? image.Cmd.ToList() : null,
            Entrypoint = image.Entrypoint?.ToList(),
            WorkingDir = image.WorkingDir is "/" or "" ? "" : image.WorkingDir,
            User = image.User,
            ExposedPorts = new SortedSet<string>(image.ExposedPorts, StringComparer.Ordinal),
            Volumes = new SortedSet<string>(image.Volumes, StringComparer.Ordinal),
            Labels = new SortedDictionary<string, string>((IDictionary<string, string>?)c?.Labels ?? new Dictionary<string, string>(), StringComparer.Ordinal),
            StopSignal = image.StopSignal,
            Healthcheck = c?.Healthcheck,
            Shell = c?.Shell,
            OnBuild = c?.OnBuild ?? [],
        };
    }

    /// <summary>The image's history oldest first, as a build extends it: its config's entries, or one
    /// entry per layer for an image that has none recorded (busybox, imports, commits).</summary>
    public List<BuildHistory> BuildHistoryOf(ImageRecord image)
    {
        var h = ReadFullConfig(image.Id)?.History;
        if (h is { Count: > 0 } && h.Count(e => e.EmptyLayer != true) == image.LayerIds.Length)
            return h.Select(e => new BuildHistory(e.Created ?? image.Created, e.CreatedBy ?? "", e.EmptyLayer == true, e.Comment)).ToList();
        return image.LayerIds.Select(_ => new BuildHistory(image.Created, "", false, image.Comment)).ToList();
    }

    ImageConfigFile? ReadFullConfig(string id)
    {
        var hex = ImageReference.HexOf(id);
        if (!IsHexId(hex)) return null;
        try { return JsonSerializer.Deserialize(File.ReadAllBytes(Path.Combine(_root, hex, "config.json")), ArchiveJsonContext.Default.ImageConfigFile); }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException or JsonException) { return null; }
    }

    /// <summary>The image an earlier build made for this cache key, if it is still stored whole.</summary>
    public ImageRecord? FindBuildCache(string cacheKey)
    {
        var path = Path.Combine(_root, "buildcache", CacheFileName(cacheKey));
        string id;
        try { id = File.ReadAllText(path).Trim(); }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException) { return null; }
        var hex = ImageReference.HexOf(id);
        if (!IsHexId(hex) || ReadConfig(hex) is not { } config || config.BuildCacheKey != cacheKey) return null;
        var image = Load(id, NameOf(id, ReadIndex()));
        // Every layer must still be there (a crash or a prune between may have taken one).
        return image is not null && image.Layers.All(Directory.Exists) ? image : null;
    }

    static string CacheFileName(string key) => Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(key)));

    /// <summary>One build step as an image: the parent's layers plus the upper dir as a new layer (none
    /// when UpperDir is null), with the step's whole config and history. Untagged (dangling) unless
    /// named later; its parent is the image of the step before.</summary>
    public ImageRecord CommitBuildStep(BuildCommit step)
    {
        ArgumentNullException.ThrowIfNull(step);
        string[] baseRefs = [];
        long baseSize = 0;
        if (step.ParentId is { } parentId)
        {
            var parentHex = ImageReference.HexOf(parentId);
            var parent = (IsHexId(parentHex) ? ReadConfig(parentHex) : null) ?? throw new ImageNotFoundException(parentId);
            baseRefs = parent.Layers ?? ["rootfs:" + parentHex];
            baseSize = parent.SizeBytes;
        }
        var work = NewWorkDir();
        try
        {
            string? layerDir = null, diffHex = null;
            long size = 0;
            if (step.UpperDir is not null)
            {
                if (!Directory.Exists(step.UpperDir)) throw new DirectoryNotFoundException($"{step.UpperDir}: the build step's upper dir is missing");
                (layerDir, diffHex, size) = MakeLayer(work, step.UpperDir, step.Userns);
            }
            var refs = diffHex is null ? baseRefs : baseRefs.Append("sha256:" + diffHex).ToArray();
            var c = step.Config;
            var env = c.Env.ToList();
            if (!env.Any(e => e.StartsWith("PATH=", StringComparison.Ordinal))) env.Insert(0, DefaultPath);
            var created = DateTimeOffset.UtcNow;
            var full = new ImageConfigFile
            {
                Architecture = System.Runtime.InteropServices.RuntimeInformation.OSArchitecture == System.Runtime.InteropServices.Architecture.Arm64 ? "arm64" : "amd64",
                Os = "linux",
                Created = created,
                Config = new ContainerDefaults
                {
                    Env = env,
                    Cmd = c.Cmd,
                    Entrypoint = c.Entrypoint,
                    WorkingDir = c.WorkingDir,
                    User = c.User.Length > 0 ? c.User : null,
                    ExposedPorts = c.ExposedPorts.Count > 0 ? c.ExposedPorts.ToDictionary(p => p, _ => EmptyJson()) : null,
                    Volumes = c.Volumes.Count > 0 ? c.Volumes.ToDictionary(p => p, _ => EmptyJson()) : null,
                    StopSignal = c.StopSignal,
                    Labels = c.Labels.Count > 0 ? new Dictionary<string, string>(c.Labels) : null,
                    Healthcheck = c.Healthcheck,
                    Shell = c.Shell,
                    OnBuild = c.OnBuild.Count > 0 ? c.OnBuild : null,
                },
                // diff ids are known only for sha256 layers; a rootfs layer (busybox, import) has none
                // here, and `save` then writes the rootfs section itself.
                Rootfs = refs.All(r => r.StartsWith("sha256:", StringComparison.Ordinal)) ? new RootfsSection { DiffIds = refs.ToList() } : null,
                History = step.History.Select(h => new HistoryEntry
                {
                    Created = h.Created, CreatedBy = h.CreatedBy, Comment = h.Comment, EmptyLayer = h.EmptyLayer ? true : null,
                }).ToList(),
            };
            var configBytes = JsonSerializer.SerializeToUtf8Bytes(full, ArchiveJsonContext.Default.ImageConfigFile);
            var id = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(configBytes));
            var config = new ImageConfig
            {
                Id = id,
                Env = env.ToArray(),
                Cmd = c.Cmd?.ToArray() ?? [],
                Entrypoint = c.Entrypoint is { Count: > 0 } ep ? ep.ToArray() : null,
                WorkingDir = c.WorkingDir.Length > 0 ? c.WorkingDir : "/",
                User = c.User,
                ExposedPorts = c.ExposedPorts.ToArray(),
                Volumes = c.Volumes.ToArray(),
                Created = created,
                SizeBytes = baseSize + size,
                Layers = refs,
                Parent = step.ParentId,
                BuildCacheKey = step.CacheKey,
            };
            lock (_gate)
            using (DirectoryLock.Acquire(_lockPath))
            {
                // The parent may have been removed meanwhile: its layers must still be there.
                foreach (var r in baseRefs)
                    if (!Directory.Exists(LayerPath(r))) throw new ImageNotFoundException(step.ParentId ?? "scratch");
                Directory.CreateDirectory(LayersDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                using (var fd = Fd.OpenDirectory(work))
                    if (Tmds.Linux.LibC.syncfs(fd.Value) != 0) throw Native.Error("syncfs", work);
                if (layerDir is not null) PublishLayer(layerDir, diffHex!, size);
                PublishImage(work, config, configBytes);
                if (step.CacheKey is { } key)
                {
                    var cacheDir = Path.Combine(_root, "buildcache");
                    Directory.CreateDirectory(cacheDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                    AtomicFile.Write(Path.Combine(cacheDir, CacheFileName(key)), System.Text.Encoding.ASCII.GetBytes(id));
                }
                AtomicFile.SyncDirectory(_root);
                return Load(id, NameOf(id, ReadIndex()))!;
            }
        }
        finally
        {
            RemoveTree(work);
        }
    }

    /// <summary>A private work dir for one build (context, step upper dirs) on the store's filesystem;
    /// the caller deletes it (a crash leaves it to the next start's stale-dir sweep).</summary>
    public string NewBuildDir() => NewWorkDir();

    /// <summary>A build context (tar, optionally gzip'd) unpacked into dir with the import's checks
    /// (no "..", absolute names, writes through symlinks, device nodes). Returns the content bytes.</summary>
    public long UnpackContext(Stream tar, string dir)
    {
        using var hashing = new HashingReadStream(tar, _options.MaxArchiveBytes);
        bool gzip = hashing.Peek(2) is [0x1f, 0x8b];
        using Stream input = gzip ? new System.IO.Compression.GZipStream(hashing, System.IO.Compression.CompressionMode.Decompress, leaveOpen: true) : hashing;
        try { return TarUnpacker.Unpack(input, dir, _options); }
        catch (InvalidDataException ex) when (gzip) { throw new UnsafeArchiveException($"build context is corrupt (gzip): {ex.Message}"); }
    }

    /// <summary>Deletes a directory tree made by <see cref="NewBuildDir"/> (links removed, never followed).</summary>
    public static void RemoveBuildDir(string dir) => RemoveTree(dir);

    static JsonElement EmptyJson() => JsonDocument.Parse("{}").RootElement;
}
