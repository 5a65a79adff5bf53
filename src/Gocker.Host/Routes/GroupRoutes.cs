using Akka.Actor;
using Akka.Hosting;
using Gocker.Actors.Containers;
using Gocker.Actors.Engine;
using Gocker.Actors.Groups;
using Gocker.Actors.Restart;
using Gocker.Api;

namespace Gocker.Host;

/// <summary>Supervision groups (Gocker's own, not in Docker's API): POST /groups/create,
/// GET /groups, GET /groups/{name}, DELETE /groups/{name}.</summary>
public static class GroupRoutes
{
    static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    public static void Map(WebApplication app)
    {
        var g = app.MapGroup("/groups");
        // Casts to Delegate: as a RequestDelegate the returned IResult would be discarded.
        g.MapPost("/create", (Delegate)Create);
        g.MapGet("", (Delegate)List);
        g.MapGet("/{name}", Inspect);
        g.MapDelete("/{name}", Remove);
    }

    static Task<IResult> Create(HttpContext ctx) => Guard(async () =>
    {
        var req = (await RequestLimits.ReadJsonAsync(ctx, GockerGroupJson.Default.GroupCreateRequest))!;
        if (req.WithinMs <= 0) throw new BadRequestException($"invalid window {req.WithinMs} ms: must be positive");
        var state = await Ask<GroupState>(ctx, new GroupsManager.Create(req.Name, req.Strategy, req.MaxRestarts, TimeSpan.FromMilliseconds(req.WithinMs)));
        return Results.Json(ToInfo(state), GockerGroupJson.Default.GroupInfo, statusCode: 201);
    });

    static Task<IResult> List(HttpContext ctx) => Guard(async () =>
    {
        var listing = await Ask<GroupsManager.Listing>(ctx, new GroupsManager.List());
        return Results.Json(listing.Groups.Select(ToInfo).ToList(), GockerGroupJson.Default.ListGroupInfo);
    });

    static Task<IResult> Inspect(HttpContext ctx, string name) => Guard(async () =>
        Results.Json(ToInfo(await Ask<GroupState>(ctx, new GroupsManager.Get(name))), GockerGroupJson.Default.GroupInfo));

    static Task<IResult> Remove(HttpContext ctx, string name) => Guard(async () =>
    {
        await Ask<GroupsManager.Removed>(ctx, new GroupsManager.Remove(name));
        return Results.NoContent();
    });

    static GroupInfo ToInfo(GroupState s) => new()
    {
        Name = s.Name,
        Strategy = GroupSettings.NameOf(s.Strategy),
        MaxRestarts = s.MaxRestarts,
        WithinMs = (long)s.Within.TotalMilliseconds,
        Created = StatusText.Iso(s.Created),
        Members = s.Members.ToList(),
        Restarts = s.Restarts,
        GivenUp = s.GivenUp,
        GiveUpReason = s.GiveUpReason,
        GaveUpAt = s.GaveUpAt is { } t ? StatusText.Iso(t) : null,
    };

    static async Task<T> Ask<T>(HttpContext ctx, object message)
    {
        var manager = ctx.RequestServices.GetRequiredService<ActorRegistry>().Get<GroupsManagerKey>();
        var reply = await manager.Ask<object>(message, Timeout, ctx.RequestAborted);
        return reply switch
        {
            Status.Failure f => throw f.Cause,
            T t => t,
            _ => throw new InvalidOperationException($"unexpected reply {reply.GetType().Name}"),
        };
    }

    /// <summary>ErrorMapping's error mapping, plus 404 for an unknown group.</summary>
    static async Task<IResult> Guard(Func<Task<IResult>> handler)
    {
        try { return await handler(); }
        catch (GroupNotFoundException ex)
        {
            return Results.Json(new ErrorResponse { Message = ex.Message }, GockerJson.Default.ErrorResponse, statusCode: 404);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return ErrorMapping.Error(ex is AggregateException { InnerException: { } inner } ? inner : ex);
        }
    }
}
