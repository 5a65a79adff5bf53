using System.Text.Json;
using Gocker.Actors.Containers;
using Gocker.Actors.Engine;
using Gocker.Host.Build;
using Gocker.Images;
using Microsoft.AspNetCore.Http.Features;
using static Gocker.Host.ErrorMapping;
using static Gocker.Host.EngineAsk;

namespace Gocker.Host;

/// <summary>POST /build: Docker's classic builder API (the context as a tar body; the progress as
/// JSON lines with stream, aux {ID} and errorDetail), so `DOCKER_BUILDKIT=0 docker build`,
/// docker-compose's `build:` and `gocker build` work against gockerd.</summary>
public static class BuildRoutes
{
    /// <summary>Most bytes of a build context body (compressed size for a gzip'd one).</summary>
    public const long MaxContextBytes = 4L << 30;

    public static void Map(WebApplication app)
    {
        // The context streams through: not subject to the JSON body limit (RequestLimits); bounded here.
        app.MapPost("/build", Build).WithMetadata(StreamingBodyAttribute.Instance);
    }

    /// <summary>Query parameters the docker CLI always sends, with the values that mean "not asked
    /// for"; any other value is a feature Gocker's builder does not have, refused by name.</summary>
    static readonly Dictionary<string, string[]> Neutral = new(StringComparer.Ordinal)
    {
        ["cpusetcpus"] = [""], ["cpusetmems"] = [""], ["cpushares"] = ["", "0"], ["cpuquota"] = ["", "0"],
        ["cpuperiod"] = ["", "0"], ["memory"] = ["", "0"], ["memswap"] = ["", "0"], ["cgroupparent"] = [""],
        ["shmsize"] = ["", "0"], ["ulimits"] = ["", "null", "[]"], ["cachefrom"] = ["", "null", "[]"],
        ["pull"] = ["", "0", "false"], ["squash"] = ["", "0", "false"], ["remote"] = [""], ["session"] = [""],
        ["isolation"] = ["", "default"], ["outputs"] = ["", "null", "[]"], ["version"] = ["", "1"],
        ["extrahosts"] = [""], ["securityopt"] = [""], ["buildid"] = [""],
    };

    static readonly HashSet<string> Known = new(StringComparer.Ordinal)
    {
        "t", "dockerfile", "buildargs", "target", "nocache", "labels", "q", "networkmode", "rm", "forcerm", "platform",
    };

    internal static BuildRequest ParseQuery(IQueryCollection q)
    {
        foreach (var (key, values) in q)
        {
            if (Known.Contains(key)) continue;
            if (!Neutral.TryGetValue(key, out var ok))
                throw new BadRequestException($"build: the {key} parameter is not supported by Gocker's builder");
            foreach (var v in values)
                if (!ok.Contains(v ?? ""))
                    throw new BadRequestException(key switch
                    {
                        "pull" => "build: pull=1 (--pull) is not supported: Gocker builds from local images only",
                        "version" => $"build: version={v}: only the classic builder (version 1) is supported, not BuildKit",
                        "remote" => "build: remote contexts (URLs, git) are not supported: send the context as the body",
                        "session" => "build: session (BuildKit) is not supported",
                        _ => $"build: {key}={v} is not supported by Gocker's builder",
                    });
        }
        var req = new BuildRequest();
        foreach (var t in q["t"])
        {
            if (string.IsNullOrEmpty(t)) continue;
            ImageReference.Normalize(t); // a bad name fails before the context is read
            req.Tags.Add(t);
        }
        if (q["dockerfile"].ToString() is { Length: > 0 } df) req.Dockerfile = df;
        if (q["target"].ToString() is { Length: > 0 } target) req.Target = target;
        req.NoCache = Flag(q, "nocache");
        req.Rm = q["rm"].ToString() is not ("0" or "false");
        req.ForceRm = Flag(q, "forcerm");
        if (q["networkmode"].ToString() is { Length: > 0 } net) req.NetworkMode = net;
        if (q["platform"].ToString() is { Length: > 0 } platform)
        {
            var host = "linux/" + (System.Runtime.InteropServices.RuntimeInformation.OSArchitecture == System.Runtime.InteropServices.Architecture.Arm64 ? "arm64" : "amd64");
            if (platform != host && platform != "linux")
                throw new BadRequestException($"build: platform={platform} is not supported: only the host's platform ({host})");
        }
        if (q["buildargs"].ToString() is { Length: > 0 } ba && ba != "null")
        {
            foreach (var (k, v) in ParseObject(ba, "buildargs", nullable: true)) req.BuildArgs[k] = v;
        }
        if (q["labels"].ToString() is { Length: > 0 } lb && lb != "null")
        {
            foreach (var (k, v) in ParseObject(lb, "labels", nullable: false)) req.Labels[k] = v ?? "";
        }
        return req;
    }

