using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Gocker.Images.Registry;

/// <summary>The client side of the OCI Distribution API (/v2/): manifests with Accept negotiation, blobs
/// verified while they stream (resumed with Range after a dropped connection), uploads, and the auth
/// dance (anonymous, Bearer tokens from the WWW-Authenticate challenge, HTTP basic). Plain HTTP only for
/// loopback registries and those listed as insecure. Credentials go only into Authorization headers and
/// the token request, never into a message or a log.</summary>
public sealed partial class RegistryClient : IDisposable
{
    readonly HttpClient _http;
    readonly RegistryOptions _options;
    readonly Func<string, RegistryCredentials?> _credentials;
    // "registry|repository|actions" -> the Authorization header value that worked.
    readonly ConcurrentDictionary<string, AuthenticationHeaderValue> _auth = new(StringComparer.Ordinal);
    const int MaxManifestBytes = 4 << 20;

    /// <param name="credentials">Credentials for a registry ("host[:port]", "docker.io"), or null (anonymous).</param>
    public RegistryClient(RegistryOptions? options = null, Func<string, RegistryCredentials?>? credentials = null, HttpMessageHandler? handler = null)
    {
        _options = options ?? new RegistryOptions();
        _credentials = credentials ?? (_ => null);
        handler ??= new SocketsHttpHandler
        {
            ConnectTimeout = _options.RequestTimeout,
            AutomaticDecompression = DecompressionMethods.None, // blobs are hashed as stored
            AllowAutoRedirect = true, // blob stores redirect; .NET drops Authorization on a redirect
            MaxConnectionsPerServer = 16,
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
        };
        _http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("gocker/1.0");
    }

    public RegistryOptions Options => _options;

    public void Dispose() => _http.Dispose();

    // ---- endpoints ----

    /// <summary>http for loopback and insecure registries (as Docker: never silently for others).</summary>
    public bool IsInsecure(string registry)
    {
        var host = HostOf(registry);
        if (host == "localhost" || (IPAddress.TryParse(host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip))) return true;
        return _options.InsecureRegistries.Any(r => string.Equals(r, registry, StringComparison.OrdinalIgnoreCase)
                                                    || string.Equals(r, host, StringComparison.OrdinalIgnoreCase));
    }

    static string HostOf(string registry)
    {
        if (registry.StartsWith('[')) return registry[..(registry.IndexOf(']') + 1)];
        int colon = registry.LastIndexOf(':');
        return colon < 0 ? registry : registry[..colon];
    }

    /// <summary>The base URLs to try for a registry: Docker Hub's mirrors first, then the registry itself.</summary>
    public IReadOnlyList<string> Endpoints(string registry)
    {
        var self = (IsInsecure(registry) ? "http://" : "https://") + (registry == RegistryReference.DockerHub ? "registry-1.docker.io" : registry);
        if (registry != RegistryReference.DockerHub || _options.Mirrors.Count == 0) return [self];
        return [.. _options.Mirrors.Select(m => m.TrimEnd('/')), self];
    }

    // ---- requests with retries and auth ----

