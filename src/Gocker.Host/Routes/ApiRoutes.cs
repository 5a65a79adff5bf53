using Gocker.Actors.Engine;
using Gocker.Api;

namespace Gocker.Host;

/// <summary>The HTTP/JSON API, shaped after the Docker Engine API (v1.43 subset): the middleware and
/// the route table, one class per resource (Routes/…). Routes translate HTTP to engine messages and
/// the replies back; errors go through ErrorMapping.</summary>
public static class ApiRoutes
{
    public static void Map(WebApplication app)
    {
        ApiMiddleware.Use(app);

        // Docker's clients read API-Version from the ping to pick the version they speak (without it
        // the docker CLI falls back to 1.24).
        app.MapMethods("/_ping", ["GET", "HEAD"], (HttpContext ctx) =>
        {
            ctx.Response.Headers["API-Version"] = VersionResponse.Api;
            // The rest as dockerd sends them (the docker CLI reads OSType and Docker-Experimental).
            ctx.Response.Headers["OSType"] = "linux";
            ctx.Response.Headers["Docker-Experimental"] = "false";
            ctx.Response.Headers["Swarm"] = "inactive";
            ctx.Response.Headers.CacheControl = "no-cache, no-store, must-revalidate";
            ctx.Response.Headers.Pragma = "no-cache";
            return Results.Text("OK");
        });
        app.MapGet("/version", (EngineServices svc) => Results.Json(new VersionResponse
        {
            Version = typeof(ApiRoutes).Assembly.GetName().Version?.ToString(3) ?? "0.1.0",
            KernelVersion = Environment.OSVersion.Version.ToString(),
            CgroupMode = svc.Cgroups.Mode.ToString().ToLowerInvariant(),
        }, GockerJson.Default.VersionResponse));

        var c = app.MapGroup("/containers");
        ContainerRoutes.Map(c);
        ContainerStreamRoutes.Map(c);
        ContainerTopStatsRoutes.Map(c);
        VerbRoutes.Map(app);
        AttachSession.Map(c);
        ArchiveRoutes.Map(c);

        ImageRoutes.Map(app);
        RegistryRoutes.Map(app);
        NetworkRoutes.Map(app);
        EventRoutes.Map(app);
        DebugRoutes.Map(app);
        ExecRoutes.Map(app);
        GroupRoutes.Map(app);
        SystemRoutes.Map(app);
        VolumeRoutes.Map(app);
        BuildRoutes.Map(app);
        RequestLimits.MapNotFound(app);
    }
}
