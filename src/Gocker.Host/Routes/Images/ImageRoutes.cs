using System.Text.Json;
using Gocker.Actors.Containers;
using Gocker.Actors.Engine;
using Gocker.Api;
using Gocker.Images;
using static Gocker.Host.EngineAsk;
using static Gocker.Host.ErrorMapping;

namespace Gocker.Host;

/// <summary>Image routes (Docker Engine API shapes).</summary>
public static class ImageRoutes
{
    public static void Map(WebApplication app)
    {
        // Archives stream through: not subject to the JSON body limit (RequestLimits).
        app.MapPost("/images/create", ImportImage).WithMetadata(StreamingBodyAttribute.Instance);
        app.MapPost("/images/load", LoadImages).WithMetadata(StreamingBodyAttribute.Instance);
        app.MapPost("/images/prune", VerbRoutes.PruneImages);
        app.MapGet("/images/json", ListImages);
        app.MapGet("/images/get", (HttpContext ctx, EngineServices svc) => SaveImages(ctx, svc, ctx.Request.Query["names"].Where(n => !string.IsNullOrEmpty(n)).ToList()!));
        // Names contain '/', so the name and the action share one catch-all: /images/NAME/json, /images/NAME/get.
        app.MapGet("/images/{*rest}", ImageGet);
        app.MapPost("/images/{*rest}", ImagePost);
        app.MapDelete("/images/{*name}", RemoveImage);
        CommitExportRoutes.Map(app);
    }

    /// <summary>The server decodes a path except %2F, so a client that escaped the '/' of "library/x"
    /// would otherwise reach us with "library%2Fx". Image names never contain '%' (validated), so
    /// decoding again cannot change a valid name.</summary>
    static string Unescape(string s) => s.Contains('%') ? Uri.UnescapeDataString(s) : s;

    static (string Name, string Action) SplitAction(string rest)
    {
        rest = Unescape(rest);
        int slash = rest.LastIndexOf('/');
        if (slash <= 0) throw new BadRequestException($"unknown image route /images/{rest}");
        return (rest[..slash], rest[(slash + 1)..]);
    }

    static Task ImageGet(HttpContext ctx, string rest, EngineServices svc)
    {
        var (name, action) = SplitAction(rest);
        return action switch
        {
            "json" => InspectImage(ctx, name, svc).ContinueWith(t => t.Result.ExecuteAsync(ctx)).Unwrap(),
            "get" => SaveImages(ctx, svc, [name]),
            "history" => VerbRoutes.History(ctx, name, svc),
            _ => Error(new RouteNotFoundException("GET", $"/images/{rest}")).ExecuteAsync(ctx),
        };
    }

    static Task<IResult> ImagePost(HttpContext ctx, string rest, EngineServices svc) => Guard(async () =>
    {
        var (name, action) = SplitAction(rest);
        if (action == "push") return await RegistryRoutes.Push(ctx, name, svc);
        if (action != "tag") throw new RouteNotFoundException("POST", $"/images/{rest}");
        var repo = ctx.Request.Query["repo"].ToString();
        var tag = ctx.Request.Query["tag"].ToString();
        if (string.IsNullOrEmpty(repo)) throw new BadRequestException("repo (the new name) is required");
        var target = string.IsNullOrEmpty(tag) ? repo : $"{repo}:{tag}";
        await Task.Run(() => svc.Images.Tag(name, target));
        EventRoutes.Publish(ctx, "image", "tag", svc.Images.Resolve(target).Id, ("name", target));
        return Results.StatusCode(201);
    });

    // ---- images -------------------------------------------------------------------------------
    static Task<IResult> ImportImage(HttpContext ctx, EngineServices svc) => Guard(async () =>
    {
        if (ctx.Request.Query.ContainsKey("fromImage")) return await RegistryRoutes.Pull(ctx, svc); // docker pull
        if (ctx.Request.Query["fromSrc"] != "-") throw new BadRequestException("only fromSrc=- (the tarball as the request body) is supported");
        var repo = ctx.Request.Query["repo"].ToString();
        var tag = ctx.Request.Query["tag"].ToString();
        if (string.IsNullOrEmpty(repo)) throw new BadRequestException("repo (the image name) is required");
        var name = string.IsNullOrEmpty(tag) ? repo : $"{repo}:{tag}";
        var body = ctx.Request.Body;
        var image = await Task.Run(() => svc.Images.Import(body, name));
        EventRoutes.Publish(ctx, "image", "import", image.Id, ("name", image.Name));
        return Results.Json(new ImageImportResponse { Id = image.Id, Name = image.Name }, GockerJson.Default.ImageImportResponse);
    });

