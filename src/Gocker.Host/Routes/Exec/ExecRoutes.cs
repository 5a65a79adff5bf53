using Gocker.Actors.Containers;
using Gocker.Api;
using Microsoft.AspNetCore.Http.Features;

namespace Gocker.Host;

/// <summary>
/// `exec`, in the Docker Engine API's shape: POST /containers/{id}/exec (201 {Id}), POST
/// /exec/{id}/start (with `Connection: Upgrade, Upgrade: tcp`: 101, then the hijacked connection
/// carries stdin from the client and the output to it, multiplexed as in Multiplex; without the
/// upgrade: 200 and the output only; with {"Detach": true}: 200 at once), GET /exec/{id}/json,
/// POST /exec/{id}/resize. The process itself is spawned by the container's actor (ExecActor);
/// the instances are kept by ExecSessions, and ExecPipes/ExecPump move the bytes between the
/// process and the connection. Exec output is not logged.
/// </summary>
public static class ExecRoutes
{
    public static void Map(WebApplication app)
    {
        var store = new ExecSessions();
        app.MapPost("/containers/{id}/exec", (HttpContext ctx, string id) => Create(ctx, id, store));
        app.MapPost("/exec/{id}/start", (HttpContext ctx, string id) => Start(ctx, id, store));
        app.MapGet("/exec/{id}/json", (HttpContext ctx, string id) => Inspect(id, store));
        app.MapPost("/exec/{id}/resize", (HttpContext ctx, string id) => Resize(ctx, id, store));
    }

    static Task<IResult> Create(HttpContext ctx, string id, ExecSessions store) => ErrorMapping.Guard(async () =>
    {
        var req = (await RequestLimits.ReadJsonAsync(ctx, GockerJson.Default.ExecCreateRequest))!;
        ContainerSpecFactory.CheckBounds(req);
        if (req.Cmd is not { Count: > 0 } || string.IsNullOrEmpty(req.Cmd[0])) throw new BadRequestException("No exec command specified");
        if (req.Cmd.Any(a => a.Contains('\0'))) throw new BadRequestException("Command arguments must not contain NUL bytes");
        foreach (var e in req.Env ?? [])
            if (e.IndexOf('=') <= 0 || e.Contains('\0')) throw new BadRequestException($"invalid environment variable: {e}");
        if (!string.IsNullOrEmpty(req.WorkingDir) && (req.WorkingDir[0] != '/' || req.WorkingDir.Contains('\0')))
            throw new BadRequestException($"Invalid working directory \"{req.WorkingDir}\": it must be an absolute path");
        if (!string.IsNullOrEmpty(req.User)) ContainerSpecFactory.ValidateUser(req.User);
        if (req.Privileged) throw new BadRequestException("privileged exec is not supported");
        ContainerSpecFactory.RefuseUnsupported("", req.Unsupported);

        var record = await EngineAsk.AskContainer<ContainerRecord>(ctx, id, new ContainerActor.Inspect());
        var cid = record.Spec.Id;
        if (record.Status == ContainerStatus.Paused) throw new ConflictException($"Container {cid} is paused, unpause the container before exec");
        if (record.Status != ContainerStatus.Running) throw new ConflictException($"Container {cid} is not running");

        var session = store.Add(cid, req);
        return Results.Json(new ExecCreateResponse { Id = session.Id }, GockerJson.Default.ExecCreateResponse, statusCode: 201);
    });

    static IResult NoSuchExec(string id) =>
        Results.Json(new ErrorResponse { Message = $"No such exec instance: {id}" }, GockerJson.Default.ErrorResponse, statusCode: 404);

    static IResult Inspect(string id, ExecSessions store)
    {
        if (!store.TryGet(id, out var e)) return NoSuchExec(id);
        var c = e.Config;
        lock (e.Gate)
        {
            return Results.Json(new ExecInspect
            {
                ID = e.Id, ContainerID = e.ContainerId, Running = e.Running, ExitCode = e.ExitCode, Pid = e.Pid, Error = e.Error,
                OpenStdin = c.AttachStdin, OpenStdout = c.AttachStdout, OpenStderr = c.AttachStderr, DetachKeys = c.DetachKeys ?? "",
                ProcessConfig = new ExecProcessConfig
                {
                    Tty = c.Tty, Entrypoint = c.Cmd![0], Arguments = c.Cmd.Skip(1).ToList(), User = c.User ?? "",
                },
            }, GockerJson.Default.ExecInspect);
        }
    }

