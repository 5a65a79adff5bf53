using Gocker.Actors.Containers;
using Gocker.Actors.Engine;
using Gocker.Api;
using static Gocker.Host.ApiRoutes;

namespace Gocker.Host;

/// <summary>Image routes (Docker Engine API shapes).</summary>
public static class ImageRoutes
{
    public static void Map(WebApplication app)
    {
        app.MapPost("/images/create", ImportImage);
        app.MapGet("/images/json", ListImages);
        app.MapDelete("/images/{*name}", RemoveImage);
    }

    // ---- images -------------------------------------------------------------------------------
    static Task<IResult> ImportImage(HttpContext ctx, EngineServices svc) => Guard(async () =>
    {
        if (ctx.Request.Query["fromSrc"] != "-") throw new BadRequestException("only fromSrc=- (the tarball as the request body) is supported");
        var repo = ctx.Request.Query["repo"].ToString();
        var tag = ctx.Request.Query["tag"].ToString();
        if (string.IsNullOrEmpty(repo)) throw new BadRequestException("repo (the image name) is required");
        var name = string.IsNullOrEmpty(tag) ? repo : $"{repo}:{tag}";
        var body = ctx.Request.Body;
        var image = await Task.Run(() => svc.Images.Import(body, name));
        return Results.Json(new ImageImportResponse { Id = image.Id, Name = image.Name }, GockerJson.Default.ImageImportResponse);
    });

    static IResult ListImages(EngineServices svc)
    {
        try
        {
            var list = svc.Images.List().Select(i => new ImageSummary
            {
                Id = i.Id, RepoTags = [i.Name], Created = i.Created.ToUnixTimeSeconds(), Size = i.SizeBytes,
            }).ToList();
            return Results.Json(list, GockerJson.Default.ListImageSummary);
        }
        catch (Exception ex) { return Error(ex); }
    }

    static Task<IResult> RemoveImage(HttpContext ctx, string name, EngineServices svc) => Guard(async () =>
    {
        var image = svc.Images.Resolve(name);
        var listing = await Ask<ContainerSupervisor.Listing>(ctx, new ContainerSupervisor.List(true));
        var user = listing.Containers.FirstOrDefault(r => r.Spec.ImageId == image.Id);
        if (user is not null)
            throw new ConflictException($"conflict: unable to remove image {name}: it is used by container {user.Spec.Id[..12]}");
        svc.Images.Remove(name);
        return Results.Ok();
    });
}
