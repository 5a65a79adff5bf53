using Gocker.Actors.Containers;
using Gocker.Actors.Engine;
using Gocker.Api;
using Gocker.Images;
using static Gocker.Actors.Containers.ContainerActor;
using static Gocker.Host.EngineAsk;
using static Gocker.Host.ErrorMapping;

namespace Gocker.Host;

/// <summary>A container's life: create, list, inspect, start, stop, kill, restart, pause, unpause,
/// remove. The streams (attach, wait, logs, `run` in one request) are in ContainerStreamRoutes, top and
/// stats in ContainerTopStatsRoutes, the inspect shape in ContainerInspectMapping.</summary>
public static class ContainerRoutes
{
    public static void Map(RouteGroupBuilder c)
    {
        c.MapPost("/create", Create);
        c.MapGet("/json", List);
        c.MapGet("/{id}/json", Inspect);
        c.MapPost("/{id}/start", Start);
        c.MapPost("/{id}/stop", Stop);
        c.MapPost("/{id}/kill", Kill);
        c.MapDelete("/{id}", Remove);
        c.MapPost("/{id}/pause", (HttpContext ctx, string id) => Guard(async () =>
        {
            await AskContainer<ContainerActor.Ack>(ctx, id, new ContainerActor.Pause());
            return Results.NoContent();
        }));
        c.MapPost("/{id}/unpause", (HttpContext ctx, string id) => Guard(async () =>
        {
            await AskContainer<ContainerActor.Ack>(ctx, id, new ContainerActor.Unpause());
            return Results.NoContent();
        }));
        c.MapPost("/{id}/restart", Restart);
    }

    static Task<IResult> Create(HttpContext ctx, EngineServices svc) => Guard(async () =>
    {
        var req = (await RequestLimits.ReadJsonAsync(ctx, GockerJson.Default.ContainerCreateRequest))!;
        ContainerSpecFactory.CheckBounds(req); // before the image is looked up by a name of any size
        if (string.IsNullOrEmpty(req.Image)) throw new BadRequestException("No image specified");
        WaitCondition? runUntil = null;
        var run = ctx.Request.Query["gockerRun"].ToString();
        if (run.Length > 0)
        {
            runUntil = ContainerStreamRoutes.ParseWaitCondition(run) ?? throw new BadRequestException($"invalid gockerRun condition: {run}");
            if (req.Tty || req.OpenStdin) throw new BadRequestException("gockerRun is for containers without a terminal or stdin (-t/-i attach with a hijacked connection)");
        }
        // Resolving may build the busybox image the first time: not on an actor's thread.
        var image = await Task.Run(() => svc.Images.Resolve(req.Image));
        var name = ctx.Request.Query["name"].ToString();
        var startNow = QueryParams.Flag(ctx, "gockerStart");
        var startsNow = runUntil is not null || startNow;
        var created = await Ask<ContainerSupervisor.CreatedContainer>(ctx, new ContainerSupervisor.Create(req, name, image, startsNow));
        var answer = new ContainerCreateResponse { Id = created.Id };
        if (runUntil is { } until)
        {
            await ContainerStreamRoutes.RunCreated(ctx, answer, until);
            return Results.Empty;
        }
        // Gocker extension (`run -d`): start it too, one request fewer. A failed start answers as
        // /start would (the container stays, as after create + a failed start).
        if (startNow)
        {
            await AskContainer<object>(ctx, created.Id, new ContainerActor.Start());
            answer.GockerStarted = true;
        }
        return Results.Json(answer, GockerJson.Default.ContainerCreateResponse, statusCode: 201);
    });