    /// <summary>Sends a request (made anew for each attempt), authenticating on a 401 challenge and retrying
    /// 5xx, 429 and dropped connections with exponential backoff. The caller disposes the answer.</summary>
    internal async Task<HttpResponseMessage> SendAsync(string registry, string? repository, string actions,
        Func<HttpRequestMessage> make, CancellationToken ct)
    {
        var key = $"{registry}|{repository}|{actions}";
        bool authenticated = false;
        Exception? last = null;
        for (int attempt = 0; attempt < _options.Attempts; attempt++)
        {
            if (attempt > 0) await Task.Delay(Backoff(attempt), ct);
            using var req = make();
            if (_auth.TryGetValue(key, out var cached)) req.Headers.Authorization = cached;
            HttpResponseMessage resp;
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(_options.RequestTimeout);
            try
            {
                resp = await _http.SendAsync(req, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            }
            catch (Exception ex) when (!ct.IsCancellationRequested && ex is HttpRequestException or IOException or OperationCanceledException)
            {
                last = ex;
                continue; // refused, dropped or timed out: try again
            }
            if (resp.StatusCode == HttpStatusCode.Unauthorized && !authenticated)
            {
                var challenge = resp.Headers.WwwAuthenticate.FirstOrDefault();
                resp.Dispose();
                _auth[key] = await AuthenticateAsync(registry, repository, actions, challenge, ct);
                authenticated = true;
                attempt--; // the challenge is not a failure
                continue;
            }
            if ((int)resp.StatusCode >= 500 || resp.StatusCode == HttpStatusCode.TooManyRequests)
            {
                last = new RegistryException($"{registry}: {(int)resp.StatusCode} {resp.ReasonPhrase}", (int)resp.StatusCode);
                resp.Dispose();
                continue;
            }
            return resp;
        }
        throw last is RegistryException re ? re
            : new RegistryException($"{registry}: no answer after {_options.Attempts} attempts: {last?.Message}", 0, last);
    }

    TimeSpan Backoff(int attempt) =>
        TimeSpan.FromMilliseconds(_options.FirstBackoff.TotalMilliseconds * Math.Pow(2, attempt - 1) * (0.75 + Random.Shared.NextDouble() / 2));

    [GeneratedRegex(@"(\w+)=""([^""]*)""")]
    private static partial Regex ChallengeParam();

    async Task<AuthenticationHeaderValue> AuthenticateAsync(string registry, string? repository, string actions,
        AuthenticationHeaderValue? challenge, CancellationToken ct)
    {
        var creds = _credentials(registry);
        if (challenge is null) throw new RegistryAuthException($"{registry}: 401 Unauthorized without a WWW-Authenticate challenge", 401);
        if (challenge.Scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase))
        {
            if (creds is null) throw new RegistryAuthException($"{registry}: authentication required (no credentials: gocker login {registry})", 401);
            return Basic(creds);
        }
        if (!challenge.Scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase))
            throw new RegistryAuthException($"{registry}: unsupported authentication scheme {challenge.Scheme}", 401);
        var p = ChallengeParam().Matches(challenge.Parameter ?? "").ToDictionary(m => m.Groups[1].Value.ToLowerInvariant(), m => m.Groups[2].Value);
        if (!p.TryGetValue("realm", out var realm) || !Uri.TryCreate(realm, UriKind.Absolute, out var realmUri) || realmUri.Scheme is not ("https" or "http"))
            throw new RegistryAuthException($"{registry}: Bearer challenge without a usable realm", 401);
        // A token server over plain HTTP would see the password: only where the registry itself may be plain.
        if (realmUri.Scheme == "http" && creds is not null && !IsInsecure(realmUri.IsDefaultPort ? realmUri.Host : realmUri.Host + ":" + realmUri.Port) && !IsInsecure(registry))
            throw new RegistryAuthException($"{registry}: refusing to send credentials to the plain-HTTP token server {realmUri.GetLeftPart(UriPartial.Path)}", 401);
        var query = new List<string>();
        if (p.TryGetValue("service", out var service)) query.Add("service=" + Uri.EscapeDataString(service));
        var scope = repository is not null ? $"repository:{repository}:{actions}" : p.GetValueOrDefault("scope");
        if (!string.IsNullOrEmpty(scope)) query.Add("scope=" + Uri.EscapeDataString(scope));
        var url = realm + (query.Count == 0 ? "" : (realm.Contains('?') ? "&" : "?") + string.Join('&', query));
        for (int attempt = 0; ; attempt++)
        {
            using var req = new HttpRequestMessage(HttpMethod.Get, url);
            if (creds is not null) req.Headers.Authorization = Basic(creds);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(_options.RequestTimeout);
            HttpResponseMessage resp;
            try { resp = await _http.SendAsync(req, timeout.Token); }
            catch (Exception ex) when (!ct.IsCancellationRequested && attempt + 1 < _options.Attempts && ex is HttpRequestException or IOException or OperationCanceledException)
            {
                await Task.Delay(Backoff(attempt + 1), ct);
                continue;
            }
            using (resp)
            {
                if ((int)resp.StatusCode >= 500 && attempt + 1 < _options.Attempts) { await Task.Delay(Backoff(attempt + 1), ct); continue; }
                if (resp.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
                    throw new RegistryAuthException(creds is null
                        ? $"{registry}: authentication required (gocker login {registry})"
                        : $"{registry}: unauthorized: incorrect username or password", (int)resp.StatusCode);
                if (!resp.IsSuccessStatusCode)
                    throw new RegistryAuthException($"{registry}: token server {realmUri.GetLeftPart(UriPartial.Path)} answered {(int)resp.StatusCode}", (int)resp.StatusCode);
                var body = await resp.Content.ReadAsByteArrayAsync(ct);
                TokenResponse? token;
                try { token = JsonSerializer.Deserialize(body, RegistryJsonContext.Default.TokenResponse); }
                catch (JsonException) { token = null; }
                var value = token?.Token ?? token?.AccessToken;
                if (string.IsNullOrEmpty(value)) throw new RegistryAuthException($"{registry}: the token server's answer holds no token", 401);
                return new AuthenticationHeaderValue("Bearer", value);
            }
        }
    }