    static bool Flag(IQueryCollection q, string name) => q[name].ToString() is "1" or "true" or "True";

    static List<KeyValuePair<string, string?>> ParseObject(string json, string what, bool nullable)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new BadRequestException($"build: {what} must be a JSON object");
            var list = new List<KeyValuePair<string, string?>>();
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                string? v = p.Value.ValueKind switch
                {
                    JsonValueKind.String => p.Value.GetString(),
                    JsonValueKind.Null when nullable => null,
                    _ => throw new BadRequestException($"build: {what}.{p.Name} must be a string"),
                };
                list.Add(new(p.Name, v));
            }
            return list;
        }
        catch (JsonException ex) { throw new BadRequestException($"build: {what} is not JSON: {ex.Message}"); }
    }

    static async Task Build(HttpContext ctx, EngineServices svc)
    {
        BuildRequest req;
        try
        {
            req = ParseQuery(ctx.Request.Query);
            if (svc.Images is not ImageStore)
                throw new BadRequestException("build: this daemon's image store cannot build");
            if (ctx.Request.ContentLength is { } declared && declared > MaxContextBytes)
            {
                ctx.Response.Headers.Connection = "close";
                throw new RequestTooLargeException(MaxContextBytes);
            }
            if (ctx.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
                size.MaxRequestBodySize = MaxContextBytes;
        }
        catch (Exception ex)
        {
            await Error(ex).ExecuteAsync(ctx);
            return;
        }
        var store = (ImageStore)svc.Images;
        var work = store.NewBuildDir();
        try
        {
            var contextDir = Path.Combine(work, "context");
            Directory.CreateDirectory(contextDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            try
            {
                await Task.Run(() =>
                {
                    store.UnpackContext(ctx.Request.Body, contextDir);
                }, ctx.RequestAborted);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                var cause = ex is AggregateException { InnerException: { } inner } ? inner : ex;
                await Task.Run(() => ImageStore.RemoveBuildDir(work));
                await Error(cause is UnsafeArchiveException or InvalidDataException or IOException && cause is not RequestTooLargeException
                    ? new BadRequestException($"build: the context is not a valid tar: {cause.Message}") : cause).ExecuteAsync(ctx);
                return;
            }
            ctx.Response.StatusCode = 200;
            ctx.Response.ContentType = "application/json";
            await ctx.Response.StartAsync(ctx.RequestAborted);
            var output = new BuildOutput(ctx.Response.Body, Flag(ctx.Request.Query, "q"), ctx.RequestAborted);
            ImageRecord? image = null;
            Exception? failure = null;
            try
            {
                var builder = new ImageBuilder(svc, store, Supervisor(ctx), output, req, work, ctx.RequestAborted);
                image = await builder.BuildAsync();
                foreach (var t in req.Tags) await Task.Run(() => store.Tag(image.Id, t));
            }
            catch (OperationCanceledException) { return; /* the client went away */ }
            catch (Exception ex) { failure = ex is AggregateException { InnerException: { } inner } ? inner : ex; }
            // The work dir goes before the last line: a client that sees the end finds nothing left.
            await Task.Run(() => ImageStore.RemoveBuildDir(work));
            try
            {
                if (failure is not null)
                {
                    await output.Error(failure.Message);
                    return;
                }
                await output.Aux(image!.Id);
                await output.Stream($"Successfully built {ImageReference.HexOf(image.Id)[..12]}\n");
                foreach (var t in req.Tags) await output.Stream($"Successfully tagged {ImageReference.Normalize(t)}\n");
                if (output.Quiet) await output.StreamAlways(image.Id + "\n");
            }
            catch (Exception) { /* the client went away */ }
        }
        finally
        {
            await Task.Run(() => ImageStore.RemoveBuildDir(work));
        }
    }
}
