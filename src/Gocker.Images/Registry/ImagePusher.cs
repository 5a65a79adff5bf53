using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Gocker.Images.Registry;

public sealed record PushResult(string Digest, long Size);

/// <summary>docker push: each layer is first looked for on the registry (HEAD of a blob it is known to
/// be, then a cross-repository mount from the repository it was pulled from); only missing ones are
/// compressed (gzip, deterministic) and uploaded in one PUT (monolithic upload). Then the config and the
/// manifest (Docker v2 schema 2, or OCI when a reused blob is OCI-typed).</summary>
public sealed class ImagePusher(ImageStore store, RegistryClient client)
{
    sealed record PushedLayer(string DiffHex, string Digest, long Size, string MediaType);

    public async Task<PushResult> PushAsync(RegistryReference r, ImageRecord image, Action<PullProgress>? progress, CancellationToken ct)
    {
        progress ??= _ => { };
        progress(new PullProgress(null, $"The push refers to repository [{r.Registry}/{r.Repository}]"));
        var refs = image.LayerIds.Length > 0 ? image.LayerIds : image.Layers.Reverse().ToArray();
        var results = new PushedLayer[refs.Length];
        using var gate = new SemaphoreSlim(Math.Max(1, client.Options.MaxConcurrentUploads));
        var tasks = refs.Select((layerId, i) => Task.Run(async () =>
        {
            await gate.WaitAsync(ct);
            try { results[i] = await PushLayer(r, layerId, progress, ct); }
            finally { gate.Release(); }
        }, ct)).ToList();
        try { await Task.WhenAll(tasks); }
        catch when (tasks.Any(t => t.IsFaulted)) { throw tasks.First(t => t.IsFaulted).Exception!.InnerException!; }

        var configBytes = store.ConfigForPush(image, results.Select(l => l.DiffHex).ToList());
        var configDigest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(configBytes));
        bool oci = results.Any(l => l.MediaType.StartsWith("application/vnd.oci.", StringComparison.Ordinal));
        if (!await BlobExists(r, configDigest, ct))
            await Upload(r, configDigest, configBytes.Length, () => new MemoryStream(configBytes), null, ct);
        var manifest = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = oci ? MediaTypes.OciManifest : MediaTypes.DockerManifest,
            ["config"] = new JsonObject { ["mediaType"] = oci ? MediaTypes.OciConfig : MediaTypes.DockerConfig, ["size"] = configBytes.Length, ["digest"] = configDigest },
            ["layers"] = new JsonArray(results.Select(l => (JsonNode)new JsonObject
            {
                ["mediaType"] = oci && l.MediaType == MediaTypes.DockerLayerGzip ? MediaTypes.OciLayerGzip
                    : !oci && l.MediaType == MediaTypes.OciLayerGzip ? MediaTypes.DockerLayerGzip : l.MediaType,
                ["size"] = l.Size,
                ["digest"] = l.Digest,
            }).ToArray()),
        };
        var bytes = System.Text.Encoding.UTF8.GetBytes(manifest.ToJsonString());
        var digest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));
        var url = $"{client.Endpoints(r.Registry)[^1]}/v2/{r.Repository}/manifests/{r.Tag}";
        using (var resp = await client.SendAsync(r.Registry, r.Repository, "pull,push", () =>
               {
                   var req = new HttpRequestMessage(HttpMethod.Put, url) { Content = new ByteArrayContent(bytes) };
                   req.Content.Headers.ContentType = new MediaTypeHeaderValue(oci ? MediaTypes.OciManifest : MediaTypes.DockerManifest);
                   return req;
               }, ct))
            if (!resp.IsSuccessStatusCode) throw await RegistryClient.Failure(resp, r.Registry, $"manifest {r.Repository}:{r.Tag}");
        store.RecordRepoDigest(image.Id, r.FamiliarName + "@" + digest);
        return new PushResult(digest, bytes.Length);
    }

    async Task<PushedLayer> PushLayer(RegistryReference r, string layerId, Action<PullProgress> progress, CancellationToken ct)
    {
        var diffHex = layerId.StartsWith("sha256:", StringComparison.Ordinal) ? layerId[7..] : null;
        // A blob this layer is known to be: on this repository already, or mountable from a sibling.
        if (diffHex is not null)
        {
            foreach (var s in store.LayerSources(diffHex).Where(s => s.Registry == r.Registry).Reverse())
            {
                var id = s.Digest[7..19];
                if (await BlobExists(r, s.Digest, ct))
                {
                    progress(new PullProgress(id, "Layer already exists"));
                    return new PushedLayer(diffHex, s.Digest, s.Size, s.MediaType);
                }
                if (s.Repository != r.Repository && await Mount(r, s, ct))
                {
                    progress(new PullProgress(id, $"Mounted from {s.Repository}"));
                    store.AddLayerSource(diffHex, s with { Repository = r.Repository });
                    return new PushedLayer(diffHex, s.Digest, s.Size, s.MediaType);
                }
            }
        }
        progress(new PullProgress(diffHex?[..12], "Preparing"));
        var tmp = store.NewTempDir();
        try
        {
            var file = Path.Combine(tmp, "layer.tar.gz");
            string digest = "", tarHex = "";
            long size = 0;
            await Task.Run(() =>
            {
                using var fs = new FileStream(file, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
                using var compressed = new HashingWriteStream(fs);
                using (var gz = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
                using (var tar = new HashingWriteStream(gz))
                {
                    using (var writer = new TreeTarWriter(tar)) writer.WriteLayer(store.LayerDirOf(layerId));
                    tarHex = tar.Hex();
                }
                compressed.Flush();
                digest = "sha256:" + compressed.Hex();
                size = compressed.BytesWritten;
            }, ct);
            var shortId = digest[7..19];
            if (await BlobExists(r, digest, ct)) progress(new PullProgress(shortId, "Layer already exists"));
            else
            {
                await Upload(r, digest, size, () => new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16),
                    n => progress(new PullProgress(shortId, "Pushing", n, size)), ct);
                progress(new PullProgress(shortId, "Pushed"));
            }
            // The regenerated tar's own diff id (equal to the stored one when the layer round-trips).
            if (diffHex is not null && tarHex == diffHex)
                store.AddLayerSource(diffHex, new LayerSource(r.Registry, r.Repository, digest, size, MediaTypes.DockerLayerGzip));
            return new PushedLayer(tarHex, digest, size, MediaTypes.DockerLayerGzip);
        }
        finally
        {
            ImageStore.RemoveTempDir(tmp);
        }
    }

    async Task<bool> BlobExists(RegistryReference r, string digest, CancellationToken ct)
    {
        var url = client.BlobUrl(r, digest);
        using var resp = await client.SendAsync(r.Registry, r.Repository, "pull,push", () => new HttpRequestMessage(HttpMethod.Head, url), ct);
        if (resp.StatusCode == HttpStatusCode.NotFound) return false;
        if (!resp.IsSuccessStatusCode) throw await RegistryClient.Failure(resp, r.Registry, "HEAD blob " + digest);
        return true;
    }

    async Task<bool> Mount(RegistryReference r, LayerSource s, CancellationToken ct)
    {
        var url = $"{client.Endpoints(r.Registry)[^1]}/v2/{r.Repository}/blobs/uploads/?mount={Uri.EscapeDataString(s.Digest)}&from={Uri.EscapeDataString(s.Repository)}";
        using var resp = await client.SendAsync(r.Registry, r.Repository, "pull,push", () => new HttpRequestMessage(HttpMethod.Post, url), ct);
        if (resp.StatusCode == HttpStatusCode.Created) return true;
        // 202: the registry opened an upload instead; it expires unused (nothing to clean here).
        if (resp.StatusCode == HttpStatusCode.Accepted && resp.Headers.Location is { } loc)
        {
            var cancel = new Uri(new Uri(client.Endpoints(r.Registry)[^1]), loc);
            try { using var _ = await client.SendAsync(r.Registry, r.Repository, "pull,push", () => new HttpRequestMessage(HttpMethod.Delete, cancel), ct); }
            catch (RegistryException) { }
        }
        return false;
    }

    /// <summary>POST an upload session, then one PUT with the whole blob and its digest (monolithic).</summary>
    async Task Upload(RegistryReference r, string digest, long size, Func<Stream> open, Action<long>? progress, CancellationToken ct)
    {
        var baseUrl = client.Endpoints(r.Registry)[^1];
        Uri location;
        using (var start = await client.SendAsync(r.Registry, r.Repository, "pull,push", () => new HttpRequestMessage(HttpMethod.Post, $"{baseUrl}/v2/{r.Repository}/blobs/uploads/"), ct))
        {
            if (start.StatusCode != HttpStatusCode.Accepted || start.Headers.Location is null)
                throw await RegistryClient.Failure(start, r.Registry, "starting an upload to " + r.Repository);
            location = new Uri(new Uri(baseUrl), start.Headers.Location);
        }
        var put = new UriBuilder(location);
        put.Query = (string.IsNullOrEmpty(put.Query) ? "" : put.Query.TrimStart('?') + "&") + "digest=" + Uri.EscapeDataString(digest);
        using var resp = await client.SendAsync(r.Registry, r.Repository, "pull,push", () =>
        {
            var body = new ProgressReadStream(open(), progress);
            var req = new HttpRequestMessage(HttpMethod.Put, put.Uri) { Content = new StreamContent(body, 1 << 16) };
            req.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            req.Content.Headers.ContentLength = size;
            return req;
        }, ct);
        if (resp.StatusCode != HttpStatusCode.Created) throw await RegistryClient.Failure(resp, r.Registry, $"upload of blob {digest}");
    }

    sealed class ProgressReadStream(Stream inner, Action<long>? progress) : Stream
    {
        long _done, _last;
        public override int Read(byte[] buffer, int offset, int count)
        {
            int n = inner.Read(buffer, offset, count);
            _done += n;
            if (progress is not null && (_done - _last >= 512 << 10 || n == 0)) { _last = _done; progress(_done); }
            return n;
        }
        protected override void Dispose(bool disposing) { if (disposing) inner.Dispose(); base.Dispose(disposing); }
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => inner.Length;
        public override long Position { get => _done; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