    static AuthenticationHeaderValue Basic(RegistryCredentials c) =>
        new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(c.Username + ":" + c.Password)));

    /// <summary>Checks the credentials against the registry (GET /v2/, as docker login does).</summary>
    public async Task CheckLoginAsync(string registry, CancellationToken ct)
    {
        var baseUrl = Endpoints(registry)[^1];
        using var resp = await SendAsync(registry, null, "pull", () => new HttpRequestMessage(HttpMethod.Get, baseUrl + "/v2/"), ct);
        if (resp.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
            throw new RegistryAuthException($"{registry}: unauthorized: incorrect username or password", (int)resp.StatusCode);
        if (!resp.IsSuccessStatusCode) throw await Failure(resp, registry, "GET /v2/");
    }

    internal static async Task<RegistryException> Failure(HttpResponseMessage resp, string registry, string what, string? notFound = null)
    {
        string detail = "";
        try
        {
            var body = await resp.Content.ReadAsByteArrayAsync();
            if (body.Length is > 0 and < 65536)
            {
                var errs = JsonSerializer.Deserialize(body, RegistryJsonContext.Default.RegistryErrors);
                if (errs?.Errors is { Count: > 0 } list) detail = string.Join("; ", list.Select(e => $"{e.Code?.ToLowerInvariant().Replace('_', ' ')}: {e.Message}"));
            }
        }
        catch (Exception ex) when (ex is JsonException or IOException or HttpRequestException) { }
        if (detail.Length == 0) detail = $"{(int)resp.StatusCode} {resp.ReasonPhrase}";
        return resp.StatusCode switch
        {
            HttpStatusCode.NotFound => new RegistryNotFoundException((notFound ?? $"{registry}: {what}: not found") + ": " + detail),
            HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => new RegistryAuthException($"{registry}: {what}: {detail}", (int)resp.StatusCode),
            _ => new RegistryException($"{registry}: {what}: {detail}", (int)resp.StatusCode),
        };
    }

    // ---- manifests ----

    /// <summary>A manifest or index as the registry holds it: its bytes, their digest (computed, and
    /// checked against a pinned digest) and its media type.</summary>
    public sealed record Manifest(byte[] Bytes, string Digest, string MediaType, ManifestDocument Document);

    public async Task<Manifest> GetManifestAsync(RegistryReference r, string reference, CancellationToken ct)
    {
        RegistryException? last = null;
        foreach (var baseUrl in Endpoints(r.Registry))
        {
            try { return await GetManifestAsync(baseUrl, r, reference, ct); }
            catch (RegistryException ex) when (baseUrl != Endpoints(r.Registry)[^1] && ex is not DigestMismatchException) { last = ex; } // a mirror that fails: the next
        }
        throw last ?? new RegistryException($"{r.Registry}: no endpoint");
    }

    async Task<Manifest> GetManifestAsync(string baseUrl, RegistryReference r, string reference, CancellationToken ct)
    {
        var url = $"{baseUrl}/v2/{r.Repository}/manifests/{reference}";
        using var resp = await SendAsync(r.Registry, r.Repository, "pull", () =>
        {
            var req = new HttpRequestMessage(HttpMethod.Get, url);
            foreach (var t in MediaTypes.ManifestAccept) req.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(t));
            return req;
        }, ct);
        var name = r.FamiliarName + (reference.StartsWith("sha256:", StringComparison.Ordinal) ? "@" : ":") + reference;
        if (!resp.IsSuccessStatusCode) throw await Failure(resp, r.Registry, "manifest " + reference, $"manifest for {name} not found");
        if (resp.Content.Headers.ContentLength > MaxManifestBytes) throw new RegistryException($"{r.Registry}: manifest {reference} is larger than {MaxManifestBytes} bytes");
        var bytes = await ReadLimitedAsync(await resp.Content.ReadAsStreamAsync(ct), MaxManifestBytes, ct)
                    ?? throw new RegistryException($"{r.Registry}: manifest {reference} is larger than {MaxManifestBytes} bytes");
        var digest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));
        if (reference.StartsWith("sha256:", StringComparison.Ordinal) && digest != reference)
            throw new DigestMismatchException($"manifest for {name}: digest mismatch: the registry sent content with digest {digest}");
        ManifestDocument doc;
        try { doc = JsonSerializer.Deserialize(bytes, RegistryJsonContext.Default.ManifestDocument) ?? throw new JsonException("null"); }
        catch (JsonException ex) { throw new RegistryException($"manifest for {name}: malformed JSON: {ex.Message}"); }
        var type = doc.MediaType ?? resp.Content.Headers.ContentType?.MediaType ?? "";
        if (type == MediaTypes.DockerSchema1 || doc.SchemaVersion == 1 || type == "application/vnd.docker.distribution.manifest.v1+json")
            throw new RegistryException($"manifest for {name}: Docker image manifest schema 1 is not supported (deprecated; push the image again with a current tool)");
        if (string.IsNullOrEmpty(type)) type = doc.Manifests is not null ? MediaTypes.OciIndex : MediaTypes.OciManifest;
        if (!MediaTypes.IsIndex(type) && !MediaTypes.IsManifest(type))
            throw new RegistryException($"manifest for {name}: unsupported media type {type}");
        return new Manifest(bytes, digest, type, doc);
    }

    static async Task<byte[]?> ReadLimitedAsync(Stream s, int limit, CancellationToken ct)
    {
        using (s)
        {
            var ms = new MemoryStream();
            var buf = new byte[81920];
            int n;
            while ((n = await s.ReadAsync(buf, ct)) > 0)
            {
                ms.Write(buf, 0, n);
                if (ms.Length > limit) return null;
            }
            return ms.ToArray();
        }
    }

    /// <summary>A small blob (an image config) read whole and verified.</summary>
    public async Task<byte[]> GetSmallBlobAsync(RegistryReference r, Descriptor d, int limit, CancellationToken ct)
    {
        if (d.Size > limit) throw new RegistryException($"{r.Registry}: blob {d.Digest} is {d.Size} bytes, more than the {limit} allowed for it");
        using var blob = OpenBlob(r, d, null, ct);
        var ms = new MemoryStream();
        await blob.CopyToAsync(ms, ct);
        return ms.ToArray();
    }

    /// <summary>A blob's bytes as they stream from the registry, hashed as they go: the read that
    /// reaches the end throws <see cref="DigestMismatchException"/> when the digest or size differs
    /// from the descriptor's. A dropped connection is resumed from where it broke (Range).</summary>
    public Stream OpenBlob(RegistryReference r, Descriptor d, Action<long>? progress, CancellationToken ct) =>
        new BlobStream(this, r, d, progress, ct);

    internal string BlobUrl(RegistryReference r, string digest) => $"{Endpoints(r.Registry)[^1]}/v2/{r.Repository}/blobs/{digest}";
}

