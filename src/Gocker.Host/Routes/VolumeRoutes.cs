using Gocker.Actors.Containers;
using Gocker.Actors.Engine;
using Gocker.Actors.Volumes;
using Gocker.Api;
using static Gocker.Host.EngineAsk;
using static Gocker.Host.ErrorMapping;

namespace Gocker.Host;

/// <summary>/volumes in the Docker Engine API's shapes (v1.43), on the daemon's VolumeStore (the
/// `local` driver under DATA/volumes), and the volume side of container inspect.</summary>
public static class VolumeRoutes
{
    public static void Map(WebApplication app)
    {
        var v = app.MapGroup("/volumes");
        v.MapGet("", List);
        v.MapPost("/create", Create);
        v.MapPost("/prune", Prune);
        v.MapGet("/{name}", Inspect);
        v.MapDelete("/{name}", Remove);
    }

    static Task<IResult> Run(Func<IResult> handler) => Guard(() =>
    {
        try { return Task.FromResult(handler()); }
        catch (VolumeNotFoundException e)
        {
            return Task.FromResult(Results.Json(new ErrorResponse { Message = e.Message }, GockerJson.Default.ErrorResponse, statusCode: 404));
        }
    });

    public static VolumeResponse ToApi(VolumeRecord v, VolumeStore store) => new()
    {
        Name = v.Name,
        Driver = v.Driver,
        Mountpoint = store.DataPath(v.Name),
        CreatedAt = v.CreatedAt.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture),
        Labels = v.Labels,
        Options = v.Options,
    };

    static Task<IResult> List(HttpContext ctx, EngineServices svc) => Run(() =>
    {
        var match = ParseFilters(ctx.Request.Query["filters"].ToString(), svc.Volumes, prune: false);
        var list = svc.Volumes.List().Where(match.Test).Select(v => ToApi(v, svc.Volumes)).ToList();
        return Results.Json(new VolumeListResponse { Volumes = list }, VolumeApiJson.Default.VolumeListResponse);
    });

    static Task<IResult> Inspect(string name, EngineServices svc) => Run(() =>
        Results.Json(ToApi(svc.Volumes.Get(name), svc.Volumes), VolumeApiJson.Default.VolumeResponse));

    static Task<IResult> Create(HttpContext ctx, EngineServices svc) => Guard(async () =>
    {
        var req = await RequestLimits.ReadJsonAsync(ctx, VolumeApiJson.Default.VolumeCreateRequest, required: false) ?? new VolumeCreateRequest();
        ContainerSpecFactory.RefuseUnsupported("", req.Unsupported);
        ContainerSpecFactory.CheckLabels(req.Labels);
        var (vol, created) = svc.Volumes.Create(req.Name, req.Driver, req.DriverOpts, req.Labels, svc.Options.UsernsRemap);
        if (created) EventRoutes.Publish(ctx, "volume", "create", vol.Name, ("driver", vol.Driver));
        return Results.Json(ToApi(vol, svc.Volumes), VolumeApiJson.Default.VolumeResponse, statusCode: 201);
    });

    static Task<IResult> Remove(HttpContext ctx, string name, EngineServices svc) => Run(() =>
    {
        var existed = svc.Volumes.List().Any(v => v.Name == name);
        svc.Volumes.Remove(name, QueryParams.Flag(ctx, "force"));
        if (existed) EventRoutes.Publish(ctx, "volume", "destroy", name, ("driver", VolumeStore.LocalDriver));
        return Results.StatusCode(204);
    });

    static Task<IResult> Prune(HttpContext ctx, EngineServices svc) => Run(() =>
    {
        var match = ParseFilters(ctx.Request.Query["filters"].ToString(), svc.Volumes, prune: true);
        var (deleted, bytes) = svc.Volumes.Prune(match.Test, match.All);
        foreach (var name in deleted) EventRoutes.Publish(ctx, "volume", "destroy", name, ("driver", VolumeStore.LocalDriver));
        EventRoutes.Publish(ctx, "volume", "prune", "", ("reclaimed", bytes.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        return Results.Json(new VolumePruneResponse { VolumesDeleted = deleted, SpaceReclaimed = bytes }, VolumeApiJson.Default.VolumePruneResponse);
    });

    public sealed record Filter(Func<VolumeRecord, bool> Test, bool All);

    /// <summary>
    /// GET /volumes: name (a substring, as Docker's), label (KEY or KEY=VALUE, all must match),
    /// dangling (true: used by no container), driver. POST /volumes/prune: label, label! (none of
    /// them), all (true: named volumes too; Docker 23+ prunes anonymous ones only by default).
    /// Any other key is refused.
    /// </summary>
    public static Filter ParseFilters(string? json, VolumeStore store, bool prune)
    {
        var map = DockerFilters.Parse(json);
        var tests = new List<Func<VolumeRecord, bool>>();
        bool all = false;
        foreach (var (key, values) in map)
        {
            switch (key)
            {
                case "name" when !prune:
                    tests.Add(v => values.Any(x => v.Name.Contains(x, StringComparison.Ordinal)));
                    break;
                case "driver" when !prune:
                    tests.Add(v => values.Contains(v.Driver));
                    break;
                case "dangling" when !prune:
                    var wanted = values.Select(x => x switch
                    {
                        "true" or "1" => true,
                        "false" or "0" => false,
                        _ => throw new BadRequestException($"invalid filter 'dangling={x}' (true or false)"),
                    }).Distinct().ToList();
                    tests.Add(v => wanted.Contains(store.UsersOf(v.Name).Count == 0));
                    break;
                case "label":
                    var labels = LabelFilter.Parse(values);
                    tests.Add(v => labels(v.Labels));
                    break;
                case "label!" when prune:
                    var notLabels = values.Select(x => LabelFilter.Parse([x])).ToList();
                    tests.Add(v => !notLabels.Any(l => l(v.Labels)));
                    break;
                case "all" when prune:
                    foreach (var x in values)
                        all = x switch
                        {
                            "true" or "1" => true,
                            "false" or "0" => all,
                            _ => throw new BadRequestException($"invalid filter 'all={x}' (true or false)"),
                        };
                    break;
                default:
                    throw new BadRequestException($"invalid filter '{key}'");
            }
        }
        return new Filter(v => tests.All(t => t(v)), all);
    }

    // ---- the container side ----------------------------------------------------------------------

    /// <summary>HostConfig.Binds of inspect: the -v binds and named volumes as Docker writes them back.</summary>
    public static List<string> BindsOf(ContainerSpec s)
    {
        if (s.Mounts.Length == 0) return s.Volumes.Select(v => $"{v.Source}:{v.Destination}{(v.ReadOnly ? ":ro" : "")}").ToList();
        return s.Mounts.Where(m => m.Type == "bind" || (m.Type == "volume" && !m.Anonymous))
            .Select(m => $"{(m.Type == "bind" ? m.Source : m.Name)}:{m.Destination}{(m.ReadOnly ? ":ro" : "")}").ToList();
    }

    /// <summary>Mounts of container inspect (Docker's MountPoint: Type, Name, Source, Destination,
    /// Driver, Mode, RW, Propagation).</summary>
    public static List<MountPoint> MountPointsOf(ContainerSpec s)
    {
        if (s.Mounts.Length == 0)
            return s.Volumes.Select(v => new MountPoint { Type = "bind", Source = v.Source, Destination = v.Destination, RW = !v.ReadOnly, Propagation = "rprivate" }).ToList();
        return s.Mounts.Select(m => new MountPoint
        {
            Type = m.Type,
            Name = m.Type == "volume" ? m.Name : null,
            Source = m.Source,
            Destination = m.Destination,
            Driver = m.Type == "volume" ? VolumeStore.LocalDriver : null,
            Mode = m.Type == "tmpfs" ? "" : m.Mode,
            RW = !m.ReadOnly,
            Propagation = m.Propagation,
        }).ToList();
    }
}

/// <summary>The `filters` query parameter of Docker's list and prune endpoints: a JSON object of
/// key -> [values] (or key -> {value: true}, the older form).</summary>
public static class DockerFilters
{
    public static Dictionary<string, List<string>> Parse(string? json)
    {
        if (string.IsNullOrEmpty(json)) return [];
        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(json);
            if (doc.RootElement.ValueKind != System.Text.Json.JsonValueKind.Object) throw new BadRequestException("invalid filters: expected a JSON object");
            return doc.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.ValueKind switch
            {
                System.Text.Json.JsonValueKind.Array => p.Value.EnumerateArray().Select(v => v.GetString() ?? "").ToList(),
                System.Text.Json.JsonValueKind.Object => p.Value.EnumerateObject().Select(v => v.Name).ToList(),
                _ => throw new BadRequestException($"invalid filter value for '{p.Name}'"),
            });
        }
        catch (System.Text.Json.JsonException ex) { throw new BadRequestException($"invalid filters: {ex.Message}"); }
        catch (InvalidOperationException ex) { throw new BadRequestException($"invalid filters: {ex.Message}"); }
    }
}
