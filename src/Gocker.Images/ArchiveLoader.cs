using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json;

namespace Gocker.Images;

/// <summary>An image found in an archive, its layers unpacked in the work dir and verified.</summary>
internal sealed record PendingImage(string IdHex, byte[] ConfigBytes, ImageConfigFile Config, IReadOnlyList<string> DiffHexes, IReadOnlyList<string> Names);

/// <summary>A verified layer: diff id (hex) and the work dir holding diff/ (null when already stored).</summary>
internal sealed record PendingLayer(string DiffHex, string WorkDir, long Size);

/// <summary>Reads a `docker save` archive or an OCI image layout (as a tar) in one streaming pass, so that
/// stdin works and nothing is spooled: every file that looks like a layer (tar, gzip or zstd) is unpacked
/// into the work dir as it streams by, hashed twice (the blob as stored, and the uncompressed tar = the
/// diff id); small JSON files are kept in memory. Then the manifests are read and every referenced digest
/// is checked against what was actually hashed: a layer or config whose content does not match its
/// digest refuses the whole load. Layers nothing refers to are discarded.</summary>
internal sealed class ArchiveLoader
{
    const long MaxJsonBytes = 16L << 20;

    sealed class Blob
    {
        public required string Path;
        public required string Digest;      // hex SHA-256 of the bytes as stored in the archive
        public byte[]? Json;
        public string? DiffHex;             // hex SHA-256 of the uncompressed layer tar
        public string? Dir;                 // work dir holding diff/
        public long Size;
        public string? Error;               // it looked like a layer but could not be unpacked
    }

    readonly ImageStoreOptions _options;
    readonly string _work;
    readonly Dictionary<string, Blob> _files = new(StringComparer.Ordinal);
    readonly Dictionary<string, string> _aliases = new(StringComparer.Ordinal);
    long _unpacked;
    int _blobs;

    ArchiveLoader(ImageStoreOptions options, string work)
    {
        _options = options;
        _work = work;
    }

    /// <summary>Reads the archive; returns the images and the layers they need (verified).</summary>
    public static (List<PendingImage> Images, List<PendingLayer> Layers) Read(Stream archive, string work, ImageStoreOptions options, Action<long>? progress)
    {
        var loader = new ArchiveLoader(options, work);
        using var outer = new HashingReadStream(archive, options.MaxArchiveBytes) { Progress = progress };
        bool gzip = outer.Peek(2) is [0x1f, 0x8b];
        Stream input = gzip ? new GZipStream(outer, CompressionMode.Decompress, leaveOpen: true) : outer;
        try
        {
            loader.Stream(input, outer);
        }
        catch (InvalidDataException ex) when (!outer.Failed)
        {
            throw new UnsafeArchiveException($"archive is corrupt: {ex.Message}");
        }
        finally
        {
            if (gzip) input.Dispose();
        }
        var images = loader._files.ContainsKey("manifest.json") ? loader.DockerImages()
            : loader._files.ContainsKey("index.json") ? loader.OciImages()
            : throw new UnsafeArchiveException("not a docker save archive or an OCI image layout: no manifest.json or index.json at its top");
        if (images.Count == 0) throw new UnsafeArchiveException("the archive holds no image");
        var layers = new Dictionary<string, PendingLayer>(StringComparer.Ordinal);
        foreach (var b in loader._files.Values)
            if (b.DiffHex is { } d && b.Dir is { } dir && images.Any(i => i.DiffHexes.Contains(d)))
                layers.TryAdd(d, new PendingLayer(d, dir, b.Size));
        return (images, layers.Values.ToList());
    }

    // ---- the streaming pass ----