    /// <summary>POST /images/load: a docker save archive or OCI layout tar as the body. Everything is
    /// verified and registered before the answer, so a failure is a plain error status.</summary>
    static Task<IResult> LoadImages(HttpContext ctx, EngineServices svc) => Guard(async () =>
    {
        var body = ctx.Request.Body;
        var images = await Task.Run(() => svc.Images.LoadArchive(body));
        var sb = new System.Text.StringBuilder();
        foreach (var i in images)
        {
            EventRoutes.Publish(ctx, "image", "load", i.Id, ("name", i.Name));
            var text = i.Name == ImageStore.DanglingName ? $"Loaded image ID: {i.Id}\n" : $"Loaded image: {i.Name}\n";
            sb.Append(JsonSerializer.Serialize(new JsonMessage { Stream = text }, GockerImageJson.Default.JsonMessage)).Append('\n');
        }
        return Results.Text(sb.ToString(), "application/json");
    });

    /// <summary>GET /images/NAME/get and /images/get?names=: a docker save archive, streamed.</summary>
    static async Task SaveImages(HttpContext ctx, EngineServices svc, List<string> names)
    {
        List<ImageRecord> images;
        try
        {
            if (names.Count == 0) throw new BadRequestException("no image named (names=...)");
            images = names.Select(svc.Images.Resolve).ToList();
        }
        catch (Exception ex)
        {
            await Error(ex).ExecuteAsync(ctx);
            return;
        }
        ctx.Response.ContentType = "application/x-tar";
        // The console's progress bar: content bytes to come (the archive adds headers on top).
        ctx.Response.Headers["X-Gocker-Content-Size"] = images.Sum(i => i.SizeBytes).ToString();
        await ctx.Response.StartAsync(ctx.RequestAborted);
        var output = ctx.Response.Body;
        try
        {
            // TarWriter is synchronous; Kestrel's body stream forbids sync writes, so bridge it.
            await Task.Run(() =>
            {
                using var sync = new SyncOverAsyncStream(output, ctx.RequestAborted);
                svc.Images.Save(names, sync);
                sync.Flush();
            });
        }
        catch (Exception) when (ctx.Response.HasStarted)
        {
            // The status is sent already: cut the connection so the client sees a truncated archive, not a good one.
            ctx.Abort();
        }
    }

    static Task<IResult> InspectImage(HttpContext ctx, string name, EngineServices svc) => Guard(async () =>
    {
        var i = await Task.Run(() => svc.Images.Resolve(name));
        var inspect = new ImageInspect
        {
            Id = i.Id,
            RepoTags = svc.Images.NamesOf(i.Id).ToList(),
            RepoDigests = i.RepoDigests.ToList(),
            Parent = i.Parent ?? "",
            Comment = i.Comment ?? "",
            Created = i.Created.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffffffZ"),
            Size = i.SizeBytes,
            Config = new ImageInspectConfig
            {
                User = i.User, Env = i.Env.ToList(), Cmd = i.Cmd.ToList(), Entrypoint = i.Entrypoint?.ToList(), WorkingDir = i.WorkingDir,
                ExposedPorts = i.ExposedPorts.Length > 0 ? i.ExposedPorts.ToDictionary(p => p, _ => new EmptyObject()) : null,
                Volumes = i.Volumes.Length > 0 ? i.Volumes.ToDictionary(p => p, _ => new EmptyObject()) : null,
            },
            RootFS = new ImageInspectRootFs { Layers = i.LayerIds.ToList() },
            GockerLayerDirs = i.Layers.ToList(),
        };
        return Results.Json(inspect, GockerImageJson.Default.ImageInspect);
    });

    static IResult ListImages(EngineServices svc)
    {
        try
        {
            var list = svc.Images.List().Select(i => new ImageSummary
            {
                Id = i.Id, RepoTags = [i.Name], RepoDigests = i.RepoDigests.ToList(), Created = i.Created.ToUnixTimeSeconds(), Size = i.SizeBytes,
            }).ToList();
            return Results.Json(list, GockerJson.Default.ListImageSummary);
        }
        catch (Exception ex) { return Error(ex); }
    }

    /// <summary>Refused while a container (running or not) uses the image; with force=1 the name is
    /// removed but the image data stays (it becomes dangling) until no container needs it.</summary>
    static Task<IResult> RemoveImage(HttpContext ctx, string name, EngineServices svc) => Guard(async () =>
    {
        name = Unescape(name);
        var image = svc.Images.Resolve(name);
        var listing = await Ask<ContainerSupervisor.Listing>(ctx, new ContainerSupervisor.List(true));
        var user = listing.Containers.FirstOrDefault(r => r.Spec.ImageId == image.Id);
        bool force = QueryParams.Flag(ctx, "force");
        if (user is not null && !force)
            throw new ConflictException($"conflict: unable to remove image {name}: it is used by container {user.Spec.Id[..12]} (-f removes the name only)");
        var removal = await Task.Run(() => svc.Images.Delete(name, untagOnly: user is not null));
        foreach (var u in removal.Untagged) EventRoutes.Publish(ctx, "image", "untag", image.Id, ("name", u));
        foreach (var d in removal.Deleted) EventRoutes.Publish(ctx, "image", "delete", d, ("name", name));
        var items = removal.Untagged.Select(u => new ImageDeleteItem { Untagged = u })
            .Concat(removal.Deleted.Select(d => new ImageDeleteItem { Deleted = d })).ToList();
        return Results.Json(items, GockerImageJson.Default.ListImageDeleteItem);
    });
}
