using Akka.Actor;
using Gocker.Actors.Containers;
using Gocker.Actors.Engine;
using Gocker.Api;
using static Gocker.Actors.Containers.ContainerActor;
using static Gocker.Host.EngineAsk;
using static Gocker.Host.ErrorMapping;

namespace Gocker.Host;

/// <summary>The container routes that stream: attach (not upgraded; the hijacked form is
/// AttachSession), wait, logs, and `run` in one request (create?gockerRun, ContainerRoutes). Each
/// answers its errors before the 200 head, and after it only streams.</summary>
public static class ContainerStreamRoutes
{
    public static void Map(RouteGroupBuilder c)
    {
        c.MapPost("/{id}/wait", Wait);
        c.MapPost("/{id}/attach", Attach);
        c.MapGet("/{id}/logs", Logs);
    }

    /// <summary>
    /// Gocker extension, `POST /containers/create?gockerRun=removed|next-exit`: what gocker's `run`
    /// without -d/-i/-t did in three requests (create, attach with gockerWait, start), in one. The
    /// answer is the attach's output stream (200, multiplexed), which begins with a "system" frame
    /// holding the create's answer (the id), then the container is started, and it ends with a system
    /// frame holding the wait's answer, or at once with one marked GockerStartFailed if the start
    /// failed. The attach and the wait are in place before the start, as the three requests ensured.
    /// Why: two connections and round trips fewer per `run` (bench/RESULTS.md). Docker's clients never
    /// ask for it; an older gockerd ignores the parameter and answers the plain create (201), which
    /// the console then follows with the three requests.
    /// </summary>
    internal static async Task RunCreated(HttpContext ctx, ContainerCreateResponse created, WaitCondition until)
    {
        var id = created.Id;
        AttachInfo info;
        Task<object> wait;
        try
        {
            info = await AskContainer<AttachInfo>(ctx, id, new ContainerActor.Attach());
            wait = RegisterWait(ctx, id, until);
        }
        catch (Exception ex)
        {
            await Error(ex).ExecuteAsync(ctx);
            return;
        }
        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = "application/vnd.docker.multiplexed-stream";
        try
        {
            await WriteSystemFrame(ctx, System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(created, GockerJson.Default.ContainerCreateResponse));
            // Follows from before the start: it opens the log files now, so a short command's output
            // is read even if the --rm removal moves them away before we get to them.
            var follow = OutputStreamer.FollowAsync(ctx.Response.Body, info.Logs, info.DataDir, info.Position, true, true, info.Exited, raw: false, ctx.RequestAborted);
            try { await AskContainer<object>(ctx, id, new ContainerActor.Start()); }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // The failed start's teardown ends the follow (its exit task completes); only then the
                // frame, so that nothing else writes to the stream meanwhile.
                await Task.WhenAny(follow, Task.Delay(TimeSpan.FromSeconds(10), ctx.RequestAborted));
                var cause = ex is AggregateException { InnerException: { } inner } ? inner : ex;
                var failed = new WaitResponse
                {
                    StatusCode = cause is StartFailedException s ? s.ExitCode : 125,
                    Error = new WaitError { Message = cause.Message },
                    GockerStartFailed = true,
                };
                await WriteSystemFrame(ctx, System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(failed, GockerJson.Default.WaitResponse));
                return;
            }
            await follow;
            await WriteWaitFrame(ctx, wait);
        }
        catch (OperationCanceledException) { /* client went away */ }
    }

    /// <summary>A wait for the container, answered when the condition holds (no timeout: a run may
    /// last for ever; the client's leaving cancels it).</summary>
    static Task<object> RegisterWait(HttpContext ctx, string id, WaitCondition condition) =>
        Supervisor(ctx).Ask<object>(new ContainerSupervisor.ToContainer(id, new ContainerActor.Wait(condition)),
            System.Threading.Timeout.InfiniteTimeSpan, ctx.RequestAborted);

    /// <summary>The 200 head, sent at once: the client learns that its wait or attach is in place
    /// before the body, which comes when there is something to stream.</summary>
    static async Task SendHeadAsync(HttpContext ctx, string contentType)
    {
        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = contentType;
        await ctx.Response.StartAsync(ctx.RequestAborted);
        await ctx.Response.Body.FlushAsync(ctx.RequestAborted);
    }

    static async Task WriteSystemFrame(HttpContext ctx, byte[] json)
    {
        var frame = new byte[Multiplex.HeaderSize + json.Length];
        Multiplex.WriteHeader(frame, Multiplex.System, json.Length);
        json.CopyTo(frame, Multiplex.HeaderSize);
        await ctx.Response.Body.WriteAsync(frame, ctx.RequestAborted);
        await ctx.Response.Body.FlushAsync(ctx.RequestAborted);
    }

    /// <summary>Docker writes the 200 header at once and the body when the condition holds, so a
    /// client can know its wait is registered before it starts the container.</summary>
    internal static WaitCondition? ParseWaitCondition(string text) => text switch
    {
        "" or "not-running" => WaitCondition.NotRunning,
        "next-exit" => WaitCondition.NextExit,
        "removed" => WaitCondition.Removed,
        _ => null,
    };

    /// <summary>The wait's answer as Docker's wait response.</summary>
    static WaitResponse WaitBody(object result) => result switch
    {
        WaitResult w => new WaitResponse { StatusCode = w.ExitCode, OOMKilled = w.OomKilled, Error = w.Error is null ? null : new WaitError { Message = w.Error } },
        Status.Failure f => new WaitResponse { StatusCode = -1, Error = new WaitError { Message = f.Cause.Message } },
        _ => new WaitResponse { StatusCode = -1 },
    };

    static async Task Wait(HttpContext ctx, string id)
    {
        var condition = ParseWaitCondition(ctx.Request.Query["condition"].ToString());
        if (condition is null)
        {
            await Error(new BadRequestException($"invalid condition: {ctx.Request.Query["condition"]}")).ExecuteAsync(ctx);
            return;
        }
        Task<object> pending;
        try
        {
            var resolved = await Ask<ContainerSupervisor.Resolved>(ctx, new ContainerSupervisor.Resolve(id));
            pending = RegisterWait(ctx, resolved.Id, condition.Value);
        }
        catch (Exception ex)
        {
            await Error(ex).ExecuteAsync(ctx);
            return;
        }
        await SendHeadAsync(ctx, "application/json");
        var result = await pending;
        await System.Text.Json.JsonSerializer.SerializeAsync(ctx.Response.Body, WaitBody(result), GockerJson.Default.WaitResponse, ctx.RequestAborted);
    }

    static async Task Attach(HttpContext ctx, string id)
    {
        AttachInfo info;
        try { info = await AskContainer<AttachInfo>(ctx, id, new ContainerActor.Attach()); }
        catch (Exception ex)
        {
            await Error(ex).ExecuteAsync(ctx);
            return;
        }
        if (AttachSession.IsUpgrade(ctx))
        {
            await AttachSession.RunHijackedAsync(ctx, info);
            return;
        }
        // Gocker extension (gocker's console, for `run` and `attach` without a terminal):
        // `gockerWait=next-exit|removed` makes this one request do the work of attach and /wait. The
        // wait goes to the container before the answer's head, as /wait's does (so a start sent after
        // the head cannot overtake it), and after the output a final "system" frame carries the
        // wait's answer (Docker's wait response, JSON). A terminal's raw stream has no frames: ignored.
        Task<object>? wait = null;
        var waitFor = ctx.Request.Query["gockerWait"].ToString();
        if (waitFor.Length > 0 && !info.Tty)
        {
            if (ParseWaitCondition(waitFor) is not { } condition)
            {
                await Error(new BadRequestException($"invalid gockerWait condition: {waitFor}")).ExecuteAsync(ctx);
                return;
            }
            wait = RegisterWait(ctx, id, condition);
        }
        // Not upgraded: output only (a tty's single raw stream, or the framed stdout/stderr).
        await SendHeadAsync(ctx, info.Tty ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream");
        try
        {
            await OutputStreamer.FollowAsync(ctx.Response.Body, info.Logs, info.DataDir, info.Position, QueryParams.Flag(ctx, "stdout"), QueryParams.Flag(ctx, "stderr"),
                info.Exited, info.Tty, ctx.RequestAborted);
            if (wait is not null) await WriteWaitFrame(ctx, wait);
        }
        catch (OperationCanceledException) { /* client went away */ }
    }

    static async Task WriteWaitFrame(HttpContext ctx, Task<object> wait)
    {
        object result;
        try { result = await wait; }
        catch (Exception ex) when (ex is not OperationCanceledException) { result = new Status.Failure(ex); }
        await WriteSystemFrame(ctx, System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(WaitBody(result), GockerJson.Default.WaitResponse));
    }

    /// <summary>stdout and stderr merged in the order the daemon read them (the log's index), across
    /// its rotated generations, optionally the last N lines (`tail`), with RFC3339Nano timestamps
    /// (`timestamps`), following until the container exits (`follow`); only what was written from
    /// `since` to `until` (unix seconds, Docker's form; a malformed one is a 400). A container
    /// created with LogConfig.Type "none" has no log to read: 501, as Docker.</summary>
    static async Task Logs(HttpContext ctx, string id, EngineServices svc)
    {
        ContainerRecord record;
        int? tail = null;
        long? since, until;
        try
        {
            since = QueryParams.UnixNanos(ctx, "since");
            until = QueryParams.LogsUntil(ctx.Request.Query["until"].ToString());
            record = await AskContainer<ContainerRecord>(ctx, id, new ContainerActor.Inspect());
            var tailText = ctx.Request.Query["tail"].ToString();
            if (tailText is not ("" or "all"))
                tail = int.TryParse(tailText, out var t) && t >= 0 ? t
                    : throw new BadRequestException($"invalid tail value '{tailText}': expected a number of lines or \"all\"");
        }
        catch (Exception ex)
        {
            await Error(ex).ExecuteAsync(ctx);
            return;
        }
        if (record.Spec.Log is { Readable: false })
        {
            // Docker's answer for a driver it cannot read back (ErrReadLogsNotSupported: 501).
            await Results.Json(new ErrorResponse { Message = "configured logging driver does not support reading" },
                GockerJson.Default.ErrorResponse, statusCode: 501).ExecuteAsync(ctx);
            return;
        }
        var dataDir = ContainerFiles.DataDir(svc, record.Spec.Id);
        // The exit task first, then the catch-up: nothing written before the exit can be missed.
        Task? exited = null;
        if (QueryParams.Flag(ctx, "follow") && record.Status is ContainerStatus.Running or ContainerStatus.Paused)
        {
            try { exited = (await AskContainer<AttachInfo>(ctx, record.Spec.Id, new ContainerActor.Attach())).Exited; }
            catch (ConflictException) { /* it exited meanwhile: just dump */ }
            catch (Exception ex)
            {
                await Error(ex).ExecuteAsync(ctx);
                return;
            }
        }
        await SendHeadAsync(ctx, "application/vnd.docker.multiplexed-stream");
        try
        {
            await OutputStreamer.LogsAsync(ctx.Response.Body, svc.Logs, dataDir,
                new OutputStreamer.LogOptions(QueryParams.Flag(ctx, "stdout"), QueryParams.Flag(ctx, "stderr"), QueryParams.Flag(ctx, "timestamps"), tail) { SinceNanos = since, UntilNanos = until },
                exited, ctx.RequestAborted);
        }
        catch (OperationCanceledException) { /* client went away */ }
    }
}