public sealed partial class RegistryClient
{
    sealed class TagList
    {
        [System.Text.Json.Serialization.JsonPropertyName("tags")] public List<string>? Tags { get; set; }
    }

    [System.Text.Json.Serialization.JsonSerializable(typeof(TagList))]
    sealed partial class TagJson : System.Text.Json.Serialization.JsonSerializerContext;

    /// <summary>GET /v2/REPO/tags/list (pull -a).</summary>
    public async Task<IReadOnlyList<string>> ListTagsAsync(RegistryReference r, CancellationToken ct)
    {
        var url = $"{Endpoints(r.Registry)[^1]}/v2/{r.Repository}/tags/list";
        using var resp = await SendAsync(r.Registry, r.Repository, "pull", () => new HttpRequestMessage(HttpMethod.Get, url), ct);
        if (!resp.IsSuccessStatusCode) throw await Failure(resp, r.Registry, "tags of " + r.Repository, $"repository {r.FamiliarName} not found");
        var body = await ReadLimitedAsync(await resp.Content.ReadAsStreamAsync(ct), MaxManifestBytes, ct)
                   ?? throw new RegistryException($"{r.Registry}: tag list of {r.Repository} is too large");
        try { return JsonSerializer.Deserialize(body, TagJson.Default.TagList)?.Tags ?? []; }
        catch (JsonException ex) { throw new RegistryException($"{r.Registry}: tag list of {r.Repository}: malformed JSON: {ex.Message}"); }
    }
}
