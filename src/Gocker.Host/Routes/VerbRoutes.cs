using System.Text.Json;
using Gocker.Actors.Containers;
using Gocker.Actors.Engine;
using Gocker.Api;
using Gocker.Images;
using static Gocker.Host.EngineAsk;
using static Gocker.Host.ErrorMapping;

namespace Gocker.Host;

/// <summary>rename, update, changes, container/network prune and image history (Docker Engine API
/// v1.43 shapes), and the prune filters (until, label, label!, dangling) shared with image prune.</summary>
public static class VerbRoutes
{
    public static void Map(WebApplication app)
    {
        app.MapPost("/containers/{id}/rename", Rename);
        app.MapPost("/containers/{id}/update", Update);
        app.MapGet("/containers/{id}/changes", Changes);
        app.MapPost("/containers/prune", PruneContainers);
        app.MapPost("/networks/prune", PruneNetworks);
    }

    static Task<IResult> Rename(HttpContext ctx, string id) => Guard(async () =>
    {
        var name = ctx.Request.Query["name"].ToString();
        var full = (await Ask<ContainerSupervisor.Resolved>(ctx, new ContainerSupervisor.Resolve(id))).Id;
        await Ask<ContainerActor.Ack>(ctx, new ContainerSupervisor.RenameContainer(full, name));
        // A running container's peers resolve the new name at once (their hosts files are rewritten),
        // as Docker's embedded DNS answers it at once.
        ctx.RequestServices.GetService<Gocker.Network.INetworkManager>()?.Rename(full, name.TrimStart('/'));
        return Results.NoContent();
    });

    static Task<IResult> Update(HttpContext ctx, string id) => Guard(async () =>
    {
        var req = (await RequestLimits.ReadJsonAsync(ctx, GockerVerbJson.Default.ContainerUpdateRequest))
                  ?? throw new BadRequestException("update: the body must be a JSON object");
        await AskContainer<ContainerActor.Ack>(ctx, id, new ContainerActor.Update(req));
        return Results.Json(new ContainerUpdateResponse(), GockerVerbJson.Default.ContainerUpdateResponse);
    });

    static Task<IResult> Changes(HttpContext ctx, string id, EngineServices svc) => Guard(async () =>
    {
        var r = await AskContainer<ContainerRecord>(ctx, id, new ContainerActor.Inspect());
        var s = r.Spec;
        var targets = s.Volumes.Select(v => v.Destination).Concat(s.Tmpfs.Select(t => t.Destination)).Concat(s.Devices.Select(d => d.Path));
        var changes = await Task.Run(() => ContainerChanges.Compute(ContainerFiles.UpperDir(svc, s.Id), s.ImageLayers, targets));
        // Docker answers null for no changes.
        if (changes.Count == 0) return Results.Text("null", "application/json");
        return Results.Json(changes.Select(c => new ContainerChange { Path = c.Path, Kind = c.Kind }).ToList(), GockerVerbJson.Default.ListContainerChange);
    });

    /// <summary>GET /images/{name}/history (reached through ImageRoutes' catch-all).</summary>
    public static async Task History(HttpContext ctx, string name, EngineServices svc)
    {
        IResult result;
        try
        {
            var entries = await Task.Run(() => svc.Images.History(name));
            result = Results.Json(entries.Select(e => new ImageHistoryItem
            {
                Id = e.Id, Created = e.Created.ToUnixTimeSeconds(), CreatedBy = e.CreatedBy,
                Tags = e.Tags.Count > 0 ? [.. e.Tags] : null, Size = e.Size, Comment = e.Comment,
            }).ToList(), GockerVerbJson.Default.ListImageHistoryItem);
        }
        catch (Exception ex) { result = Error(ex); }
        await result.ExecuteAsync(ctx);
    }

