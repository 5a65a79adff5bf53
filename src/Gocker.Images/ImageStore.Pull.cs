using Gocker.Syscalls.IO;
using System.Collections.Concurrent;
using System.IO.Compression;
using System.Text.Json;

namespace Gocker.Images;

// What a registry pull (Registry/ImagePuller.cs) needs from the store: layers fetched once however many
// pulls want them, kept (pinned) while the pull that wants them runs, and the image published only
// when every layer is in place: a pull that fails leaves no image and, after it, no layer nobody uses.
/// <summary>A registry blob a layer was pulled from or pushed as.</summary>
public sealed record LayerSource(string Registry, string Repository, string Digest, long Size, string MediaType);

public sealed partial class ImageStore
{
    readonly ConcurrentDictionary<string, Lazy<Task>> _layerFetches = new(StringComparer.Ordinal);
    readonly Dictionary<string, int> _pins = new(StringComparer.Ordinal);

    bool IsPinned(string hex) { lock (_pins) return _pins.ContainsKey(hex); }

    /// <summary>Keeps the layers from garbage collection until the returned handle is disposed.</summary>
    internal IDisposable PinLayers(IEnumerable<string> diffHexes)
    {
        var list = diffHexes.Distinct(StringComparer.Ordinal).ToList();
        lock (_pins) foreach (var h in list) _pins[h] = _pins.GetValueOrDefault(h) + 1;
        return new Unpin(this, list);
    }