    void Stream(Stream input, HashingReadStream outer)
    {
        using var reader = new TarReader(input, leaveOpen: true);
        string last = "(none: at the start)";
        while (true)
        {
            TarEntry? entry;
            try { entry = reader.GetNextEntry(copyData: false); }
            catch (Exception ex) when (ex is InvalidDataException or EndOfStreamException or FormatException or ArgumentException && !outer.Failed)
            {
                throw new UnsafeArchiveException($"archive is corrupt or truncated after entry {last}: {ex.Message}");
            }
            if (entry is null) break;
            last = entry.Name;
            if (entry.EntryType is TarEntryType.GlobalExtendedAttributes or TarEntryType.Directory) continue;
            var path = TarUnpacker.NormalizeName(entry.Name);
            if (_files.ContainsKey(path) || _aliases.ContainsKey(path))
                throw new UnsafeArchiveException($"entry {entry.Name}: duplicate entry (a second file with the same name)");
            switch (entry.EntryType)
            {
                case TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.ContiguousFile:
                    _files[path] = ReadFile(path, entry, outer);
                    break;
                case TarEntryType.SymbolicLink:
                    // Old docker save archives link repeated layers: "<id>/layer.tar -> ../<id2>/layer.tar".
                    var dir = path.Contains('/') ? path[..path.LastIndexOf('/')] : "";
                    _aliases[path] = entry.LinkName.StartsWith('/') ? entry.LinkName : (dir.Length > 0 ? dir + "/" : "") + entry.LinkName;
                    break;
                case TarEntryType.HardLink:
                    _aliases[path] = entry.LinkName;
                    break;
                default:
                    throw new UnsafeArchiveException($"entry {entry.Name}: unexpected {entry.EntryType} in an image archive");
            }
        }
    }