    /// <summary>Docker's container prune: every stopped container (created, exited, dead) that the
    /// filters select; running, paused and restarting ones stay.</summary>
    static Task<IResult> PruneContainers(HttpContext ctx, EngineServices svc) => Guard(async () =>
    {
        var f = PruneFilters.Parse(ctx.Request.Query["filters"].ToString(), ["until", "label", "label!"], DateTimeOffset.UtcNow);
        var listing = await Ask<ContainerSupervisor.Listing>(ctx, new ContainerSupervisor.List(true));
        var deleted = new List<string>();
        long reclaimed = 0;
        foreach (var r in listing.Containers)
        {
            if (r.Status is not (ContainerStatus.Created or ContainerStatus.Exited or ContainerStatus.Dead)) continue;
            if (!f.Matches(r.Spec.Created, r.Spec.Labels)) continue;
            var size = UpperSize(ContainerFiles.UpperDir(svc, r.Spec.Id));
            try { await AskContainer<ContainerActor.Ack>(ctx, r.Spec.Id, new ContainerActor.Remove(false)); }
            // Started or removed meanwhile: not ours to prune any more.
            catch (Exception ex) when (ex is ConflictException or ContainerNotFoundException) { continue; }
            deleted.Add(r.Spec.Id);
            reclaimed += size;
        }
        EventRoutes.Publish(ctx, "container", "prune", "", ("reclaimed", reclaimed.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        return Results.Json(new ContainerPruneResponse { ContainersDeleted = deleted.Count > 0 ? deleted : null, SpaceReclaimed = reclaimed },
            GockerVerbJson.Default.ContainerPruneResponse);
    });

    static long UpperSize(string dir)
    {
        try
        {
            return new DirectoryInfo(dir).EnumerateFiles("*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint, IgnoreInaccessible = true })
                .Sum(f => f.Length);
        }
        catch (IOException) { return 0; }
    }

    /// <summary>Docker's network prune: user networks with no container attached. Deliberately
    /// stricter than Docker: a network a stopped container is configured for stays too (Docker
    /// removes it and that container's next start fails).</summary>
    static Task<IResult> PruneNetworks(HttpContext ctx, EngineServices svc) => Guard(async () =>
    {
        var f = PruneFilters.Parse(ctx.Request.Query["filters"].ToString(), ["until", "label", "label!"], DateTimeOffset.UtcNow);
        var net = ctx.RequestServices.GetService<Gocker.Network.INetworkManager>();
        var deleted = new List<string>();
        if (net is not null)
        {
            var listing = await Ask<ContainerSupervisor.Listing>(ctx, new ContainerSupervisor.List(true));
            var wanted = new HashSet<string>(StringComparer.Ordinal);
            foreach (var r in listing.Containers)
                if (r.Spec.NetworkMode is { } mode and not ("none" or "host"))
                {
                    try { wanted.Add(net.Inspect(mode).Network.Id); }
                    catch (Gocker.Network.NetworkNotFoundException) { }
                    // And every network it was connected to (`network connect`), running or not.
                    wanted.UnionWith(r.Spec.ExtraNetworks.Select(e => e.NetworkId));
                }
            foreach (var info in net.List())
            {
                var n = info.Network;
                if (n.IsDefault || info.Members.Count > 0 || wanted.Contains(n.Id)) continue;
                if (!f.Matches(n.Created, n.Labels)) continue;
                try { net.Remove(n.Id); }
                catch (Gocker.Network.NetworkConflictException) { continue; } // a container joined meanwhile
                catch (Gocker.Network.NetworkNotFoundException) { continue; }
                EventRoutes.Publish(ctx, "network", "destroy", n.Id, ("name", n.Name), ("type", "bridge"));
                deleted.Add(n.Name);
            }
        }
        EventRoutes.Publish(ctx, "network", "prune", "");
        return Results.Json(new NetworkPruneResponse { NetworksDeleted = deleted.Count > 0 ? deleted : null }, GockerVerbJson.Default.NetworkPruneResponse);
    });

    /// <summary>POST /images/prune: dangling images (or every unused one with dangling=false) no
    /// container uses, further narrowed by `until`, `label` and `label!` (each given filter must hold;
    /// an image without labels never matches `label=...`). Before this, filters other than dangling
    /// were ignored and `prune -a --filter label=x` deleted every unused image.</summary>
    public static Task<IResult> PruneImages(HttpContext ctx, EngineServices svc) => Guard(async () =>
    {
        var f = PruneFilters.Parse(ctx.Request.Query["filters"].ToString(), ["dangling", "until", "label", "label!"], DateTimeOffset.UtcNow);
        bool all = f.Dangling == false;
        var listing = await Ask<ContainerSupervisor.Listing>(ctx, new ContainerSupervisor.List(true));
        var inUse = listing.Containers.Select(r => r.Spec.ImageId).ToHashSet(StringComparer.Ordinal);
        var response = new ImagePruneResponse();
        var images = svc.Images.List();
        var sizes = images.GroupBy(i => i.Id).ToDictionary(g => g.Key, g => g.First().SizeBytes);
        await Task.Run(() =>
        {
            foreach (var image in images)
            {
                if (inUse.Contains(image.Id)) continue;
                bool dangling = image.Name == ImageStore.DanglingName;
                if (!dangling && !all) continue;
                if (!f.Matches(image.Created, image.Labels)) continue;
                ImageRemoval removal;
                try { removal = svc.Images.Delete(dangling ? image.Id : image.Name, untagOnly: false); }
                catch (ImageNotFoundException) { continue; } // removed meanwhile
                // A dangling image another was committed from (its parent) is kept by the store.
                catch (ArgumentException) { continue; }
                response.ImagesDeleted.AddRange(removal.Untagged.Select(u => new ImageDeleteItem { Untagged = u }));
                response.ImagesDeleted.AddRange(removal.Deleted.Select(d => new ImageDeleteItem { Deleted = d }));
                response.SpaceReclaimed += removal.Deleted.Sum(d => sizes.GetValueOrDefault(d));
                foreach (var u in removal.Untagged) EventRoutes.Publish(ctx, "image", "untag", image.Id, ("name", u));
                foreach (var d in removal.Deleted) EventRoutes.Publish(ctx, "image", "delete", d, ("name", image.Name));
            }
        });
        return Results.Json(response, GockerImageJson.Default.ImagePruneResponse);
    });
}

/// <summary>The `filters` of the prune endpoints: {"until":["24h"],"label":["k=v"],"label!":["k"],
/// "dangling":["false"]} (the older {"label":{"k=v":true}} form too). A filter name the endpoint does
/// not take is refused by name, as Docker does.</summary>
public sealed class PruneFilters
{
    public DateTimeOffset? Until { get; private init; }
    public bool? Dangling { get; private init; }
    Func<IReadOnlyDictionary<string, string>?, bool>? _label;
    Func<IReadOnlyDictionary<string, string>?, bool>? _notLabel;

    public bool Matches(DateTimeOffset created, IReadOnlyDictionary<string, string>? labels) =>
        (Until is not { } u || created < u) && (_label is null || _label(labels)) && (_notLabel is null || !_notLabel(labels));

    public static PruneFilters Parse(string json, IReadOnlyCollection<string> allowed, DateTimeOffset now)
    {
        var values = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        if (!string.IsNullOrEmpty(json))
        {
            try
            {
                using var doc = JsonDocument.Parse(json);
                if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new BadRequestException("invalid filters: expected a JSON object");
                foreach (var p in doc.RootElement.EnumerateObject())
                {
                    if (!allowed.Contains(p.Name)) throw new BadRequestException($"invalid filter '{p.Name}'");
                    var list = values.TryGetValue(p.Name, out var l) ? l : values[p.Name] = [];
                    if (p.Value.ValueKind == JsonValueKind.Array) list.AddRange(p.Value.EnumerateArray().Select(v => v.GetString() ?? ""));
                    else if (p.Value.ValueKind == JsonValueKind.Object) list.AddRange(p.Value.EnumerateObject().Where(v => v.Value.ValueKind != JsonValueKind.False).Select(v => v.Name));
                    else throw new BadRequestException($"invalid filter '{p.Name}': expected a list of values");
                }
            }
            catch (Exception ex) when (ex is JsonException or InvalidOperationException)
            {
                throw new BadRequestException($"invalid filters: {ex.Message}");
            }
        }
        DateTimeOffset? until = null;
        if (values.TryGetValue("until", out var u))
        {
            if (u.Count != 1) throw new BadRequestException("invalid filter 'until': give one value");
            until = EventTimes.TryParseCli(u[0], now, out var t) ? t
                : throw new BadRequestException($"invalid filter 'until={u[0]}': expected a duration (24h), unix seconds or an RFC3339 time");
        }
        bool? dangling = null;
        if (values.TryGetValue("dangling", out var d))
        {
            if (d.Count != 1) throw new BadRequestException("invalid filter 'dangling': give one value");
            dangling = d[0] switch
            {
                "true" or "1" => true,
                "false" or "0" => false,
                _ => throw new BadRequestException($"invalid filter 'dangling={d[0]}': expected true or false"),
            };
        }
        var result = new PruneFilters { Until = until, Dangling = dangling };
        if (values.TryGetValue("label", out var labels) && labels.Count > 0) result._label = LabelFilter.Parse(labels);
        if (values.TryGetValue("label!", out var notLabels) && notLabels.Count > 0)
        {
            // label!=k: no listed label may match (each value on its own, as Docker's).
            var each = notLabels.Select(v => LabelFilter.Parse([v])).ToList();
            result._notLabel = l => each.Any(m => m(l));
        }
        return result;
    }
}

/// <summary>How long a stop route waits for its answer when the caller gave no `t`.</summary>
static class VerbStops
{
    public static async Task<TimeSpan> GraceOf(HttpContext ctx, string id, EngineServices svc)
    {
        var r = await AskContainer<ContainerRecord>(ctx, id, new ContainerActor.Inspect());
        var grace = ContainerActor.StopTimeoutOf(r.Spec, svc.Options.DefaultStopTimeout);
        // -1: no SIGKILL; the answer may take as long as the container does (the most a timer takes).
        return grace < TimeSpan.Zero ? TimeSpan.FromSeconds(QueryParams.MaxStopSeconds) : grace;
    }
}
