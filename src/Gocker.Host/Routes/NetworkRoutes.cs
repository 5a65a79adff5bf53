using Gocker.Actors.Containers;
using Gocker.Api;
using Gocker.Network;
using Gocker.Network.Api;
using Gocker.Network.Cni;
using static Gocker.Host.EngineAsk;
using static Gocker.Host.ErrorMapping;

namespace Gocker.Host;

/// <summary>Network routes (Docker Engine API shapes). Needs an <see cref="INetworkManager"/>
/// singleton in the service collection.</summary>
public static class NetworkRoutes
{
    public static void Map(WebApplication app)
    {
        var n = app.MapGroup("/networks");
        // Cast to Delegate: a handler taking only HttpContext would otherwise bind as a
        // RequestDelegate and its IResult would be discarded (an empty 200).
        n.MapGet("", (Delegate)ListNetworks);
        n.MapPost("/create", (Delegate)CreateNetwork);
        n.MapGet("/{id}", InspectNetwork);
        n.MapDelete("/{id}", RemoveNetwork);
        n.MapPost("/{id}/connect", Connect);
        n.MapPost("/{id}/disconnect", Disconnect);
    }

    static INetworkManager Net(HttpContext ctx) => ctx.RequestServices.GetRequiredService<INetworkManager>();

