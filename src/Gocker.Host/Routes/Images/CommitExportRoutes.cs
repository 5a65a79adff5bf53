using Gocker.Actors.Containers;
using Gocker.Actors.Engine;
using Gocker.Api;
using Gocker.Images;
using static Gocker.Host.EngineAsk;
using static Gocker.Host.ErrorMapping;

namespace Gocker.Host;

/// <summary>commit and export: an image or a tar made from a container's files. They read the
/// container's record through its actor (read-only) and its files from the layer dirs on the host: the
/// container's merged rootfs is mounted only inside its own mount namespace.</summary>
public static class CommitExportRoutes
{
    public static void Map(WebApplication app)
    {
        app.MapPost("/commit", Commit);
        app.MapGet("/containers/{id}/export", Export);
    }

    /// <summary>POST /commit?container=ID&amp;repo=NAME&amp;tag=TAG&amp;comment=&amp;author=&amp;pause=
    /// A running container is frozen while its upper dir is read (Docker's pause=true default), so
    /// the layer is one consistent moment of its filesystem; it is thawed whatever happens.</summary>
    static Task<IResult> Commit(HttpContext ctx, EngineServices svc) => Guard(async () =>
    {
        var id = ctx.Request.Query["container"].ToString();
        if (string.IsNullOrEmpty(id)) throw new BadRequestException("container is required");
        var repo = ctx.Request.Query["repo"].ToString();
        var tag = ctx.Request.Query["tag"].ToString();
        string? name = string.IsNullOrEmpty(repo) ? null : string.IsNullOrEmpty(tag) ? repo : $"{repo}:{tag}";
        if (name is not null) ImageReference.Normalize(name); // a bad name fails before any work
        var r = await AskContainer<ContainerRecord>(ctx, id, new ContainerActor.Inspect());
        var pause = ctx.Request.Query["pause"].ToString() is not ("0" or "false");
        var paused = false;
        if (pause && r.Status == ContainerStatus.Running)
        {
            // It may exit in between: then there is nothing to freeze, and the commit goes on.
            try { await AskContainer<ContainerActor.Ack>(ctx, r.Spec.Id, new ContainerActor.Pause()); paused = true; }
            catch (ConflictException) { }
        }
        try
        {
            return await CommitCore(ctx, svc, r, name);
        }
        finally
        {
            if (paused)
            {
                try { await AskContainer<ContainerActor.Ack>(ctx, r.Spec.Id, new ContainerActor.Unpause()); }
                catch (ConflictException) { /* exited or removed meanwhile */ }
            }
        }
    });

    static async Task<IResult> CommitCore(HttpContext ctx, EngineServices svc, ContainerRecord r, string? name)
    {
        var image = await Task.Run(() => svc.Images.CommitContainer(new ContainerCommit
        {
            UpperDir = ContainerFiles.UpperDir(svc, r.Spec.Id),
            BaseImageId = r.Spec.ImageId,
            Userns = r.Spec.Userns,
            Name = name,
            Env = r.Spec.Env,
            Args = r.Spec.Args,
            WorkingDir = r.Spec.WorkingDir,
            Comment = ctx.Request.Query["comment"].ToString() is { Length: > 0 } c ? c : null,
            Author = ctx.Request.Query["author"].ToString() is { Length: > 0 } a ? a : null,
        }));
        return Results.Json(new IdResponse { Id = image.Id }, GockerImageJson.Default.IdResponse, statusCode: 201);
    }

    /// <summary>GET /containers/ID/export: the merged rootfs (upper dir over the image layers) as a tar.</summary>
    static async Task Export(HttpContext ctx, string id, EngineServices svc)
    {
        ContainerRecord r;
        try { r = await AskContainer<ContainerRecord>(ctx, id, new ContainerActor.Inspect()); }
        catch (Exception ex)
        {
            await Error(ex).ExecuteAsync(ctx);
            return;
        }
        var layers = new[] { ContainerFiles.UpperDir(svc, r.Spec.Id) }.Concat(r.Spec.ImageLayers).ToList();
        ctx.Response.ContentType = "application/x-tar";
        await ctx.Response.StartAsync(ctx.RequestAborted);
        try
        {
            await Task.Run(() =>
            {
                using var sync = new SyncOverAsyncStream(ctx.Response.Body, ctx.RequestAborted);
                ImageStore.Export(layers, sync, upperIds: r.Spec.Userns);
                sync.Flush();
            });
        }
        catch (Exception)
        {
            ctx.Abort(); // a truncated stream, never a tar that looks complete
        }
    }
}