    static Task<IResult> List(HttpContext ctx, EngineServices svc) => Guard(async () =>
    {
        var filters = ctx.Request.Query["filters"].ToString();
        // `ancestor` resolves images (busybox may be built on first use): off the request thread.
        var (match, impliesAll) = filters.Contains("ancestor", StringComparison.Ordinal)
            ? await Task.Run(() => ContainerListFilters.Parse(filters, new ImageAncestry(svc.Images)))
            : ContainerListFilters.Parse(filters);
        var all = QueryParams.Flag(ctx, "all") || impliesAll;
        // Read directly (no message): under a crash-loop storm the supervisor's mailbox is busy
        // with the restarts' records; ContainerListing says why this is never older than a verb
        // that returned. Until the containers loaded at daemon start settle, the supervisor answers.
        var records = svc.Listing.Ready ? svc.Listing.Snapshot(all)
            : (await Ask<ContainerSupervisor.Listing>(ctx, new ContainerSupervisor.List(all))).Containers;
        var now = svc.Clock.GetUtcNow();
        var list = records.Where(match).Select(r => new ContainerSummary
        {
            Id = r.Spec.Id,
            Names = ["/" + r.Spec.Name],
            Image = r.Spec.Image,
            Command = string.Join(' ', r.Spec.Args),
            Created = r.Spec.Created.ToUnixTimeSeconds(),
            State = r.Status.DockerName(),
            Status = StatusText.Of(r, now),
            Ports = r.Spec.Ports.Select(p => new ContainerPort
            {
                IP = p.HostIp.Length > 0 ? p.HostIp : "0.0.0.0", PrivatePort = p.ContainerPort, PublicPort = p.HostPort, Type = p.Protocol,
            }).ToList(),
            Labels = r.Spec.Labels,
        }).ToList();
        return Results.Json(list, GockerJson.Default.ListContainerSummary);
    });

    static Task<IResult> Inspect(HttpContext ctx, string id, EngineServices svc) => Guard(async () =>
    {
        var r = await AskContainer<ContainerRecord>(ctx, id, new ContainerActor.Inspect());
        return Results.Json(ContainerInspectMapping.ToInspect(r, svc), GockerJson.Default.ContainerInspect);
    });

    static Task<IResult> Start(HttpContext ctx, string id) => Guard(async () =>
    {
        var reply = await AskContainer<object>(ctx, id, new ContainerActor.Start());
        return reply is NotModified ? Results.StatusCode(304) : Results.NoContent();
    });

    static Task<IResult> Stop(HttpContext ctx, string id, EngineServices svc) => Guard(async () =>
    {
        // No `t`: the container's StopTimeout, else the daemon's default; `signal` (API 1.42+): else its StopSignal.
        var t = QueryParams.StopTimeout(ctx);
        int? signal = ctx.Request.Query["signal"].ToString() is { Length: > 0 } s ? SignalNames.Parse(s) : null;
        var grace = t ?? await VerbStops.GraceOf(ctx, id, svc);
        var reply = await AskContainer<object>(ctx, id, new ContainerActor.Stop(t, Signal: signal), grace + TimeSpan.FromSeconds(30));
        return reply is NotModified ? Results.StatusCode(304) : Results.NoContent();
    });

    /// <summary>Docker's restart: stop (TERM, then KILL after t seconds) if running, then start.</summary>
    static Task<IResult> Restart(HttpContext ctx, string id, EngineServices svc) => Guard(async () =>
    {
        var t = QueryParams.StopTimeout(ctx);
        int? signal = ctx.Request.Query["signal"].ToString() is { Length: > 0 } sig ? SignalNames.Parse(sig) : null;
        var resolved = await Ask<ContainerSupervisor.Resolved>(ctx, new ContainerSupervisor.Resolve(id));
        var grace = t ?? await VerbStops.GraceOf(ctx, resolved.Id, svc);
        // ForRestart: an --rm container is kept for the start (as Docker's restart does), not removed.
        await AskContainer<object>(ctx, resolved.Id, new ContainerActor.Stop(t, ForRestart: true, Signal: signal), grace + TimeSpan.FromSeconds(30));
        await AskContainer<object>(ctx, resolved.Id, new ContainerActor.Start());
        return Results.NoContent();
    });

    static Task<IResult> Kill(HttpContext ctx, string id) => Guard(async () =>
    {
        var sig = Signals.Parse(ctx.Request.Query["signal"], 9);
        await AskContainer<Ack>(ctx, id, new ContainerActor.Kill(sig));
        return Results.NoContent();
    });

    static Task<IResult> Remove(HttpContext ctx, string id) => Guard(async () =>
    {
        await AskContainer<Ack>(ctx, id, new ContainerActor.Remove(QueryParams.Flag(ctx, "force"), QueryParams.Flag(ctx, "v")));
        return Results.NoContent();
    });
}
