using System.Text;
using System.Text.Json;
using Akka.Configuration;
using Gocker.Actors.Containers;
using Gocker.Actors.Engine;
using Gocker.Api;
using Gocker.Images;
using Gocker.Images.Registry;
using static Gocker.Host.ErrorMapping;

namespace Gocker.Host;

/// <summary>gocker.registry in the HOCON: { insecure-registries = [...], mirrors = [...],
/// request-timeout, max-concurrent-downloads, max-concurrent-uploads, attempts }.</summary>
public sealed class RegistryService(RegistryOptions options)
{
    public RegistryOptions Options { get; } = options;

    public static RegistryService From(Config hocon)
    {
        var g = hocon.HasPath("gocker.registry") ? hocon.GetConfig("gocker.registry") : null;
        var o = new RegistryOptions();
        if (g is null) return new RegistryService(o);
        List<string> List(string key) => g.HasPath(key) ? g.GetStringList(key).ToList() : [];
        var known = new HashSet<string> { "insecure-registries", "mirrors", "request-timeout", "max-concurrent-downloads", "max-concurrent-uploads", "attempts" };
        foreach (var key in g.AsEnumerable().Select(kv => kv.Key.Split('.')[0]))
            if (!known.Contains(key)) throw new ArgumentException($"gocker.registry.{key}: unknown setting (known: {string.Join(", ", known)})");
        foreach (var m in List("mirrors"))
            if (!Uri.TryCreate(m, UriKind.Absolute, out var u) || u.Scheme is not ("http" or "https"))
                throw new ArgumentException($"gocker.registry.mirrors: \"{m}\" is not an http(s):// URL");
        return new RegistryService(o with
        {
            InsecureRegistries = List("insecure-registries"),
            Mirrors = List("mirrors"),
            RequestTimeout = g.HasPath("request-timeout") ? g.GetTimeSpan("request-timeout") : o.RequestTimeout,
            MaxConcurrentDownloads = g.HasPath("max-concurrent-downloads") ? Math.Clamp(g.GetInt("max-concurrent-downloads"), 1, 64) : o.MaxConcurrentDownloads,
            MaxConcurrentUploads = g.HasPath("max-concurrent-uploads") ? Math.Clamp(g.GetInt("max-concurrent-uploads"), 1, 64) : o.MaxConcurrentUploads,
            Attempts = g.HasPath("attempts") ? Math.Clamp(g.GetInt("attempts"), 1, 20) : o.Attempts,
        });
    }

    /// <summary>A client that authenticates with the request's X-Registry-Auth (if any).</summary>
    public RegistryClient Client(RegistryCredentials? credentials) => new(Options, _ => credentials);
}

/// <summary>Registry routes: pull (POST /images/create?fromImage=), push, /auth, /distribution.</summary>
public static class RegistryRoutes
{
    public static void Map(WebApplication app)
    {
        app.MapPost("/auth", (Delegate)Auth); // a RequestDelegate would drop the IResult
        app.MapGet("/distribution/{*rest}", Distribution);
    }

    static RegistryService Service(HttpContext ctx) =>
        ctx.RequestServices.GetService<RegistryService>() ?? new RegistryService(new RegistryOptions());

    static ImageStore Store(EngineServices svc) =>
        svc.Images as ImageStore ?? throw new NotSupportedException("this daemon's image store cannot pull");

    /// <summary>X-Registry-Auth: base64url(JSON AuthConfig). Never logged.</summary>
    internal static RegistryCredentials? CredentialsOf(HttpContext ctx)
    {
        var header = ctx.Request.Headers["X-Registry-Auth"].ToString();
        if (string.IsNullOrWhiteSpace(header)) return null;
        AuthConfig? a;
        try
        {
            var b64 = header.Trim().Replace('-', '+').Replace('_', '/');
            b64 = b64.PadRight(b64.Length + (4 - b64.Length % 4) % 4, '=');
            a = JsonSerializer.Deserialize(Convert.FromBase64String(b64), GockerRegistryJson.Default.AuthConfig);
        }
        catch (Exception ex) when (ex is FormatException or JsonException)
        {
            throw new BadRequestException("X-Registry-Auth: not base64url-encoded JSON");
        }
        return CredentialsOf(a);
    }

    static RegistryCredentials? CredentialsOf(AuthConfig? a)
    {
        if (a is null) return null;
        string? user = a.Username, pass = a.Password;
        if (string.IsNullOrEmpty(user) && !string.IsNullOrEmpty(a.Auth))
        {
            var plain = Encoding.UTF8.GetString(Convert.FromBase64String(a.Auth));
            int colon = plain.IndexOf(':');
            if (colon > 0) { user = plain[..colon]; pass = plain[(colon + 1)..]; }
        }
        if (!string.IsNullOrEmpty(a.IdentityToken)) return new RegistryCredentials("<token>", a.IdentityToken, a.IdentityToken);
        return string.IsNullOrEmpty(user) ? null : new RegistryCredentials(user, pass ?? "");
    }

