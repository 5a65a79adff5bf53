using System.Collections.Concurrent;
using System.Security.Cryptography;
using Gocker.Actors.Containers;
using Gocker.Api;
using Gocker.Syscalls.Native;
using Gocker.Syscalls.Terminal;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Win32.SafeHandles;
using static Gocker.Syscalls.Native.Consts;

namespace Gocker.Host;

/// <summary>
/// `exec`, in the Docker Engine API's shape: POST /containers/{id}/exec (201 {Id}), POST
/// /exec/{id}/start (with `Connection: Upgrade, Upgrade: tcp`: 101, then the hijacked connection
/// carries stdin from the client and the output to it, multiplexed as in Multiplex; without the
/// upgrade: 200 and the output only; with {"Detach": true}: 200 at once), GET /exec/{id}/json,
/// POST /exec/{id}/resize. The process itself is spawned by the container's actor (ExecActor);
/// this side only moves bytes between its pipes and the connection. Exec output is not logged.
/// </summary>
public static class ExecRoutes
{
    /// <summary>Finished execs stay inspectable this long (Docker keeps them until the container goes).</summary>
    static readonly TimeSpan Keep = TimeSpan.FromMinutes(10);

    sealed class ExecInstance(string id, string containerId, ExecCreateRequest config)
    {
        public string Id { get; } = id;
        public string ContainerId { get; } = containerId;
        public ExecCreateRequest Config { get; } = config;
        public readonly object Gate = new();
        public bool Started, Running;
        public int? ExitCode;
        public int Pid;
        /// <summary>The pty master of a -t exec while it runs (for resize); -1 otherwise. Under Gate.</summary>
        public int Master = -1;
        public string? Error;
        public DateTimeOffset? Finished;

        public void Finish(int code, string? error = null)
        {
            lock (Gate) { ExitCode = code; Running = false; Error ??= error; Finished = DateTimeOffset.UtcNow; }
        }
    }

    public static void Map(WebApplication app)
    {
        var store = new ConcurrentDictionary<string, ExecInstance>(StringComparer.Ordinal);
        app.MapPost("/containers/{id}/exec", (HttpContext ctx, string id) => Create(ctx, id, store));
        app.MapPost("/exec/{id}/start", (HttpContext ctx, string id) => Start(ctx, id, store));
        app.MapGet("/exec/{id}/json", (HttpContext ctx, string id) => Inspect(id, store));
        app.MapPost("/exec/{id}/resize", (HttpContext ctx, string id) => Resize(ctx, id, store));
    }

