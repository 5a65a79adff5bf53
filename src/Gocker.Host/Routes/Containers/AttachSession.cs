using System.Globalization;
using Gocker.Actors.Containers;
using Gocker.Api;
using Microsoft.AspNetCore.Http.Features;
using static Gocker.Actors.Containers.ContainerActor;

namespace Gocker.Host;

/// <summary>
/// Docker's hijacked attach: `POST /containers/{id}/attach?stream=1&amp;stdin=1&amp;stdout=1&amp;stderr=1` with
/// `Connection: Upgrade, Upgrade: tcp` answers 101 and turns the connection into a raw byte pipe.
/// Daemon to client: the output (8-byte framed for non-tty, raw for a tty) until the run exits;
/// client to daemon: the container's stdin (written to the pty master or the stdin pipe). The client's
/// EOF closes the container's stdin when StdinOnce is set (`echo hi | gocker run -i busybox cat`);
/// for a tty it ends the session (the console has detached). Plus `POST /containers/{id}/resize`.
/// </summary>
public static class AttachSession
{
    public static void Map(RouteGroupBuilder c)
    {
        c.MapPost("/{id}/resize", Resize);
        c.MapPost("/{id}/attach/close-stdin", CloseStdin);
    }

    public static bool IsUpgrade(HttpContext ctx) =>
        ctx.Features.Get<IHttpUpgradeFeature>() is { IsUpgradableRequest: true };

    public static async Task RunHijackedAsync(HttpContext ctx, AttachInfo info)
    {
        var upgrade = ctx.Features.Get<IHttpUpgradeFeature>()!;
        ctx.Response.Headers.Connection = "Upgrade";
        ctx.Response.Headers.Upgrade = "tcp";
        ctx.Response.ContentType = info.Tty ? "application/vnd.docker.raw-stream" : GockerContentTypes.Multiplexed;
        await using var stream = await upgrade.UpgradeAsync();

        bool stdin = QueryParams.Flag(ctx, "stdin") && info.Stdio is not null;
        // A client's half-close (its stdin's EOF, `echo hi | docker attach`) is not RequestAborted (see
        // HalfCloseConnection): the output keeps flowing until the run ends or the client is gone.
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ctx.RequestAborted);
        var input = stdin && info.Stdio is { } stdio
            ? Task.Run(() => PumpInputAsync(stream, stdio, cts))
            : Task.CompletedTask;
        try
        {
            await OutputStreamer.FollowAsync(stream, info.Logs, info.DataDir, info.Position, QueryParams.Flag(ctx, "stdout"), QueryParams.Flag(ctx, "stderr"),
                info.Exited, info.Tty, cts.Token);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException) { /* client went away or detached */ }
        await cts.CancelAsync();
        try { await input; } catch { /* the connection is closing */ }
    }

    static async Task PumpInputAsync(Stream connection, ContainerStdio stdio, CancellationTokenSource session)
    {
        var buf = new byte[16 * 1024];
        while (true)
        {
            int n;
            try { n = await connection.ReadAsync(buf, session.Token); }
            catch (Exception ex) when (ex is OperationCanceledException or IOException)
            {
                n = 0;
                if (session.IsCancellationRequested) return; // the output ended first: the run is over
            }
            if (n == 0)
            {
                if (stdio.Tty) await session.CancelAsync(); // a terminal has no EOF: the client detached
                else if (stdio.StdinOnce) stdio.CloseInput();
                return;
            }
            // Blocking write (a pipe the container does not read fills up): we are on the pool, alone.
            if (!stdio.WriteInput(buf.AsSpan(0, n))) return;
        }
    }

    /// <summary>
    /// Gocker extension: the attached client's input has ended, said on a separate request (docker's
    /// CLI half-closes instead, which gockerd also serves: HalfCloseConnection). `after` is how many
    /// bytes the client sent on its attach connection: they are written to the container first
    /// (bounded wait), then its stdin pipe is closed (StdinOnce or not: the client asks for it). A
    /// terminal has no end of input: nothing happens.
    /// </summary>
    static Task<IResult> CloseStdin(HttpContext ctx, string id) => ErrorMapping.Guard(async () =>
    {
        long after = QueryParams.ByteCount(ctx.Request.Query["after"].ToString(), "after") ?? 0;
        var info = await EngineAsk.AskContainer<AttachInfo>(ctx, id, new ContainerActor.Attach());
        // Not yet given to a run: the input of a run that has already exited (attaching to an exited
        // container prepares its next run's stdin, which this must not close).
        if (info.Stdio is not { Tty: false, IsSpawned: true } stdio) return Results.NoContent();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (stdio.InputBytes < after && DateTime.UtcNow < deadline) await Task.Delay(5, ctx.RequestAborted);
        stdio.CloseInput();
        return Results.NoContent();
    });

    static Task<IResult> Resize(HttpContext ctx, string id) => ErrorMapping.Guard(async () =>
    {
        ushort Dim(string name) =>
            ushort.TryParse(ctx.Request.Query[name], NumberStyles.None, CultureInfo.InvariantCulture, out var v)
                ? v : throw new BadRequestException($"invalid {name} value '{ctx.Request.Query[name]}': expected 0-65535");
        ushort h = Dim("h"), w = Dim("w");
        var info = await EngineAsk.AskContainer<AttachInfo>(ctx, id, new ContainerActor.Attach());
        if (!info.Tty) throw new ConflictException($"container {id} has no terminal (run it with -t)");
        // Re-adopted after a daemon restart: its terminal's master died with the old daemon.
        if (info.Stdio is null) throw new ConflictException($"container {id}: its terminal was lost with a previous gockerd");
        info.Stdio.Resize(h, w);
        return Results.Ok();
    });
}

static class GockerContentTypes
{
    public const string Multiplexed = "application/vnd.docker.multiplexed-stream";
}