    /// <summary>The answer's status for an error met before the stream started.</summary>
    internal static IResult RegistryError(Exception ex) => ex switch
    {
        RegistryNotFoundException => Results.Json(new ErrorResponse { Message = ex.Message }, GockerJson.Default.ErrorResponse, statusCode: 404),
        RegistryAuthException => Results.Json(new ErrorResponse { Message = ex.Message }, GockerJson.Default.ErrorResponse, statusCode: 401),
        _ => Error(ex),
    };

    /// <summary>Writes Docker's JSON progress lines; the response starts with the first one, so an error
    /// before it (no such tag, wrong credentials) still gets its own status code.</summary>
    sealed class ProgressWriter(HttpContext ctx)
    {
        readonly Lock _lock = new();
        public bool Started { get; private set; }

        public void Write(ProgressMessage m)
        {
            var bytes = JsonSerializer.SerializeToUtf8Bytes(m, GockerRegistryJson.Default.ProgressMessage);
            lock (_lock)
            {
                if (ctx.RequestAborted.IsCancellationRequested) return;
                if (!Started)
                {
                    ctx.Response.ContentType = "application/json";
                    Started = true;
                }
                try
                {
                    ctx.Response.Body.Write(bytes);
                    ctx.Response.Body.Write("\r\n"u8);
                    ctx.Response.Body.Flush();
                }
                catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException) { }
            }
        }

        public void Status(string status, string? id = null) => Write(new ProgressMessage { Status = status, Id = id });

        public void Progress(PullProgress p) => Write(new ProgressMessage
        {
            Status = p.Status, Id = p.Id,
            ProgressDetail = p.Current is null ? (p.Status is "Downloading" or "Pushing" ? new ProgressDetail() : null) : new ProgressDetail { Current = p.Current, Total = p.Total },
        });