    Blob ReadFile(string path, TarEntry entry, HashingReadStream outer)
    {
        using var raw = new HashingReadStream(entry.DataStream ?? System.IO.Stream.Null, long.MaxValue);
        var head = raw.Peek(512).ToArray();
        var blob = new Blob { Path = path, Digest = "" };
        int first = Array.FindIndex(head, b => b is not ((byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t'));
        if (first >= 0 && head[first] is (byte)'{' or (byte)'[' && entry.Length <= MaxJsonBytes)
        {
            var ms = new MemoryStream();
            raw.CopyTo(ms);
            blob.Json = ms.ToArray();
        }
        else if (head.Length == 0 ? entry.Length == 0 && IsLayerPath(path) : LooksLikeLayer(head))
        {
            UnpackLayer(blob, raw, head, outer);
        }
        raw.Drain();
        blob.Digest = raw.Id()["sha256:".Length..];
        return blob;
    }

    /// <summary>An empty file where a layer goes is an empty layer (Go's tar reader takes it as one,
    /// and Gocker before this fix wrote such layers for commits without changes).</summary>
    static bool IsLayerPath(string path) =>
        path.EndsWith("/layer.tar", StringComparison.Ordinal) || path.StartsWith("blobs/sha256/", StringComparison.Ordinal);

    static bool LooksLikeLayer(byte[] head) =>
        head is [0x1f, 0x8b, ..] || ZstdStream.IsZstd(head)
        || (head.Length >= 262 && head.AsSpan(257, 5).SequenceEqual("ustar"u8))
        || (head.Length == 512 && head.All(b => b == 0)); // an empty layer is just the end-of-archive blocks

    void UnpackLayer(Blob blob, HashingReadStream raw, byte[] head, HashingReadStream outer)
    {
        var dir = Path.Combine(_work, "blobs", (_blobs++).ToString());
        var diff = Path.Combine(dir, "diff");
        Directory.CreateDirectory(diff);
        File.SetUnixFileMode(diff, (UnixFileMode)0b111_101_101);
        Stream? decompressed = null;
        try
        {
            decompressed = head is [0x1f, 0x8b, ..] ? new GZipStream(raw, CompressionMode.Decompress, leaveOpen: true)
                : ZstdStream.IsZstd(head) ? ZstdStream.Open(raw) : null;
            using var plain = new HashingReadStream(decompressed ?? raw, long.MaxValue);
            blob.Size = TarUnpacker.Unpack(plain, diff, _options, overlay: true, alreadyUnpacked: _unpacked);
            plain.Drain(); // the diff id covers the whole tar, padding included; gzip checks its CRC at the end
            blob.DiffHex = plain.Id()["sha256:".Length..];
            blob.Dir = dir;
            _unpacked += blob.Size;
        }
        catch (Exception ex) when (!outer.Failed && ex is UnsafeArchiveException or InvalidDataException or IOException or Gocker.Syscalls.SyscallException)
        {
            // Refused only if an image uses it (then with this message); a stray file is ignored.
            blob.Error = ex.Message;
            RemoveTree(dir);
        }
        finally
        {
            decompressed?.Dispose();
        }
    }

    static void RemoveTree(string dir)
    {
        try { Directory.Delete(dir, recursive: true); } catch (DirectoryNotFoundException) { }
    }

    // ---- after the pass: manifests and verification ----

    Blob Find(string path, string what)
    {
        var p = path;
        for (int hops = 0; hops < 16; hops++)
        {
            string norm;
            try { norm = NormalizeLexically(p); }
            catch (UnsafeArchiveException) { throw new UnsafeArchiveException($"{what} {path}: path escapes the archive"); }
            if (_files.TryGetValue(norm, out var b)) return b;
            if (!_aliases.TryGetValue(norm, out var next)) break;
            p = next;
        }
        throw new UnsafeArchiveException($"{what} {path} is missing from the archive");
    }

    /// <summary>"a/./b/../c" -> "a/c"; refuses climbing above the archive's top.</summary>
    static string NormalizeLexically(string path)
    {
        var parts = new List<string>();
        foreach (var part in path.Split('/'))
        {
            if (part is "" or ".") continue;
            if (part == "..")
            {
                if (parts.Count == 0) throw new UnsafeArchiveException("escapes");
                parts.RemoveAt(parts.Count - 1);
            }
            else parts.Add(part);
        }
        return string.Join('/', parts);
    }

    byte[] Json(string path, string what) =>
        Find(path, what).Json ?? throw new UnsafeArchiveException($"{what} {path} is not a JSON document");

    T Parse<T>(byte[] bytes, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, string what)
    {
        try { return JsonSerializer.Deserialize(bytes, type) ?? throw new UnsafeArchiveException($"{what}: empty (null)"); }
        catch (JsonException ex) { throw new UnsafeArchiveException($"{what}: malformed JSON: {ex.Message}"); }
    }

    List<PendingImage> DockerImages()
    {
        var manifest = Parse(Json("manifest.json", "manifest"), ArchiveJsonContext.Default.ListDockerManifestEntry, "manifest.json");
        var images = new List<PendingImage>();
        foreach (var m in manifest)
        {
            var config = Find(m.Config, "config");
            // Newer docker save names blobs by digest ("blobs/sha256/<hex>", "<hex>.json"): check the name.
            CheckNamedDigest(m.Config, config, "config");
            var layers = new List<Blob>();
            foreach (var l in m.Layers)
            {
                var b = Find(l, "layer");
                CheckNamedDigest(l, b, "layer");
                layers.Add(b);
            }
            images.Add(Image(config, layers, m.RepoTags ?? []));
        }
        return images;
    }

    List<PendingImage> OciImages()
    {
        if (!_files.ContainsKey("oci-layout")) throw new UnsafeArchiveException("index.json without oci-layout: not an OCI image layout");
        var index = Parse(Json("index.json", "index"), ArchiveJsonContext.Default.OciIndex, "index.json");
        var images = new List<PendingImage>();
        foreach (var d in index.Manifests)
        {
            var names = new List<string>();
            if (d.Annotations is { } a)
            {
                if (a.TryGetValue("io.containerd.image.name", out var full)) names.Add(full);
                else if (a.TryGetValue("org.opencontainers.image.ref.name", out var refName) && (refName.Contains(':') || refName.Contains('/')))
                    names.Add(refName);
            }
            var manifestDesc = PickManifest(d, 0);
            var manifest = Parse(BlobJson(manifestDesc, "manifest"), ArchiveJsonContext.Default.OciManifest, "manifest " + manifestDesc.Digest);
            var config = BlobFile(manifest.Config, "config");
            var layers = manifest.Layers.Select(l => BlobFile(l, "layer")).ToList();
            images.Add(Image(config, layers, names));
        }
        return images;
    }

    /// <summary>Follows image indexes (multi-platform) down to this machine's platform.</summary>
    OciDescriptor PickManifest(OciDescriptor d, int depth)
    {
        if (d.MediaType is not ("application/vnd.oci.image.index.v1+json" or "application/vnd.docker.distribution.manifest.list.v2+json"))
            return d;
        if (depth > 4) throw new UnsafeArchiveException("image indexes nested too deep");
        var nested = Parse(BlobJson(d, "index"), ArchiveJsonContext.Default.OciIndex, "index " + d.Digest);
        var arch = System.Runtime.InteropServices.RuntimeInformation.OSArchitecture switch
        {
            System.Runtime.InteropServices.Architecture.Arm64 => "arm64",
            System.Runtime.InteropServices.Architecture.X64 => "amd64",
            var other => other.ToString().ToLowerInvariant(),
        };
        var pick = nested.Manifests.FirstOrDefault(m => m.Platform is { Os: "linux" } p && p.Architecture == arch)
                   ?? throw new UnsafeArchiveException($"index {d.Digest}: no image for linux/{arch}");
        return PickManifest(pick, depth + 1);
    }

    Blob BlobFile(OciDescriptor d, string what)
    {
        var hex = DigestHex(d.Digest, what);
        var b = Find("blobs/sha256/" + hex, what);
        if (b.Digest != hex) throw Mismatch(what, b.Path, hex, b.Digest);
        return b;
    }

    byte[] BlobJson(OciDescriptor d, string what) =>
        BlobFile(d, what).Json ?? throw new UnsafeArchiveException($"{what} {d.Digest} is not a JSON document");

    static string DigestHex(string digest, string what)
    {
        if (!digest.StartsWith("sha256:", StringComparison.Ordinal))
            throw new UnsafeArchiveException($"{what} digest {digest}: only sha256 digests are supported");
        var hex = digest["sha256:".Length..];
        if (hex.Length != 64 || !hex.All(c => c is >= '0' and <= '9' or >= 'a' and <= 'f'))
            throw new UnsafeArchiveException($"{what} digest {digest}: not 64 lowercase hex digits");
        return hex;
    }

    static void CheckNamedDigest(string path, Blob b, string what)
    {
        var leaf = Path.GetFileName(path);
        if (leaf.EndsWith(".json", StringComparison.Ordinal)) leaf = leaf[..^5];
        bool digestNamed = path.StartsWith("blobs/sha256/", StringComparison.Ordinal) || (what == "config" && leaf.Length == 64);
        if (digestNamed && leaf != b.Digest) throw Mismatch(what, path, leaf, b.Digest);
    }

    static UnsafeArchiveException Mismatch(string what, string path, string expected, string actual) =>
        new($"{what} {path}: digest mismatch: expected sha256:{expected}, content is sha256:{actual}");

    PendingImage Image(Blob configBlob, List<Blob> layers, IEnumerable<string> names)
    {
        var bytes = configBlob.Json ?? throw new UnsafeArchiveException($"config {configBlob.Path} is not a JSON document");
        var config = Parse(bytes, ArchiveJsonContext.Default.ImageConfigFile, "config " + configBlob.Path);
        var diffIds = config.Rootfs?.DiffIds ?? [];
        if (diffIds.Count != layers.Count)
            throw new UnsafeArchiveException($"config {configBlob.Path}: lists {diffIds.Count} layers (rootfs.diff_ids), the manifest {layers.Count}");
        var hexes = new List<string>();
        for (int i = 0; i < layers.Count; i++)
        {
            var l = layers[i];
            if (l.Error is not null) throw new UnsafeArchiveException($"layer {l.Path}: {l.Error}");
            if (l.DiffHex is null) throw new UnsafeArchiveException($"layer {l.Path}: not a tar archive (nor gzip/zstd-compressed tar)");
            var expected = DigestHex(diffIds[i], "layer");
            if (l.DiffHex != expected) throw Mismatch("layer", l.Path, expected, l.DiffHex);
            hexes.Add(expected);
        }
        var id = Convert.ToHexStringLower(SHA256.HashData(bytes));
        var valid = new List<string>();
        foreach (var n in names)
        {
            if (!ImageReference.TryNormalize(n, out var norm, out var reason))
                throw new UnsafeArchiveException($"image name {n}: {reason}");
            valid.Add(norm);
        }
        return new PendingImage(id, bytes, config, hexes, valid);
    }
}
