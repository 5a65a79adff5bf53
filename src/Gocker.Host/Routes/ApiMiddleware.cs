namespace Gocker.Host;

/// <summary>What runs before any route, in this order: the API-version prefix is stripped, routing,
/// body limits and JSON errors (RequestLimits), the full-disk guard (StorageGuard).</summary>
public static class ApiMiddleware
{
    public static void Use(WebApplication app)
    {
        // Docker clients prefix paths with the API version (/v1.43/containers/json).
        app.Use((ctx, next) =>
        {
            // A thread-pool thread started from a niced container thread inherits its nice value
            // (ContainerThreads): the API never runs at it.
            Gocker.Syscalls.Spawn.ThreadNice.EnsureBase();
            var p = ctx.Request.Path.Value ?? "";
            if (p.Length > 2 && p[1] == 'v' && char.IsAsciiDigit(p[2]))
            {
                var slash = p.IndexOf('/', 1);
                if (slash > 0) ctx.Request.Path = p[slash..];
            }
            return next(ctx);
        });
        // Routing must come after the rewrite: WebApplication otherwise matches routes first, and
        // every versioned path answered 404.
        app.UseRouting();
        // Body limits, JSON errors for what no route catches, exact application/json (RequestLimits).
        RequestLimits.Use(app);
        // New work on a full data root: refused before anything is made (507, StorageGuard).
        StorageGuard.Use(app);
    }
}