    sealed class Unpin(ImageStore store, List<string> hexes) : IDisposable
    {
        int _done;
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) != 0) return;
            lock (store._pins)
                foreach (var h in hexes)
                    if (--store._pins[h] == 0) store._pins.Remove(h);
        }
    }

    /// <summary>True if the layer with this diff id (hex) is stored.</summary>
    internal bool HasLayer(string diffHex) => IsHexId(diffHex) && File.Exists(Path.Combine(LayersDir, diffHex, "layer.json"));

    /// <summary>Runs fetch for a layer unless another pull is fetching it already, in which case this
    /// waits for that one (two pulls of one image download each layer once). Returns true if this call ran fetch.</summary>
    internal async Task<bool> FetchLayerOnceAsync(string diffHex, Func<Task> fetch, Action? waiting = null)
    {
        var mine = new Lazy<Task>(fetch, LazyThreadSafetyMode.ExecutionAndPublication);
        var running = _layerFetches.GetOrAdd(diffHex, mine);
        try
        {
            if (!ReferenceEquals(running, mine)) waiting?.Invoke();
            await running.Value;
            return ReferenceEquals(running, mine);
        }
        finally
        {
            if (ReferenceEquals(running, mine)) _layerFetches.TryRemove(new KeyValuePair<string, Lazy<Task>>(diffHex, mine));
        }
    }

    /// <summary>Unpacks a layer blob (gzip, zstd or plain tar, told apart by their first bytes) as it
    /// streams, with load's safety rules, into a new work dir; checks its diff id; publishes it into
    /// layers/. The blob stream throws if its own digest is wrong: then the work dir goes and nothing stays.</summary>
    internal void AddLayerFromBlob(Stream blob, string expectedDiffHex, LayerSource? source = null)
    {
        var work = NewWorkDir();
        try
        {
            var diff = Path.Combine(work, "diff");
            Directory.CreateDirectory(diff);
            File.SetUnixFileMode(diff, (UnixFileMode)0b111_101_101);
            using var raw = new HashingReadStream(blob, long.MaxValue);
            var head = raw.Peek(4).ToArray();
            Stream? decompressed = head is [0x1f, 0x8b, ..] ? new GZipStream(raw, CompressionMode.Decompress, leaveOpen: true)
                : ZstdStream.IsZstd(head) ? ZstdStream.Open(raw) : null;
            long size;
            string diffHex;
            try
            {
                using var plain = new HashingReadStream(decompressed ?? raw, long.MaxValue);
                size = TarUnpacker.Unpack(plain, diff, _options, overlay: true);
                plain.Drain(); // the diff id covers the whole tar; gzip checks its CRC at its end
                diffHex = plain.Id()["sha256:".Length..];
            }
            catch (InvalidDataException ex)
            {
                throw new UnsafeArchiveException($"layer sha256:{expectedDiffHex}: corrupt: {ex.Message}");
            }
            finally
            {
                decompressed?.Dispose();
            }
            raw.Drain(); // to the blob's end: its digest is checked there
            if (diffHex != expectedDiffHex)
                throw new UnsafeArchiveException($"layer sha256:{expectedDiffHex}: its uncompressed content is sha256:{diffHex}, not the diff id the image config names: refused");
            lock (_gate)
            using (DirectoryLock.Acquire(_lockPath))
            {
                Directory.CreateDirectory(LayersDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                using (var fd = Fd.OpenDirectory(work))
                    if (Tmds.Linux.LibC.syncfs(fd.Value) != 0) throw Native.Error("syncfs", work);
                // Where the compressed blob came from: a push to that registry finds it there (HEAD or mount).
                if (source is not null)
                    File.WriteAllBytes(Path.Combine(work, "sources.json"), JsonSerializer.SerializeToUtf8Bytes(new List<LayerSource> { source }, ImageJsonContext.Default.ListLayerSource));
                PublishLayer(work, diffHex, size);
            }
        }
        finally
        {
            RemoveTree(work);
        }
    }

    /// <summary>The registry blobs a stored layer is known to be (from pulls and pushes).</summary>
    internal IReadOnlyList<LayerSource> LayerSources(string diffHex)
    {
        if (!IsHexId(diffHex)) return [];
        try { return JsonSerializer.Deserialize(File.ReadAllBytes(Path.Combine(LayersDir, diffHex, "sources.json")), ImageJsonContext.Default.ListLayerSource) ?? []; }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException or JsonException) { return []; }
    }

    internal void AddLayerSource(string diffHex, LayerSource source)
    {
        if (!IsHexId(diffHex)) return;
        lock (_gate)
        using (DirectoryLock.Acquire(_lockPath))
        {
            var dir = Path.Combine(LayersDir, diffHex);
            if (!Directory.Exists(dir)) return;
            var list = LayerSources(diffHex).Where(s => s != source).Append(source).TakeLast(16).ToList();
            AtomicFile.Write(Path.Combine(dir, "sources.json"), JsonSerializer.SerializeToUtf8Bytes(list, ImageJsonContext.Default.ListLayerSource));
        }
    }

    /// <summary>The layer dir of a layer reference ("sha256:DIFF" or "rootfs:HEX").</summary>
    internal string LayerDirOf(string layerId) => LayerPath(layerId);

    /// <summary>The image config to push with these layer diff ids (byte for byte the pulled one when they match).</summary>
    internal byte[] ConfigForPush(ImageRecord image, List<string> diffHexes) => SavedConfig(image, diffHexes);

    internal string NewTempDir() => NewWorkDir();

    internal static void RemoveTempDir(string dir) => RemoveTree(dir);

    internal void RecordRepoDigest(string imageId, string repoDigest)
    {
        var hex = ImageReference.HexOf(imageId);
        if (!IsHexId(hex)) return;
        lock (_gate)
        using (DirectoryLock.Acquire(_lockPath))
            if (Directory.Exists(Path.Combine(_root, hex))) AddRepoDigest(hex, repoDigest);
    }

    /// <summary>Registers a pulled image whose layers are all stored: its config as the registry sent it
    /// (its SHA-256 is the id), the name (null for a pull by digest) and the repo digest (name@sha256:...).</summary>
    internal ImageRecord AddPulledImage(byte[] configBytes, string configHex, string? name, string repoDigest)
    {
        ImageConfigFile parsed;
        try { parsed = JsonSerializer.Deserialize(configBytes, ArchiveJsonContext.Default.ImageConfigFile) ?? throw new JsonException("null"); }
        catch (JsonException ex) { throw new UnsafeArchiveException($"image config sha256:{configHex}: malformed JSON: {ex.Message}"); }
        var diffHexes = (parsed.Rootfs?.DiffIds ?? []).Select(d => d.StartsWith("sha256:", StringComparison.Ordinal) ? d[7..] : d).ToList();
        var work = NewWorkDir();
        try
        {
            lock (_gate)
            using (DirectoryLock.Acquire(_lockPath))
            {
                foreach (var d in diffHexes)
                    if (!HasLayer(d)) throw new IOException($"layer sha256:{d} of image sha256:{configHex} is not stored (removed meanwhile?): pull again");
                var config = ToImageConfig(new PendingImage(configHex, configBytes, parsed, diffHexes, name is null ? [] : [name]));
                PublishImage(work, config, configBytes);
                AddRepoDigest(configHex, repoDigest);
                var index = ReadIndex();
                if (name is not null) index.Repositories[name] = config.Id;
                WriteIndex(index);
                AtomicFile.SyncDirectory(_root);
                return Load(config.Id, name ?? NameOf(config.Id, index))!;
            }
        }
        finally
        {
            RemoveTree(work);
        }
    }

    /// <summary>After a failed pull: layers no image uses and no other pull holds are removed.</summary>
    internal void RemoveUnusedLayers()
    {
        lock (_gate)
        using (DirectoryLock.Acquire(_lockPath))
            CollectGarbage();
    }

    // ---- repo digests: <hex>/repo-digests.json, ["name@sha256:..."] (docker's RepoDigests) ----

    void AddRepoDigest(string hex, string repoDigest)
    {
        var list = ReadRepoDigests(Path.Combine(_root, hex)).ToList();
        var repo = repoDigest[..repoDigest.IndexOf('@')];
        // One digest per repository, as docker keeps it: the newest pull's.
        list.RemoveAll(d => d.StartsWith(repo + "@", StringComparison.Ordinal));
        list.Add(repoDigest);
        AtomicFile.Write(Path.Combine(_root, hex, "repo-digests.json"), JsonSerializer.SerializeToUtf8Bytes(list, ImageJsonContext.Default.ListString));
    }

    static string[] ReadRepoDigests(string imageDir)
    {
        // Read on every image resolve (each create): most images were never pulled, and a thrown
        // FileNotFoundException per start costs more than the stat.
        var path = Path.Combine(imageDir, "repo-digests.json");
        if (!File.Exists(path)) return [];
        try { return JsonSerializer.Deserialize(File.ReadAllBytes(path), ImageJsonContext.Default.ListString)?.ToArray() ?? []; }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException or JsonException) { return []; }
    }

    /// <summary>rmi NAME@sha256:...: the repo digest goes (docker's "Untagged: name@digest"), and the
    /// image too once no name or repo digest refers to it.</summary>
    ImageRemoval DeleteByDigest(string reference, bool untagOnly)
    {
        var r = Registry.RegistryReference.Parse(reference);
        var want = r.FamiliarName + "@" + r.Digest;
        lock (_gate)
        using (DirectoryLock.Acquire(_lockPath))
        {
            var image = ResolveDigest(r.FamiliarName, r.Digest!) ?? throw new ImageNotFoundException(reference);
            var hex = ImageReference.HexOf(image.Id);
            var left = image.RepoDigests.Where(d => d != want).ToList();
            AtomicFile.Write(Path.Combine(_root, hex, "repo-digests.json"), JsonSerializer.SerializeToUtf8Bytes(left, ImageJsonContext.Default.ListString));
            var deleted = new List<string>();
            if (!untagOnly && left.Count == 0 && !ReadIndex().Repositories.ContainsValue(image.Id))
            {
                DeleteImageDir(hex);
                deleted.Add(image.Id);
            }
            return new ImageRemoval([want], deleted);
        }
    }

    /// <summary>The image a "name@sha256:..." reference was pulled as (null if none here).</summary>
    ImageRecord? ResolveDigest(string familiarName, string digest)
    {
        var want = familiarName + "@" + digest;
        foreach (var dir in Directory.EnumerateDirectories(_root))
        {
            var hex = Path.GetFileName(dir);
            if (IsHexId(hex) && ReadRepoDigests(dir).Contains(want))
                return Load("sha256:" + hex, NameOf("sha256:" + hex, ReadIndex()));
        }
        return null;
    }
}