    static IResult Resize(HttpContext ctx, string id, ExecSessions store)
    {
        if (!store.TryGet(id, out var e)) return NoSuchExec(id);
        if (!ushort.TryParse(ctx.Request.Query["h"], out var rows) || !ushort.TryParse(ctx.Request.Query["w"], out var cols))
            return ErrorMapping.Error(new BadRequestException("resize: h and w must be numbers from 0 to 65535"));
        e.Resize(rows, cols);
        return Results.Ok();
    }

    static async Task Start(HttpContext ctx, string id, ExecSessions store)
    {
        if (!store.TryGet(id, out var inst))
        {
            await NoSuchExec(id).ExecuteAsync(ctx);
            return;
        }
        var upgrade = ctx.Features.Get<IHttpUpgradeFeature>();
        var upgradable = upgrade is { IsUpgradableRequest: true };
        var detach = false;
        var created = inst.Config.ConsoleSize is [> 0 and <= ushort.MaxValue and var h0, > 0 and <= ushort.MaxValue and var w0] ? ((ushort)h0, (ushort)w0) : ((ushort)24, (ushort)80);
        ushort rows, cols;
        try { (rows, cols) = (Size(ctx, "h", created.Item1), Size(ctx, "w", created.Item2)); }
        catch (BadRequestException ex)
        {
            await ErrorMapping.Error(ex).ExecuteAsync(ctx);
            return;
        }
        // Docker's clients send the start's body with the upgrade; it arrives in a header
        // (UpgradeBodyConnection).
        var carried = upgradable ? UpgradeBodyConnection.Body(ctx) : null;
        if (carried is not null || !upgradable && ctx.Request.ContentLength is > 0)
        {
            try
            {
                var body = carried is not null
                    ? System.Text.Json.JsonSerializer.Deserialize(carried, GockerJson.Default.ExecStartRequest)
                    : await RequestLimits.ReadJsonAsync(ctx, GockerJson.Default.ExecStartRequest, required: false);
                detach = body?.Detach ?? false;
                if (body?.ConsoleSize is [> 0 and <= ushort.MaxValue, > 0 and <= ushort.MaxValue] size)
                    (rows, cols) = ((ushort)size[0], (ushort)size[1]);
            }
            catch (System.Text.Json.JsonException ex)
            {
                await ErrorMapping.Error(new BadRequestException($"invalid exec start body: {ex.Message}")).ExecuteAsync(ctx);
                return;
            }
            catch (Exception ex) when (ex is BadRequestException or RequestTooLargeException)
            {
                await ErrorMapping.Error(ex).ExecuteAsync(ctx);
                return;
            }
        }
        if (!inst.TryStart())
        {
            await ErrorMapping.Error(new ConflictException($"Exec {id} has already been started")).ExecuteAsync(ctx);
            return;
        }

        var c = inst.Config;
        // A detached exec has nobody to read a terminal: it gets /dev/null, as without -t.
        var tty = c.Tty && !detach;
        var fds = new ExecPipes();
        Stream? conn = null;
        ContainerActor.ExecStarted started;
        try
        {
            ContainerRecord? record = null;
            if (tty || upgradable && !detach)
                record = await EngineAsk.AskContainer<ContainerRecord>(ctx, inst.ContainerId, new ContainerActor.Inspect());
            if (tty) fds.OpenPty(inst, rows, cols, record!.Pid, record.PidStartTime);
            else fds.Open(stdin: c.AttachStdin && !detach, stdout: c.AttachStdout && !detach, stderr: c.AttachStderr && !detach);
            // The 101 goes out before the process starts, as dockerd does it. A client reads the
            // 101's head through a buffered reader and then takes the raw socket: output sent right
            // behind the head can land in that buffer and is lost to it (docker-py's exec_run got
            // empty output about one time in ten). A container that is not running gets its 409
            // from ExecStart below, before any upgrade.
            if (upgradable && !detach && record!.Status == ContainerStatus.Running) conn = await Upgrade(ctx, upgrade!, tty);
            started = await EngineAsk.AskContainer<ContainerActor.ExecStarted>(ctx, inst.ContainerId,
                new ContainerActor.ExecStart(inst.Id, [.. c.Cmd!], [.. c.Env ?? []], c.WorkingDir, string.IsNullOrEmpty(c.User) ? null : c.User,
                    tty, fds.ChildIn, fds.ChildOut, fds.ChildErr));
        }
        catch (Exception ex)
        {
            fds.CloseAll();
            var error = ex is AggregateException { InnerException: { } inner } ? inner : ex;
            if (conn is not null)
            {
                // Upgraded already: the error goes into the stream (as dockerd reports a failed
                // start after the hijack), and the exec ends as one that could not run.
                inst.Finish(126, error.Message);
                try
                {
                    var msg = System.Text.Encoding.UTF8.GetBytes($"gocker: exec failed: {error.Message}\n");
                    if (tty) conn.Write(msg);
                    else
                    {
                        var frame = new byte[Multiplex.HeaderSize + msg.Length];
                        msg.CopyTo(frame, Multiplex.HeaderSize);
                        Multiplex.WriteHeader(frame, Multiplex.Stderr, msg.Length);
                        conn.Write(frame);
                    }
                    conn.Flush();
                }
                catch (Exception) { /* the client went away */ }
                return;
            }
            inst.Unstart(); // nothing ran: it may be started again
            await ErrorMapping.Error(error).ExecuteAsync(ctx);
            return;
        }
        // The process holds its own copies now: EOF on our read ends comes when it (and whatever
        // it left running with them) is done.
        fds.CloseChildEnds();
        lock (inst.Gate) { inst.Pid = started.Pid; inst.Running = started.Result.Ok; }
        if (!started.Result.Ok) inst.Finish(started.Result.ExitCode, started.Result.ToString());
        else _ = started.Exit.ContinueWith(t => inst.Finish(t.IsCompletedSuccessfully ? t.Result.ExitCode : -1), TaskScheduler.Default);

        if (detach)
        {
            fds.CloseAll();
            ctx.Response.StatusCode = 200;
            return;
        }

        if (conn is null && upgradable) conn = await Upgrade(ctx, upgrade!, tty);
        else if (conn is null)
        {
            ctx.Response.StatusCode = 200;
            ctx.Response.ContentType = tty ? RawContentType : GockerClientContentType;
            await ctx.Response.StartAsync(ctx.RequestAborted);
            conn = ctx.Response.Body;
            fds.CloseStdin(); // no way for the client to send any
        }
        var framed = ctx.Request.Query["stdin"] == "framed";
        if (tty) await ExecPump.PumpTty(conn, fds, started, inst, upgradable && c.AttachStdin, framed);
        else await ExecPump.Pump(conn, fds, started, inst, upgradable, framed);
    }

    static async Task<Stream> Upgrade(HttpContext ctx, IHttpUpgradeFeature upgrade, bool tty)
    {
        ctx.Response.Headers.ContentType = tty ? RawContentType : GockerClientContentType;
        // As dockerd answers (and attach does): Testcontainers' client refuses to hijack a 101
        // without them ("cannot hijack chunked or content length stream").
        ctx.Response.Headers.Connection = "Upgrade";
        ctx.Response.Headers.Upgrade = "tcp";
        return await upgrade.UpgradeAsync();
    }

    /// <summary>The initial window size of a -t exec (`?h=ROWS&w=COLS` on start, so that the first
    /// screen is drawn at the right size; Docker's ConsoleSize in the body wins).</summary>
    static ushort Size(HttpContext ctx, string name, ushort fallback) =>
        QueryParams.Dimension(ctx.Request.Query[name].ToString(), name, fallback);

    const string GockerClientContentType = "application/vnd.docker.multiplexed-stream";
    const string RawContentType = "application/vnd.docker.raw-stream";


}
