using System.Runtime.InteropServices;

namespace Gocker.Images.Registry;

/// <summary>One line of pull progress, as Docker's JSON messages carry it: Id is the layer's short
/// digest (or the tag for the first line), Current/Total bytes for "Downloading".</summary>
public sealed record PullProgress(string? Id, string Status, long? Current = null, long? Total = null);

public sealed record PullResult(ImageRecord Image, string Digest, bool Downloaded, string Name);

/// <summary>docker pull: resolves the manifest (an index is narrowed to the platform), fetches the config
/// and every layer not already stored (a bounded number at once, each verified while it streams and
/// unpacked as it arrives), then registers the image. All or nothing.</summary>
public sealed class ImagePuller(ImageStore store, RegistryClient client)
{
    const int MaxConfigBytes = 16 << 20;

    public static Platform HostPlatform() => new()
    {
        Os = "linux",
        Architecture = RuntimeInformation.OSArchitecture switch
        {
            Architecture.X64 => "amd64",
            Architecture.Arm64 => "arm64",
            Architecture.Arm => "arm",
            Architecture.X86 => "386",
            var other => other.ToString().ToLowerInvariant(),
        },
        Variant = RuntimeInformation.OSArchitecture == Architecture.Arm64 ? "v8" : null,
    };

    /// <summary>"linux/amd64", "linux/arm64/v8", "linux/arm/v7"; null or "": the host's.</summary>
    public static Platform ParsePlatform(string? text)
    {
        if (string.IsNullOrEmpty(text)) return HostPlatform();
        var parts = text.ToLowerInvariant().Split('/');
        if (parts.Length is < 2 or > 3 || parts.Any(p => p.Length == 0))
            throw new ArgumentException($"platform \"{text}\": use OS/ARCH[/VARIANT], e.g. linux/amd64");
        if (parts[0] != "linux") throw new ArgumentException($"platform \"{text}\": Gocker runs linux images only");
        return new Platform { Os = parts[0], Architecture = parts[1], Variant = parts.Length == 3 ? parts[2] : null };
    }

    public async Task<PullResult> PullAsync(RegistryReference r, Platform platform, Action<PullProgress>? progress, CancellationToken ct)
    {
        progress ??= _ => { };
        var top = await client.GetManifestAsync(r, r.ManifestReference, ct);
        progress(new PullProgress(r.Tag ?? r.Digest, $"Pulling from {r.Repository}"));
        var manifest = top;
        if (MediaTypes.IsIndex(top.MediaType))
        {
            var pick = PickPlatform(top.Document.Manifests ?? [], platform)
                       ?? throw new RegistryNotFoundException($"no matching manifest for {platform} in the manifest list entries of {r.FamiliarName}:{r.ManifestReference}");
            manifest = await client.GetManifestAsync(r, pick.Digest, ct);
            if (!MediaTypes.IsManifest(manifest.MediaType))
                throw new RegistryException($"{r.FamiliarName}: index entry {pick.Digest} is a {manifest.MediaType}, not an image manifest");
        }
        var doc = manifest.Document;
        if (doc.Config is null || doc.Layers is null) throw new RegistryException($"{r.FamiliarName}: manifest {manifest.Digest} has no config or layers");
        var configBytes = await client.GetSmallBlobAsync(r, doc.Config, MaxConfigBytes, ct);
        var configHex = doc.Config.Digest["sha256:".Length..];
        var diffIds = DiffIdsOf(configBytes, doc.Config.Digest);
        if (diffIds.Count != doc.Layers.Count)
            throw new RegistryException($"{r.FamiliarName}: config {doc.Config.Digest} lists {diffIds.Count} layers, the manifest {doc.Layers.Count}");
        // Docker's repo digest is the digest the tag points at (the index's for a multi-platform image).
        var repoDigest = r.FamiliarName + "@" + top.Digest;
        var name = r.StoreName;

        bool downloaded = false;
        bool ok = false;
        using var pins = store.PinLayers(diffIds);
        try
        {
            var existing = HaveImage(configHex);
            using var gate = new SemaphoreSlim(Math.Max(1, client.Options.MaxConcurrentDownloads));
            var tasks = new List<Task>();
            for (int i = 0; i < doc.Layers.Count; i++)
            {
                var layer = doc.Layers[i];
                var diff = diffIds[i];
                var id = Short(layer.Digest);
                if (store.HasLayer(diff)) { progress(new PullProgress(id, "Already exists")); continue; }
                progress(new PullProgress(id, "Pulling fs layer"));
                downloaded = true;
                tasks.Add(FetchLayer(r, layer, diff, id, gate, progress, ct));
            }
            try { await Task.WhenAll(tasks); }
            catch when (tasks.Count(t => t.IsFaulted) is var n && n > 0)
            {
                // The first failure says why (not an AggregateException of all of them).
                throw tasks.First(t => t.IsFaulted).Exception!.InnerException!;
            }
            var image = await Task.Run(() => store.AddPulledImage(configBytes, configHex, name, repoDigest), ct);
            ok = true;
            return new PullResult(image, top.Digest, downloaded || !existing, name ?? repoDigest);
        }
        finally
        {
            pins.Dispose();
            if (!ok) await Task.Run(store.RemoveUnusedLayers, CancellationToken.None);
        }
    }