    static async Task<IResult> Run(Func<Task<IResult>> handler)
    {
        try { return await handler(); }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            var e = ex is AggregateException { InnerException: { } inner } ? inner : ex;
            int? code = e switch
            {
                NetworkNotFoundException => 404,
                NetworkConflictException => 409,
                CniException => 500,
                _ => null,
            };
            return code is { } c
                ? Results.Json(new ErrorResponse { Message = e.Message }, GockerJson.Default.ErrorResponse, statusCode: c)
                : Error(e);
        }
    }

    static Task<IResult> ListNetworks(HttpContext ctx) => Run(() =>
    {
        var match = ParseFilters(ctx.Request.Query["filters"].ToString());
        return Task.FromResult(Results.Json(Net(ctx).List().Select(NetworkResource.From).Where(match).ToList(), NetworkApiJson.Default.ListNetworkResource));
    });

    /// <summary>The `filters` of GET /networks: name (a pattern, as Docker's), id (a prefix), label
    /// (KEY or KEY=VALUE, all must match), driver, type (custom|builtin), scope (local). Values of
    /// one key are alternatives (label: all), keys must all match. Any other key is refused.</summary>
    public static Func<NetworkResource, bool> ParseFilters(string? json)
    {
        if (string.IsNullOrEmpty(json)) return _ => true;
        Dictionary<string, List<string>> map;
        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(json);
            map = doc.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.ValueKind switch
            {
                System.Text.Json.JsonValueKind.Array => p.Value.EnumerateArray().Select(v => v.GetString() ?? "").ToList(),
                System.Text.Json.JsonValueKind.Object => p.Value.EnumerateObject().Select(v => v.Name).ToList(),
                _ => throw new BadRequestException($"invalid filter value for '{p.Name}'"),
            });
        }
        catch (System.Text.Json.JsonException ex) { throw new BadRequestException($"invalid filters: {ex.Message}"); }
        var tests = new List<Func<NetworkResource, bool>>();
        foreach (var (key, values) in map)
        {
            switch (key)
            {
                case "name":
                    var patterns = values.Select(v =>
                    {
                        try { return new System.Text.RegularExpressions.Regex(v, System.Text.RegularExpressions.RegexOptions.None, TimeSpan.FromMilliseconds(100)); }
                        catch (ArgumentException ex) { throw new BadRequestException($"invalid filter 'name={v}': {ex.Message}"); }
                    }).ToList();
                    tests.Add(n => values.Contains(n.Name) || patterns.Any(p => p.IsMatch(n.Name)));
                    break;
                case "id":
                    tests.Add(n => values.Any(v => n.Id.StartsWith(v, StringComparison.Ordinal)));
                    break;
                case "label":
                    var labels = LabelFilter.Parse(values);
                    tests.Add(n => labels(n.Labels));
                    break;
                case "driver":
                    tests.Add(n => values.Contains(n.Driver));
                    break;
                case "scope":
                    tests.Add(n => values.Contains(n.Scope));
                    break;
                case "type":
                    foreach (var v in values)
                        if (v is not ("custom" or "builtin")) throw new BadRequestException($"invalid filter 'type={v}' (custom or builtin)");
                    // The pre-defined network is the only built-in one (`host` and `none` are modes here, not listed).
                    tests.Add(n => values.Contains(n.Labels.ContainsKey("io.gocker.network.default") ? "builtin" : "custom"));
                    break;
                default:
                    throw new BadRequestException($"invalid filter '{key}'");
            }
        }
        return n => tests.All(t => t(n));
    }

    static Task<IResult> InspectNetwork(HttpContext ctx, string id) => Run(() =>
        Task.FromResult(Results.Json(NetworkResource.From(Net(ctx).Inspect(id)), NetworkApiJson.Default.NetworkResource)));

    static Task<IResult> CreateNetwork(HttpContext ctx) => Run(async () =>
    {
        var req = (await RequestLimits.ReadJsonAsync(ctx, NetworkApiJson.Default.NetworkCreateRequest))!;
        if (string.IsNullOrEmpty(req.Name)) throw new BadRequestException("network name is required");
        if (req.Driver is { Length: > 0 } d && d != "bridge") throw new BadRequestException($"driver {d} is not supported (only bridge)");
        if (req.EnableIPv6) throw new BadRequestException("IPv6 networks are not supported");
        if (req.Internal) throw new BadRequestException("internal networks are not supported");
        var configs = req.IPAM?.Config ?? [];
        if (configs.Count > 1) throw new BadRequestException("only one IPAM config (one IPv4 subnet) per network is supported");
        var cfg = configs.FirstOrDefault();
        if (!string.IsNullOrEmpty(cfg?.IPRange)) throw new BadRequestException("--ip-range is not supported");
        var rec = Net(ctx).Create(req.Name, cfg?.Subnet, cfg?.Gateway, Gocker.Actors.Containers.ContainerSpecFactory.Labels(req.Labels));
        EventRoutes.Publish(ctx, "network", "create", rec.Id, ("name", rec.Name), ("type", "bridge"));
        return Results.Json(new NetworkCreateResponse { Id = rec.Id }, NetworkApiJson.Default.NetworkCreateResponse, statusCode: 201);
    });

    static Task<IResult> RemoveNetwork(HttpContext ctx, string id) => Run(() =>
    {
        var rec = Net(ctx).Inspect(id).Network;
        Net(ctx).Remove(id);
        EventRoutes.Publish(ctx, "network", "destroy", rec.Id, ("name", rec.Name), ("type", "bridge"));
        return Task.FromResult(Results.NoContent());
    });

    static Task<IResult> Connect(HttpContext ctx, string id) => Run(async () =>
    {
        var req = await RequestLimits.ReadJsonAsync(ctx, NetworkApiJson.Default.NetworkConnectRequest);
        Gocker.Actors.Containers.ContainerSpecFactory.RefuseUnsupported("", req?.Unsupported);
        Gocker.Actors.Containers.ContainerSpecFactory.RefuseUnsupported("EndpointConfig.", req?.EndpointConfig?.Unsupported);
        var aliases = (req?.EndpointConfig?.Aliases ?? []).Where(a => !string.IsNullOrEmpty(a)).ToList();
        var container = await ContainerOf(ctx, req);
        var net = Net(ctx);
        // Through the container's actor: it joins now if running, and the endpoint is kept in its
        // spec for its next starts (a created or stopped container joins at its next start).
        await AskContainer<ContainerActor.Ack>(ctx, container, new ContainerActor.ConnectNetwork(id, aliases));
        PublishEndpoint(ctx, net, "connect", id, container);
        return Results.Ok();
    });

    static Task<IResult> Disconnect(HttpContext ctx, string id) => Run(async () =>
    {
        var container = await ContainerOf(ctx);
        var net = Net(ctx);
        await AskContainer<ContainerActor.Ack>(ctx, container, new ContainerActor.DisconnectNetwork(id));
        PublishEndpoint(ctx, net, "disconnect", id, container);
        return Results.Ok();
    });

    static void PublishEndpoint(HttpContext ctx, INetworkManager net, string action, string network, string container)
    {
        var rec = net.Inspect(network).Network;
        EventRoutes.Publish(ctx, "network", action, rec.Id, ("name", rec.Name), ("type", "bridge"), ("container", container));
    }

    static async Task<string> ContainerOf(HttpContext ctx, NetworkConnectRequest? req = null)
    {
        req ??= await RequestLimits.ReadJsonAsync(ctx, NetworkApiJson.Default.NetworkConnectRequest);
        if (string.IsNullOrEmpty(req?.Container)) throw new BadRequestException("Container is required");
        return (await Ask<ContainerSupervisor.Resolved>(ctx, new ContainerSupervisor.Resolve(req.Container))).Id;
    }
}