        public void Fail(Exception ex) => Write(new ProgressMessage { Error = ex.Message, ErrorDetail = new ErrorDetail { Message = ex.Message } });
    }

    // ---- pull ----

    internal static async Task<IResult> Pull(HttpContext ctx, EngineServices svc)
    {
        var store = Store(svc);
        var from = ctx.Request.Query["fromImage"].ToString();
        var tag = ctx.Request.Query["tag"].ToString();
        var platformText = ctx.Request.Query["platform"].ToString();
        foreach (var key in ctx.Request.Query.Keys)
            if (key is not ("fromImage" or "tag" or "platform"))
                throw new BadRequestException($"pull: query parameter {key} is not supported");
        if (string.IsNullOrEmpty(from)) throw new BadRequestException("fromImage (the image to pull) is required");
        var refText = tag.Length == 0 ? from : tag.StartsWith("sha256:", StringComparison.Ordinal) ? from + "@" + tag : from + ":" + tag;
        var r = RegistryReference.Parse(refText);
        bool allTags = tag.Length == 0 && !HasTagOrDigest(from);
        var platform = ImagePuller.ParsePlatform(platformText);
        using var client = Service(ctx).Client(CredentialsOf(ctx));
        var puller = new ImagePuller(store, client);
        var writer = new ProgressWriter(ctx);
        var ct = ctx.RequestAborted;
        try
        {
            var refs = allTags
                ? (await client.ListTagsAsync(r, ct)).Order(StringComparer.Ordinal).Select(t => r with { Tag = t, Digest = null }).ToList()
                : [r];
            if (refs.Count == 0) throw new RegistryNotFoundException($"repository {r.FamiliarName} has no tags");
            bool anyNew = false;
            PullResult? last = null;
            foreach (var one in refs)
            {
                last = await puller.PullAsync(one, platform, writer.Progress, ct);
                anyNew |= last.Downloaded;
                EventRoutes.Publish(ctx, "image", "pull", last.Image.Id, ("name", one.StoreName ?? one.FamiliarName + "@" + one.Digest));
                if (!allTags) writer.Status("Digest: " + last.Digest);
            }
            var shown = allTags ? r.FamiliarName : last!.Name;
            writer.Status(anyNew ? $"Status: Downloaded newer image for {shown}" : $"Status: Image is up to date for {shown}");
            return Results.Empty;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            if (!writer.Started) return RegistryError(ex);
            writer.Fail(ex);
            return Results.Empty;
        }
    }

    static bool HasTagOrDigest(string name)
    {
        if (name.Contains('@')) return true;
        int colon = name.LastIndexOf(':');
        return colon >= 0 && name.IndexOf('/', colon) < 0;
    }

    // ---- push ----

    internal static async Task<IResult> Push(HttpContext ctx, string name, EngineServices svc)
    {
        var store = Store(svc);
        var tag = ctx.Request.Query["tag"].ToString();
        foreach (var key in ctx.Request.Query.Keys)
            if (key is not ("tag" or "platform"))
                throw new BadRequestException($"push: query parameter {key} is not supported");
        if (ctx.Request.Query["platform"].ToString() is { Length: > 0 } p && p != "null")
            throw new BadRequestException("push: platform is not supported (Gocker stores one platform per image)");
        var refText = tag.Length == 0 ? name : name + ":" + tag;
        var r = RegistryReference.Parse(refText);
        if (r.Digest is not null) throw new BadRequestException($"push: {refText}: push a tag, not a digest");
        using var client = Service(ctx).Client(CredentialsOf(ctx));
        var writer = new ProgressWriter(ctx);
        var ct = ctx.RequestAborted;
        try
        {
            var image = await Task.Run(() => store.Resolve(r.StoreName!), ct);
            var pusher = new ImagePusher(store, client);
            var result = await pusher.PushAsync(r, image, writer.Progress, ct);
            writer.Status($"{r.Tag}: digest: {result.Digest} size: {result.Size}");
            writer.Write(new ProgressMessage { Progress = "", Aux = new PushAux { Tag = r.Tag!, Digest = result.Digest, Size = result.Size } });
            EventRoutes.Publish(ctx, "image", "push", image.Id, ("name", r.StoreName!));
            return Results.Empty;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            if (!writer.Started) return RegistryError(ex);
            writer.Fail(ex);
            return Results.Empty;
        }
    }

    // ---- auth and distribution ----

    static async Task<IResult> Auth(HttpContext ctx)
    {
        try
        {
            var a = await JsonSerializer.DeserializeAsync(ctx.Request.Body, GockerRegistryJson.Default.AuthConfig, ctx.RequestAborted)
                    ?? throw new BadRequestException("POST /auth: empty body");
            var creds = CredentialsOf(a) ?? throw new BadRequestException("POST /auth: username and password are required");
            var server = string.IsNullOrEmpty(a.ServerAddress) ? RegistryReference.DockerHub : RegistryHost(a.ServerAddress);
            using var client = Service(ctx).Client(creds);
            await client.CheckLoginAsync(server, ctx.RequestAborted);
            return Results.Json(new AuthResponse { Status = "Login Succeeded" }, GockerRegistryJson.Default.AuthResponse);
        }
        catch (Exception ex) when (ex is not OperationCanceledException) { return RegistryError(ex); }
    }

    /// <summary>"https://index.docker.io/v1/", "http://host:5000", "host:5000/" -> the registry's name.</summary>
    public static string RegistryHost(string server)
    {
        var s = server.Trim();
        if (s.StartsWith("http://", StringComparison.OrdinalIgnoreCase)) s = s[7..];
        else if (s.StartsWith("https://", StringComparison.OrdinalIgnoreCase)) s = s[8..];
        int slash = s.IndexOf('/');
        if (slash >= 0) s = s[..slash];
        return s is "index.docker.io" or "registry-1.docker.io" or "docker.io" ? RegistryReference.DockerHub : s.ToLowerInvariant();
    }

    static async Task<IResult> Distribution(HttpContext ctx, string rest)
    {
        try
        {
            if (!rest.EndsWith("/json", StringComparison.Ordinal)) throw new RouteNotFoundException("GET", "/distribution/" + rest);
            var name = Uri.UnescapeDataString(rest[..^5]);
            var r = RegistryReference.Parse(name);
            using var client = Service(ctx).Client(CredentialsOf(ctx));
            var m = await client.GetManifestAsync(r, r.ManifestReference, ctx.RequestAborted);
            var result = new DistributionInspect
            {
                Descriptor = new DistributionDescriptor { MediaType = m.MediaType, Digest = m.Digest, Size = m.Bytes.Length },
            };
            if (MediaTypes.IsIndex(m.MediaType))
                result.Platforms = (m.Document.Manifests ?? []).Where(d => d.Platform is not null)
                    .Select(d => new DistributionPlatform { Os = d.Platform!.Os ?? "", Architecture = d.Platform.Architecture ?? "", Variant = d.Platform.Variant }).ToList();
            else if (m.Document.Config is { } cfg)
            {
                var bytes = await client.GetSmallBlobAsync(r, cfg, 16 << 20, ctx.RequestAborted);
                using var doc = JsonDocument.Parse(bytes);
                string Str(string k) => doc.RootElement.TryGetProperty(k, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : "";
                result.Platforms = [new DistributionPlatform { Os = Str("os"), Architecture = Str("architecture"), Variant = Str("variant") is { Length: > 0 } v ? v : null }];
            }
            return Results.Json(result, GockerRegistryJson.Default.DistributionInspect);
        }
        catch (Exception ex) when (ex is not OperationCanceledException) { return RegistryError(ex); }
    }
}