    static Task<IResult> Create(HttpContext ctx, string id, ConcurrentDictionary<string, ExecInstance> store) => ErrorMapping.Guard(async () =>
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

        Prune(store);
        var execId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        store[execId] = new ExecInstance(execId, cid, req);
        return Results.Json(new ExecCreateResponse { Id = execId }, GockerJson.Default.ExecCreateResponse, statusCode: 201);
    });

    static IResult NoSuchExec(string id) =>
        Results.Json(new ErrorResponse { Message = $"No such exec instance: {id}" }, GockerJson.Default.ErrorResponse, statusCode: 404);

    static void Prune(ConcurrentDictionary<string, ExecInstance> store)
    {
        var cutoff = DateTimeOffset.UtcNow - Keep;
        foreach (var (k, v) in store)
            if (v.Finished is { } f && f < cutoff) store.TryRemove(k, out _);
    }

    static IResult Inspect(string id, ConcurrentDictionary<string, ExecInstance> store)
    {
        if (!store.TryGetValue(id, out var e)) return NoSuchExec(id);
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

    static IResult Resize(HttpContext ctx, string id, ConcurrentDictionary<string, ExecInstance> store)
    {
        if (!store.TryGetValue(id, out var e)) return NoSuchExec(id);
        if (!ushort.TryParse(ctx.Request.Query["h"], out var rows) || !ushort.TryParse(ctx.Request.Query["w"], out var cols))
            return ErrorMapping.Error(new BadRequestException("resize: h and w must be numbers from 0 to 65535"));
        lock (e.Gate)
        {
            // Without a terminal (or once it is gone) there is nothing to resize: OK, as Docker answers.
            if (e.Master >= 0) Pty.SetWindowSize(e.Master, rows, cols);
        }
        return Results.Ok();
    }

    static async Task Start(HttpContext ctx, string id, ConcurrentDictionary<string, ExecInstance> store)
    {
        if (!store.TryGetValue(id, out var inst))
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
        bool already;
        lock (inst.Gate)
        {
            already = inst.Started;
            inst.Started = true;
        }
        if (already)
        {
            await ErrorMapping.Error(new ConflictException($"Exec {id} has already been started")).ExecuteAsync(ctx);
            return;
        }

        var c = inst.Config;
        // A detached exec has nobody to read a terminal: it gets /dev/null, as without -t.
        var tty = c.Tty && !detach;
        var fds = new Fds();
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
            lock (inst.Gate) inst.Started = false; // nothing ran: it may be started again
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
        if (tty) await PumpTty(conn, fds, started, inst, upgradable && c.AttachStdin, framed);
        else await Pump(conn, fds, started, inst, upgradable, framed);
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

    static async Task Pump(Stream conn, Fds fds, ContainerActor.ExecStarted started, ExecInstance inst, bool hasInput, bool framedStdin)
    {
        var gate = new object();
        var broken = false;
        void Send(byte stream, byte[] buffer, int n)
        {
            lock (gate)
            {
                if (broken) return;
                try
                {
                    Multiplex.WriteHeader(buffer, stream, n);
                    conn.Write(buffer, 0, Multiplex.HeaderSize + n);
                    conn.Flush();
                }
                catch (Exception) { broken = true; } // the client went away: keep draining, drop the rest
            }
        }
        if (!started.Result.Ok)
        {
            var msg = System.Text.Encoding.UTF8.GetBytes($"gocker: exec failed: {started.Result}\n");
            var frame = new byte[Multiplex.HeaderSize + msg.Length];
            msg.CopyTo(frame, Multiplex.HeaderSize);
            Send(Multiplex.Stderr, frame, msg.Length);
        }
        // Dedicated threads: pipe reads block, and an interactive exec may last for hours.
        Task Out(int fd, byte stream) => fd < 0 ? Task.CompletedTask : Task.Factory.StartNew(() =>
        {
            using var fs = new FileStream(new SafeFileHandle(fd, ownsHandle: false), FileAccess.Read, 1);
            var buffer = new byte[Multiplex.HeaderSize + 32 * 1024];
            int n;
            while ((n = fs.Read(buffer, Multiplex.HeaderSize, buffer.Length - Multiplex.HeaderSize)) > 0) Send(stream, buffer, n);
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

        var stdout = Out(fds.OutR, Multiplex.Stdout);
        var stderr = Out(fds.ErrR, Multiplex.Stderr);
        if (hasInput && fds.InW >= 0)
        {
            _ = Task.Factory.StartNew(() =>
            {
                // Client bytes after the upgrade are stdin; its EOF closes the process's stdin. Docker
                // clients signal EOF by half-closing (served: HalfCloseConnection keeps the output
                // going); a client may also ask for framed stdin (`?stdin=framed`): Multiplex frames
                // on stream 0, an empty frame = EOF, on the connection that stays open.
                try
                {
                    using var fs = new FileStream(new SafeFileHandle(fds.InW, ownsHandle: false), FileAccess.Write, 1);
                    CopyStdin(conn, framedStdin, data => { fs.Write(data); fs.Flush(); });
                }
                catch (Exception) { /* the process closed its stdin or exited, or the client went away */ }
                finally { fds.CloseStdin(); }
            }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }
        else fds.CloseStdin();

        try
        {
            await Task.WhenAll(stdout, stderr);
            if (started.Result.Ok)
            {
                var status = await started.Exit;
                inst.Finish(status.ExitCode);
            }
        }
        finally
        {
            fds.CloseOutputs();
            // stdin is closed by its pump when the connection goes (returning ends the hijacked connection).
            if (!hasInput) fds.CloseStdin();
        }
    }

    /// <summary>-t: one pty master carries both directions, raw (no frames, as Docker's tty streams).
    /// The master is closed by whichever of the two copies ends last, under the instance's gate
    /// (resize uses it too).</summary>
    static async Task PumpTty(Stream conn, Fds fds, ContainerActor.ExecStarted started, ExecInstance inst, bool hasInput, bool framedStdin)
    {
        int users = hasInput ? 2 : 1;
        void Release()
        {
            if (Interlocked.Decrement(ref users) != 0) return;
            lock (inst.Gate) { Sys.Close(inst.Master); inst.Master = -1; }
        }
        int master = inst.Master;
        if (!started.Result.Ok)
        {
            try { conn.Write(System.Text.Encoding.UTF8.GetBytes($"gocker: exec failed: {started.Result}\r\n")); conn.Flush(); }
            catch (Exception) { }
        }
        if (hasInput)
        {
            _ = Task.Factory.StartNew(() =>
            {
                try { CopyStdin(conn, framedStdin, data => { if (!Pty.WriteAll(master, data)) throw new IOException("terminal closed"); }); }
                catch (Exception) { /* the terminal or the client went away */ }
                finally { Release(); }
            }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }
        try
        {
            await Task.Factory.StartNew(() =>
            {
                var buffer = new byte[32 * 1024];
                var broken = false;
                int n;
                // 0 (EIO on a master) once every slave descriptor is closed: the process and its children are done.
                while ((n = Pty.Read(master, buffer)) > 0)
                {
                    if (broken) continue;
                    try { conn.Write(buffer, 0, n); conn.Flush(); }
                    catch (Exception) { broken = true; }
                }
            }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            if (started.Result.Ok) inst.Finish((await started.Exit).ExitCode);
        }
        finally { Release(); }
    }

    /// <summary>Client bytes to the process: raw until EOF, or (framed) stream-0 frames until an empty one.</summary>
    static void CopyStdin(Stream conn, bool framed, Action<ReadOnlySpan<byte>> write)
    {
        var buffer = new byte[32 * 1024];
        if (!framed)
        {
            int n;
            while ((n = conn.Read(buffer, 0, buffer.Length)) > 0) write(buffer.AsSpan(0, n));
            return;
        }
        var header = new byte[Multiplex.HeaderSize];
        while (conn.ReadAtLeast(header, header.Length, throwOnEndOfStream: false) == header.Length)
        {
            var (_, length) = Multiplex.ReadHeader(header);
            if (length <= 0) return; // the client's stdin ended
            while (length > 0)
            {
                int got = conn.Read(buffer, 0, Math.Min(buffer.Length, length));
                if (got <= 0) return;
                write(buffer.AsSpan(0, got));
                length -= got;
            }
        }
    }

    /// <summary>The pipes of one exec: the child's ends (handed to the spawn, then closed here) and
    /// the daemon's. /dev/null for a stream that is not attached.</summary>
    sealed class Fds
    {
        public int ChildIn = -1, ChildOut = -1, ChildErr = -1, InW = -1, OutR = -1, ErrR = -1;
        int _null = -1;

        public void Open(bool stdin, bool stdout, bool stderr)
        {
            _null = Sys.Open("/dev/null", O_RDWR | O_CLOEXEC);
            if (stdin) (ChildIn, InW) = Sys.Pipe(); else ChildIn = _null;
            if (stdout) (OutR, ChildOut) = Sys.Pipe(); else ChildOut = _null;
            if (stderr) (ErrR, ChildErr) = Sys.Pipe(); else ChildErr = _null;
        }

        /// <summary>-t: the slave as fds 0-2 of the process; the master goes to the instance (resize, PumpTty).</summary>
        public void OpenPty(ExecInstance inst, ushort rows, ushort cols, int initPid, ulong initStartTime)
        {
            // The container's own devpts (so `tty` names a /dev/pts/N that exists in it); the host's
            // only if the container has no usable /dev/ptmx.
            using var pty = ContainerPty(initPid, initStartTime, rows, cols) ?? Pty.Open(rows, cols);
            ChildIn = ChildOut = ChildErr = pty.TakeSlave();
            lock (inst.Gate) inst.Master = pty.TakeMaster();
            _master = inst;
        }

        ExecInstance? _master;

        /// <summary>A pty of the container's devpts, through /proc/PID/root of its init. The pid is
        /// trusted only if it still names the process that started at the recorded time, checked
        /// before and after opening its root: a reused pid must never hand this exec a terminal in
        /// another container's devpts, where that container could read and type into it.</summary>
        static Pty? ContainerPty(int pid, ulong startTime, ushort rows, ushort cols)
        {
            if (pid <= 0 || Gocker.Syscalls.Spawn.ProcStat.Read(pid)?.StartTime != startTime) return null;
            int root;
            try { root = Sys.Open($"/proc/{pid}/root", O_PATH | O_DIRECTORY | O_CLOEXEC); }
            catch (Gocker.Syscalls.SyscallException) { return null; }
            try
            {
                if (Gocker.Syscalls.Spawn.ProcStat.Read(pid)?.StartTime != startTime) return null;
                return Pty.OpenInRoot(root, rows, cols);
            }
            finally { Sys.Close(root); }
        }

        public void CloseChildEnds()
        {
            foreach (var fd in new[] { ChildIn, ChildOut, ChildErr }.Distinct()) if (fd != _null) Sys.Close(fd);
            Sys.Close(_null);
            ChildIn = ChildOut = ChildErr = _null = -1;
        }

        public void CloseStdin() { var fd = Interlocked.Exchange(ref InW, -1); Sys.Close(fd); }

        public void CloseOutputs()
        {
            Sys.Close(Interlocked.Exchange(ref OutR, -1));
            Sys.Close(Interlocked.Exchange(ref ErrR, -1));
        }

        public void CloseAll()
        {
            if (_master is { } inst) lock (inst.Gate) { Sys.Close(inst.Master); inst.Master = -1; }
            CloseChildEnds();
            CloseStdin();
            CloseOutputs();
        }
    }
}