    bool HaveImage(string configHex)
    {
        try { store.Resolve("sha256:" + configHex); return true; }
        catch (ImageNotFoundException) { return false; }
    }

    async Task FetchLayer(RegistryReference r, Descriptor layer, string diffHex, string id, SemaphoreSlim gate, Action<PullProgress> progress, CancellationToken ct)
    {
        async Task Fetch()
        {
            await gate.WaitAsync(ct);
            try
            {
                await Task.Run(() =>
                {
                    long done = 0, lastReport = -1;
                    var step = Math.Max(layer.Size / 100, 256 << 10);
                    using var blob = client.OpenBlob(r, layer, n =>
                    {
                        done += n;
                        if (done - lastReport >= step || done == layer.Size)
                        {
                            lastReport = done;
                            progress(new PullProgress(id, "Downloading", done, layer.Size));
                        }
                    }, ct);
                    store.AddLayerFromBlob(blob, diffHex, new LayerSource(r.Registry, r.Repository, layer.Digest, layer.Size, layer.MediaType ?? MediaTypes.OciLayerGzip));
                    progress(new PullProgress(id, "Verifying Checksum"));
                    progress(new PullProgress(id, "Download complete"));
                }, ct);
            }
            finally { gate.Release(); }
        }
        bool waited = false;
        try
        {
            await store.FetchLayerOnceAsync(diffHex, Fetch, () => { waited = true; progress(new PullProgress(id, "Waiting")); });
        }
        catch (Exception) when (waited && !ct.IsCancellationRequested)
        {
            // The other pull failed (or was cancelled): fetch it ourselves.
            if (!store.HasLayer(diffHex)) await Fetch();
        }
        if (waited && !store.HasLayer(diffHex)) await Fetch();
        progress(new PullProgress(id, "Pull complete"));
    }

    static string Short(string digest) => digest.StartsWith("sha256:", StringComparison.Ordinal) ? digest[7..19] : digest;

    static List<string> DiffIdsOf(byte[] config, string digest)
    {
        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(config);
            if (!doc.RootElement.TryGetProperty("rootfs", out var rootfs) || !rootfs.TryGetProperty("diff_ids", out var ids))
                throw new RegistryException($"config {digest}: no rootfs.diff_ids");
            var list = new List<string>();
            foreach (var e in ids.EnumerateArray())
            {
                var s = e.GetString() ?? "";
                if (!s.StartsWith("sha256:", StringComparison.Ordinal) || s.Length != 71 || !s[7..].All(c => c is >= '0' and <= '9' or >= 'a' and <= 'f'))
                    throw new RegistryException($"config {digest}: diff id \"{s}\" is not sha256: and 64 hex digits");
                list.Add(s[7..]);
            }
            return list;
        }
        catch (System.Text.Json.JsonException ex) { throw new RegistryException($"config {digest}: malformed JSON: {ex.Message}"); }
    }

    /// <summary>The index entry for the platform: os and architecture equal, the variant equal when asked
    /// (arm64's "v8" matches an entry without a variant, as containerd's matcher does).</summary>
    public static Descriptor? PickPlatform(IReadOnlyList<Descriptor> entries, Platform want)
    {
        bool VariantOk(string? have) =>
            string.IsNullOrEmpty(want.Variant) || want.Variant == have
            || (want.Architecture == "arm64" && want.Variant == "v8" && string.IsNullOrEmpty(have));
        var candidates = entries.Where(e => e.Platform is { } p && p.Os == want.Os && p.Architecture == want.Architecture && VariantOk(p.Variant)
                                            && MediaTypes.IsManifest(e.MediaType ?? MediaTypes.OciManifest)).ToList();
        return candidates.FirstOrDefault(e => e.Platform!.Variant == want.Variant) ?? candidates.FirstOrDefault();
    }
}
