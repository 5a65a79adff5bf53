using Gocker.Syscalls.IO;
using System.Security.Cryptography;
using System.Text.Json;

namespace Gocker.Images;

// Layered images: load (docker save / OCI), commit, tag, delete with layer garbage collection, prune.
public sealed partial class ImageStore
{
    const string DefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    string LayersDir => Path.Combine(_root, "layers");

    /// <summary>"sha256:&lt;hex&gt;" -> layers/&lt;hex&gt;/diff; "rootfs:&lt;hex&gt;" -> &lt;hex&gt;/rootfs.</summary>
    string LayerPath(string reference)
    {
        int colon = reference.IndexOf(':');
        var (kind, hex) = colon < 0 ? ("", reference) : (reference[..colon], reference[(colon + 1)..]);
        // Never build a path from a malformed (tampered) image.json value.
        if (!IsHexId(hex)) throw new InvalidDataException($"image store: malformed layer reference {reference}");
        return kind switch
        {
            "sha256" => Path.Combine(LayersDir, hex, "diff"),
            "rootfs" => Path.Combine(_root, hex, "rootfs"),
            _ => throw new InvalidDataException($"image store: malformed layer reference {reference}"),
        };
    }

    ImageConfig? ReadConfig(string hex)
    {
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllBytes(Path.Combine(_root, hex, "image.json")), ImageJsonContext.Default.ImageConfig);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException) { return null; }
    }

    public IReadOnlyList<string> NamesOf(string id) =>
        ReadIndex().Repositories.Where(kv => kv.Value == id).Select(kv => kv.Key).ToList();

    // ---- load ----

    public IReadOnlyList<ImageRecord> LoadArchive(Stream archive, Action<long>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(archive);
        var work = NewWorkDir();
        try
        {
            var (images, layers) = ArchiveLoader.Read(archive, work, _options, progress);
            lock (_gate)
            using (DirectoryLock.Acquire(_lockPath))
            {
                Directory.CreateDirectory(LayersDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                using (var fd = Fd.OpenDirectory(work))
                    if (Tmds.Linux.LibC.syncfs(fd.Value) != 0) throw Native.Error("syncfs", work);
                foreach (var l in layers) PublishLayer(l.WorkDir, l.DiffHex, l.Size);
                var result = new List<ImageRecord>();
                var index = ReadIndex();
                foreach (var img in images)
                {
                    var config = ToImageConfig(img);
                    PublishImage(work, config, img.ConfigBytes);
                    foreach (var n in img.Names) index.Repositories[n] = config.Id;
                }
                WriteIndex(index);
                AtomicFile.SyncDirectory(_root);
                foreach (var img in images)
                    result.Add(Load("sha256:" + img.IdHex, img.Names.FirstOrDefault() ?? NameOf("sha256:" + img.IdHex, index))!);
                return result;
            }
        }
        finally
        {
            RemoveTree(work);
        }
    }

    ImageConfig ToImageConfig(PendingImage img)
    {
        var c = img.Config.Config ?? new ContainerDefaults();
        var env = c.Env ?? [];
        // As docker does: a container without PATH gets the default one.
        if (!env.Any(e => e.StartsWith("PATH=", StringComparison.Ordinal))) env = [DefaultPath, .. env];
        long size = 0;
        foreach (var d in img.DiffHexes) size += ReadLayerInfo(d)?.Size ?? 0;
        return new ImageConfig
        {
            Id = "sha256:" + img.IdHex,
            Env = env.ToArray(),
            Cmd = c.Cmd?.ToArray() ?? [],
            Entrypoint = c.Entrypoint is { Count: > 0 } ep ? ep.ToArray() : null,
            WorkingDir = string.IsNullOrEmpty(c.WorkingDir) ? "/" : c.WorkingDir,
            User = c.User ?? "",
            ExposedPorts = c.ExposedPorts?.Keys.Order(StringComparer.Ordinal).ToArray() ?? [],
            Volumes = c.Volumes?.Keys.Order(StringComparer.Ordinal).ToArray() ?? [],
            Created = img.Config.Created ?? DateTimeOffset.UnixEpoch,
            SizeBytes = size,
            Layers = img.DiffHexes.Select(h => "sha256:" + h).ToArray(),
            Comment = img.Config.Comment,
            Author = img.Config.Author,
        };
    }

    public long LayerSize(string layerId)
    {
        var colon = layerId.IndexOf(':');
        var hex = colon < 0 ? "" : layerId[(colon + 1)..];
        // Never build a path from anything but a 64-hex id.
        if (!IsHexId(hex)) return -1;
        if (layerId.StartsWith("sha256:", StringComparison.Ordinal)) return ReadLayerInfo(hex)?.Size ?? -1;
        // "rootfs:HEX": the single-directory image's own rootfs, whose size is that image's.
        if (layerId.StartsWith("rootfs:", StringComparison.Ordinal))
        {
            var own = Load("sha256:" + hex, DanglingName);
            return own is not null && own.LayerIds is [var only] && only == layerId ? own.SizeBytes : -1;
        }
        return -1;
    }

    LayerInfo? ReadLayerInfo(string hex)
    {
        try { return JsonSerializer.Deserialize(File.ReadAllBytes(Path.Combine(LayersDir, hex, "layer.json")), ImageJsonContext.Default.LayerInfo); }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException) { return null; }
    }

    /// <summary>Moves a work dir holding diff/ into layers/ unless that layer is already stored
    /// (the same digest is the same content: keep the one running containers may be using).
    /// Callers hold both locks and have synced the work dir.</summary>
    void PublishLayer(string workDir, string hex, long size)
    {
        var final = Path.Combine(LayersDir, hex);
        if (Directory.Exists(final)) return;
        File.WriteAllBytes(Path.Combine(workDir, "layer.json"),
            JsonSerializer.SerializeToUtf8Bytes(new LayerInfo { DiffId = "sha256:" + hex, Size = size }, ImageJsonContext.Default.LayerInfo));
        Directory.Move(workDir, final);
        AtomicFile.SyncDirectory(LayersDir);
    }

    void PublishImage(string work, ImageConfig config, byte[]? configJson)
    {
        var hex = ImageReference.HexOf(config.Id);
        var final = Path.Combine(_root, hex);
        if (File.Exists(Path.Combine(final, "image.json"))) return;
        var dir = Path.Combine(work, "image-" + hex);
        Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        if (configJson is not null) File.WriteAllBytes(Path.Combine(dir, "config.json"), configJson);
        AtomicFile.Write(Path.Combine(dir, "image.json"), JsonSerializer.SerializeToUtf8Bytes(config, ImageJsonContext.Default.ImageConfig));
        if (Directory.Exists(final))
        {
            // A single-dir image kept only as another image's layer gets its metadata back.
            foreach (var f in Directory.GetFiles(dir)) File.Move(f, Path.Combine(final, Path.GetFileName(f)));
            RemoveTree(dir);
        }
        else Directory.Move(dir, final);
    }

    // ---- commit ----

    public ImageRecord CommitContainer(ContainerCommit commit)
    {
        ArgumentNullException.ThrowIfNull(commit);
        var name = commit.Name is { Length: > 0 } n ? ImageReference.Normalize(n) : null;
        var baseHex = ImageReference.HexOf(commit.BaseImageId);
        var baseConfig = (IsHexId(baseHex) ? ReadConfig(baseHex) : null)
                         ?? throw new ImageNotFoundException(commit.BaseImageId);
        if (!Directory.Exists(commit.UpperDir)) throw new DirectoryNotFoundException($"{commit.UpperDir}: the container's upper dir is missing");
        var work = NewWorkDir();
        try
        {
            var (layerDir, diffHex, size) = MakeLayer(work, commit.UpperDir, commit.Userns);
            var baseRefs = baseConfig.Layers ?? ["rootfs:" + baseHex];
            var refs = baseRefs.Append("sha256:" + diffHex).ToArray();
            // Docker keeps the entrypoint out of Cmd: the container's args start with it.
            var ep = baseConfig.Entrypoint;
            var cmd = ep is { Length: > 0 } && commit.Args.Take(ep.Length).SequenceEqual(ep) ? commit.Args[ep.Length..] : commit.Args;
            if (ep is { Length: > 0 } && cmd == commit.Args) ep = null;
            var created = DateTimeOffset.UtcNow;
            var config = new ImageConfig
            {
                Id = "",
                Env = commit.Env,
                Cmd = cmd,
                Entrypoint = ep,
                WorkingDir = commit.WorkingDir,
                User = baseConfig.User,
                ExposedPorts = baseConfig.ExposedPorts,
                Volumes = baseConfig.Volumes,
                Created = created,
                SizeBytes = baseConfig.SizeBytes + size,
                Layers = refs,
                Parent = "sha256:" + baseHex,
                Comment = commit.Comment,
                Author = commit.Author,
            };
            // The id: a digest of everything that makes the image (layers, config, time), like docker's config digest.
            var id = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(JsonSerializer.SerializeToUtf8Bytes(config, ImageJsonContext.Default.ImageConfig)));
            config = config with { Id = id };
            lock (_gate)
            using (DirectoryLock.Acquire(_lockPath))
            {
                // The base may have been removed meanwhile: its layers must still be there.
                foreach (var r in baseRefs)
                    if (!Directory.Exists(LayerPath(r))) throw new ImageNotFoundException(commit.BaseImageId);
                Directory.CreateDirectory(LayersDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                using (var fd = Fd.OpenDirectory(work))
                    if (Tmds.Linux.LibC.syncfs(fd.Value) != 0) throw Native.Error("syncfs", work);
                PublishLayer(layerDir, diffHex, size);
                PublishImage(work, config, null);
                var index = ReadIndex();
                if (name is not null) index.Repositories[name] = id;
                WriteIndex(index);
                AtomicFile.SyncDirectory(_root);
                return Load(id, name ?? NameOf(id, index))!;
            }
        }
        finally
        {
            RemoveTree(work);
        }
    }

    /// <summary>The upper dir as a layer in work/layer/diff: tarred (whiteouts -> .wh. entries), then
    /// unpacked with the same checks as any loaded layer: the upper dir is the container's to write,
    /// so it is untrusted input.</summary>
    (string LayerDir, string DiffHex, long Size) MakeLayer(string work, string upperDir, Gocker.Syscalls.Security.IdMap? userns)
    {
        var tarPath = Path.Combine(work, "layer.tar");
        string diffHex;
        using (var file = new FileStream(tarPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
        using (var hashing = new HashingWriteStream(file))
        {
            using (var writer = new TreeTarWriter(hashing, upperIds: userns)) writer.WriteLayer(upperDir);
            diffHex = hashing.Hex();
        }
        var layerDir = Path.Combine(work, "layer");
        var diff = Path.Combine(layerDir, "diff");
        Directory.CreateDirectory(diff);
        File.SetUnixFileMode(diff, (UnixFileMode)0b111_101_101);
        long size;
        using (var tar = new FileStream(tarPath, FileMode.Open, FileAccess.Read, FileShare.None, 1 << 16))
            size = TarUnpacker.Unpack(tar, diff, _options, overlay: true);
        File.Delete(tarPath);
        return (layerDir, diffHex, size);
    }

    // ---- names, delete, prune ----

    public ImageRecord Tag(string source, string target)
    {
        var image = Resolve(source);
        var name = ImageReference.Normalize(target);
        lock (_gate)
        using (DirectoryLock.Acquire(_lockPath))
        {
            if (ReadConfig(ImageReference.HexOf(image.Id)) is null) throw new ImageNotFoundException(source);
            var index = ReadIndex();
            index.Repositories[name] = image.Id;
            WriteIndex(index);
        }
        return image with { Name = name };
    }

    public ImageRemoval Delete(string reference, bool untagOnly)
    {
        ArgumentNullException.ThrowIfNull(reference);
        if (reference.Contains('@')) return DeleteByDigest(reference, untagOnly);
        lock (_gate)
        using (DirectoryLock.Acquire(_lockPath))
        {
            var index = ReadIndex();
            bool isName = ImageReference.TryNormalize(reference, out var name, out var reason);
            string id;
            var untagged = new List<string>();
            if (isName && index.Repositories.TryGetValue(name, out var named))
            {
                id = named;
                index.Repositories.Remove(name);
                untagged.Add(name);
            }
            else if (ImageReference.LooksLikeId(reference) && FindByIdPrefix(reference) is { } hex)
            {
                id = "sha256:" + hex;
                if (untagOnly) throw new ArgumentException($"image {reference} is in use: remove it by name to untag it, or stop and remove its containers first");
                foreach (var n in index.Repositories.Where(kv => kv.Value == id).Select(kv => kv.Key).ToList())
                {
                    index.Repositories.Remove(n);
                    untagged.Add(n);
                }
            }
            else if (!isName) throw new InvalidImageNameException(reference, reason);
            else throw new ImageNotFoundException(reference);

            WriteIndex(index);
            var deleted = new List<string>();
            if (!untagOnly && !index.Repositories.ContainsValue(id))
            {
                DeleteImageDir(ImageReference.HexOf(id));
                deleted.Add(id);
            }
            return new ImageRemoval(untagged, deleted);
        }
    }

    public IReadOnlyList<ImageRemoval> Prune(IReadOnlySet<string> inUse, bool all)
    {
        var result = new List<ImageRemoval>();
        foreach (var image in List())
        {
            if (inUse.Contains(image.Id)) continue;
            if (image.Name != DanglingName && !all) continue;
            // A dangling image another image was committed from stays until that one goes (it is its parent).
            try { result.Add(Delete(image.Name != DanglingName ? image.Name : image.Id, untagOnly: false)); }
            catch (ImageNotFoundException) { } // removed meanwhile
        }
        return result;
    }

    /// <summary>Deletes layers and kept image dirs that no image refers to. Callers hold both locks.
    /// Images a container uses are never deleted (the API checks), so their layers stay referenced.</summary>
    void CollectGarbage()
    {
        var referenced = new HashSet<string>(StringComparer.Ordinal);
        var kept = new List<string>();
        foreach (var dir in Directory.EnumerateDirectories(_root))
        {
            var hex = Path.GetFileName(dir);
            if (!IsHexId(hex)) continue;
            if (ReadConfig(hex) is { } c) foreach (var r in c.Layers ?? ["rootfs:" + hex]) referenced.Add(r);
            else kept.Add(hex);
        }
        foreach (var hex in kept)
            if (!referenced.Contains("rootfs:" + hex)) DeleteTree(Path.Combine(_root, hex), hex);
        if (!Directory.Exists(LayersDir)) return;
        foreach (var dir in Directory.EnumerateDirectories(LayersDir))
        {
            var hex = Path.GetFileName(dir);
            // A layer a pull in progress has fetched (or found present) stays for the image it will make.
            if (IsHexId(hex) && !referenced.Contains("sha256:" + hex) && !IsPinned(hex)) DeleteTree(dir, hex);
        }
    }
}
