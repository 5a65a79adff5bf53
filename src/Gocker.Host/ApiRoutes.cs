using Akka.Actor;
using Akka.Hosting;
using Gocker.Actors.Containers;
using Gocker.Actors.Engine;
using Gocker.Api;
using Gocker.Images;
using static Gocker.Actors.Containers.ContainerActor;

namespace Gocker.Host;

/// <summary>The HTTP/JSON API, shaped after the Docker Engine API (v1.43 subset).</summary>
public static class ApiRoutes
{
    static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    public static void Map(WebApplication app)
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

        // Docker's clients read API-Version from the ping to pick the version they speak (without it
        // the docker CLI falls back to 1.24).
        app.MapMethods("/_ping", ["GET", "HEAD"], (HttpContext ctx) =>
        {
            ctx.Response.Headers["API-Version"] = VersionResponse.Api;
            // The rest as dockerd sends them (the docker CLI reads OSType and Docker-Experimental).
            ctx.Response.Headers["OSType"] = "linux";
            ctx.Response.Headers["Docker-Experimental"] = "false";
            ctx.Response.Headers["Swarm"] = "inactive";
            ctx.Response.Headers.CacheControl = "no-cache, no-store, must-revalidate";
            ctx.Response.Headers.Pragma = "no-cache";
            return Results.Text("OK");
        });
        app.MapGet("/version", (EngineServices svc) => Results.Json(new VersionResponse
        {
            Version = typeof(ApiRoutes).Assembly.GetName().Version?.ToString(3) ?? "0.1.0",
            KernelVersion = Environment.OSVersion.Version.ToString(),
            CgroupMode = svc.Cgroups.Mode.ToString().ToLowerInvariant(),
        }, GockerJson.Default.VersionResponse));

        var c = app.MapGroup("/containers");
        c.MapPost("/create", Create);
        c.MapGet("/json", List);
        c.MapGet("/{id}/json", Inspect);
        c.MapPost("/{id}/start", Start);
        c.MapPost("/{id}/wait", Wait);
        c.MapPost("/{id}/attach", Attach);
        c.MapGet("/{id}/logs", Logs);
        c.MapPost("/{id}/stop", Stop);
        c.MapPost("/{id}/kill", Kill);
        c.MapDelete("/{id}", Remove);
        ContainerExtraRoutes.Map(c);
        VerbRoutes.Map(app);
        AttachSession.Map(c);
        ArchiveRoutes.Map(c);

        ImageRoutes.Map(app);
        RegistryRoutes.Map(app);
        NetworkRoutes.Map(app);
        EventRoutes.Map(app);
        DebugRoutes.Map(app);
        ExecRoutes.Map(app);
        GroupRoutes.Map(app);
        SystemRoutes.Map(app);
        VolumeRoutes.Map(app);
        RequestLimits.MapNotFound(app);
    }

    // ---- helpers ------------------------------------------------------------------------------
    internal static IActorRef Supervisor(HttpContext ctx) => ctx.RequestServices.GetRequiredService<ActorRegistry>().Get<ContainerSupervisorKey>();

    internal static async Task<T> Ask<T>(HttpContext ctx, object message, TimeSpan? timeout = null)
    {
        var reply = await Supervisor(ctx).Ask<object>(message, timeout ?? Timeout, ctx.RequestAborted);
        return reply switch
        {
            Status.Failure f => throw f.Cause,
            T t => t,
            _ => throw new InvalidOperationException($"unexpected reply {reply.GetType().Name}"),
        };
    }

    internal static Task<T> AskContainer<T>(HttpContext ctx, string id, object message, TimeSpan? timeout = null) =>
        Ask<T>(ctx, new ContainerSupervisor.ToContainer(id, message), timeout);

    public static IResult Error(Exception ex)
    {
        ex = StorageGuard.Translate(ex);
        var (code, exit) = ex switch
        {
            ContainerNotFoundException or ImageNotFoundException or Gocker.Network.NetworkNotFoundException or RouteNotFoundException => (404, (int?)null),
            BadRequestException or UnsafeArchiveException or ArgumentException or InvalidDataException or System.Text.Json.JsonException => (400, null),
            RequestTooLargeException => (413, null),
            InsufficientStorageException => (507, null),
            Microsoft.AspNetCore.Http.BadHttpRequestException b => (b.StatusCode, null),
            ConflictException or InvalidStateException or Gocker.Network.NetworkConflictException => (409, null),
            StartFailedException s => (500, s.ExitCode),
            _ => (500, null),
        };
        return Results.Json(new ErrorResponse { Message = ex.Message, ExitCode = exit }, GockerJson.Default.ErrorResponse, statusCode: code);
    }

    internal static async Task<IResult> Guard(Func<Task<IResult>> handler)
    {
        try { return await handler(); }
        catch (Exception ex) when (ex is not OperationCanceledException) { return Error(ex is AggregateException { InnerException: { } inner } ? inner : ex); }
    }

    internal static bool Flag(HttpContext ctx, string name) =>
        ctx.Request.Query[name].ToString() is "1" or "true" or "True";

    // ---- containers -----------------------------------------------------------------------------
    static Task<IResult> Create(HttpContext ctx, EngineServices svc) => Guard(async () =>
    {
        var req = (await RequestLimits.ReadJsonAsync(ctx, GockerJson.Default.ContainerCreateRequest))!;
        ContainerSpecFactory.CheckBounds(req); // before the image is looked up by a name of any size
        if (string.IsNullOrEmpty(req.Image)) throw new BadRequestException("No image specified");
        WaitCondition? runUntil = null;
        var run = ctx.Request.Query["gockerRun"].ToString();
        if (run.Length > 0)
        {
            runUntil = ParseWaitCondition(run) ?? throw new BadRequestException($"invalid gockerRun condition: {run}");
            if (req.Tty || req.OpenStdin) throw new BadRequestException("gockerRun is for containers without a terminal or stdin (-t/-i attach with a hijacked connection)");
        }
        // Resolving may build the busybox image the first time: not on an actor's thread.
        var image = await Task.Run(() => svc.Images.Resolve(req.Image));
        var name = ctx.Request.Query["name"].ToString();
        var startNow = Flag(ctx, "gockerStart");
        var startsNow = runUntil is not null || startNow;
        var created = await Ask<ContainerSupervisor.CreatedContainer>(ctx, new ContainerSupervisor.Create(req, name, image, startsNow));
        var answer = new ContainerCreateResponse { Id = created.Id };
        if (runUntil is { } until)
        {
            await RunCreated(ctx, answer, until);
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
    static async Task RunCreated(HttpContext ctx, ContainerCreateResponse created, WaitCondition until)
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

    static async Task WriteSystemFrame(HttpContext ctx, byte[] json)
    {
        var frame = new byte[Multiplex.HeaderSize + json.Length];
        Multiplex.WriteHeader(frame, Multiplex.System, json.Length);
        json.CopyTo(frame, Multiplex.HeaderSize);
        await ctx.Response.Body.WriteAsync(frame, ctx.RequestAborted);
        await ctx.Response.Body.FlushAsync(ctx.RequestAborted);
    }

    static Task<IResult> List(HttpContext ctx, EngineServices svc) => Guard(async () =>
    {
        var filters = ctx.Request.Query["filters"].ToString();
        // `ancestor` resolves images (busybox may be built on first use): off the request thread.
        var (match, impliesAll) = filters.Contains("ancestor", StringComparison.Ordinal)
            ? await Task.Run(() => ContainerExtraRoutes.ParseFilters(filters, new ImageAncestry(svc.Images)))
            : ContainerExtraRoutes.ParseFilters(filters);
        var all = Flag(ctx, "all") || impliesAll;
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
        return Results.Json(ToInspect(r, svc), GockerJson.Default.ContainerInspect);
    });

    static ContainerInspect ToInspect(ContainerRecord r, EngineServices svc)
    {
        var s = r.Spec;
        return new ContainerInspect
        {
            Id = s.Id,
            Name = "/" + s.Name,
            Created = StatusText.Iso(s.Created),
            Path = s.Args[0],
            Args = s.Args.Skip(1).ToList(),
            Image = s.ImageId,
            RestartCount = r.RestartCount,
            State = new ContainerState
            {
                Status = r.Status.DockerName(),
                Running = r.Status is ContainerStatus.Running or ContainerStatus.Paused,
                Paused = r.Status == ContainerStatus.Paused,
                Restarting = r.Status == ContainerStatus.Restarting,
                Dead = r.Status == ContainerStatus.Dead,
                OOMKilled = r.OomKilled,
                Pid = r.Pid,
                ExitCode = r.ExitCode,
                Error = r.Error,
                StartedAt = StatusText.Iso(r.StartedAt),
                FinishedAt = StatusText.Iso(r.FinishedAt),
                GockerNextRestartAt = r.Status == ContainerStatus.Restarting && r.NextRestartAt is { } next ? StatusText.Iso(next) : null,
                GockerManuallyStopped = r.ManuallyStopped,
            },
            Config = new ContainerConfig
            {
                Hostname = s.Hostname, Domainname = s.Names?.Domainname ?? "", Env = s.Env.ToList(), Cmd = s.Args.ToList(), Image = s.Image, WorkingDir = s.WorkingDir, User = s.User,
                Tty = s.Tty, OpenStdin = s.OpenStdin, StdinOnce = s.StdinOnce, Labels = s.Labels,
                StopSignal = s.StopSignal, StopTimeout = s.StopTimeout,
            },
            HostConfig = new HostConfig
            {
                AutoRemove = s.AutoRemove,
                Memory = s.Limits.MemoryBytes ?? 0,
                NanoCpus = s.NanoCpus,
                CpuShares = s.Limits.CpuShares ?? 0,
                CpusetCpus = s.Limits.CpusetCpus,
                PidsLimit = s.Limits.PidsMax,
                NetworkMode = s.NetworkMode ?? "none",
                PortBindings = PortBindings(s.Ports),
                Binds = VolumeRoutes.BindsOf(s),
                RestartPolicy = new RestartPolicy
                {
                    Name = Gocker.Actors.Restart.RestartSettings.NameOf(s.Restart.Mode), MaximumRetryCount = s.Restart.MaximumRetryCount,
                },
                GockerGroup = s.Group,
                Init = s.Init ? true : null,
                CapAdd = s.CapAdd.Length > 0 ? [.. s.CapAdd] : null,
                CapDrop = s.CapDrop.Length > 0 ? [.. s.CapDrop] : null,
                Privileged = s.Privileged,
                ReadonlyRootfs = s.ReadonlyRootfs,
                SecurityOpt = s.SecurityOpt.Length > 0 ? [.. s.SecurityOpt] : null,
                Tmpfs = s.Tmpfs.Length > 0 ? s.Tmpfs.ToDictionary(t => t.Destination, t => t.Data) : null,
                Ulimits = s.Ulimits.Length > 0 ? s.Ulimits.Select(u => new Ulimit { Name = u.Name, Soft = u.Soft, Hard = u.Hard }).ToList() : null,
                Devices = s.Devices.Length > 0 ? s.Devices.Select(d => new DeviceMapping { PathOnHost = d.HostPath, PathInContainer = d.Path, CgroupPermissions = d.Access }).ToList() : null,
                Sysctls = s.Sysctls.Length > 0 ? s.Sysctls.ToDictionary(x => x.Key, x => x.Value) : null,
                ShmSize = s.ShmSize > 0 ? s.ShmSize : 64L << 20,
                GroupAdd = s.GroupAdd.Length > 0 ? [.. s.GroupAdd] : null,
                OomScoreAdj = s.OomScoreAdj,
                LogConfig = LogConfigOf(s.Log ?? svc.Options.Logs),
                ExtraHosts = s.Names?.ExtraHosts is { Count: > 0 } extraHosts ? [.. extraHosts] : null,
                Dns = s.Names?.Dns, DnsSearch = s.Names?.DnsSearch, DnsOptions = s.Names?.DnsOptions,
                GockerRestartBackoff = new RestartBackoff
                {
                    DelayMs = (long)s.Restart.Backoff.Delay.TotalMilliseconds, MaxDelayMs = (long)s.Restart.Backoff.MaxDelay.TotalMilliseconds,
                    Multiplier = s.Restart.Backoff.Multiplier, ResetAfterMs = (long)s.Restart.Backoff.ResetAfter.TotalMilliseconds,
                    Jitter = s.Restart.Backoff.Jitter,
                },
            },
            Mounts = VolumeRoutes.MountPointsOf(s),
            CgroupPath = $"{svc.Options.CgroupParent}/{s.Id}",
            NetworkSettings = NetworkSettingsOf(r, svc),
        };
    }

    static LogConfig LogConfigOf(Gocker.Actors.Logs.LogSettings l) => new() { Type = l.Type, Config = l.Config };

    static Dictionary<string, List<PortBinding>?> PortBindings(IEnumerable<Gocker.Network.PortMapping> ports) =>
        ports.GroupBy(p => $"{p.ContainerPort}/{p.Protocol}").ToDictionary(g => g.Key,
            g => (List<PortBinding>?)g.Select(p => new PortBinding { HostIp = p.HostIp, HostPort = p.HostPort.ToString(System.Globalization.CultureInfo.InvariantCulture) }).ToList());

    static NetworkSettings NetworkSettingsOf(ContainerRecord r, EngineServices svc)
    {
        var ns = new NetworkSettings();
        if (r.Status is not (ContainerStatus.Running or ContainerStatus.Paused) || svc.Network?.Get(r.Spec.Id) is not { } a)
            return ContainerNames.Configured(ns, r.Spec, svc.Network);
        ns.Ports = PortBindings(r.Spec.Ports);
        ns.HostsPath = a.HostsPath;
        foreach (var e in a.Endpoints)
            ns.Networks[e.NetworkName] = new EndpointSettings
            {
                NetworkID = e.NetworkId, IPAddress = e.Ip, IPPrefixLen = e.PrefixLength, Gateway = e.Gateway, MacAddress = e.Mac,
                Aliases = ContainerNames.InspectAliases(e.Aliases, r.Spec.Id, svc.Network!, e.NetworkId),
            };
        if (a.Primary is { } p)
        {
            ns.IPAddress = p.Ip; ns.IPPrefixLen = p.PrefixLength; ns.Gateway = p.Gateway; ns.MacAddress = p.Mac;
        }
        return ns;
    }

    static Task<IResult> Start(HttpContext ctx, string id) => Guard(async () =>
    {
        var reply = await AskContainer<object>(ctx, id, new ContainerActor.Start());
        return reply is NotModified ? Results.StatusCode(304) : Results.NoContent();
    });

    /// <summary>Docker writes the 200 header at once and the body when the condition holds, so a
    /// client can know its wait is registered before it starts the container.</summary>
    static WaitCondition? ParseWaitCondition(string text) => text switch
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
        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = "application/json";
        await ctx.Response.StartAsync(ctx.RequestAborted);
        await ctx.Response.Body.FlushAsync(ctx.RequestAborted);
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
        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = info.Tty ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream";
        await ctx.Response.StartAsync(ctx.RequestAborted);
        await ctx.Response.Body.FlushAsync(ctx.RequestAborted);
        try
        {
            await OutputStreamer.FollowAsync(ctx.Response.Body, info.Logs, info.DataDir, info.Position, Flag(ctx, "stdout"), Flag(ctx, "stderr"),
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
            until = QueryParams.UnixNanos(ctx, "until");
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
        var dataDir = ContainerLayout.For(svc.Options, record.Spec.Id).DataDir;
        // The exit task first, then the catch-up: nothing written before the exit can be missed.
        Task? exited = null;
        if (Flag(ctx, "follow") && record.Status is ContainerStatus.Running or ContainerStatus.Paused)
        {
            try { exited = (await AskContainer<AttachInfo>(ctx, record.Spec.Id, new ContainerActor.Attach())).Exited; }
            catch (ConflictException) { /* it exited meanwhile: just dump */ }
            catch (Exception ex)
            {
                await Error(ex).ExecuteAsync(ctx);
                return;
            }
        }
        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = "application/vnd.docker.multiplexed-stream";
        await ctx.Response.StartAsync(ctx.RequestAborted);
        await ctx.Response.Body.FlushAsync(ctx.RequestAborted);
        try
        {
            await OutputStreamer.LogsAsync(ctx.Response.Body, svc.Logs, dataDir,
                new OutputStreamer.LogOptions(Flag(ctx, "stdout"), Flag(ctx, "stderr"), Flag(ctx, "timestamps"), tail) { SinceNanos = since, UntilNanos = until },
                exited, ctx.RequestAborted);
        }
        catch (OperationCanceledException) { /* client went away */ }
    }

    static Task<IResult> Stop(HttpContext ctx, string id, EngineServices svc) => Guard(async () =>
    {
        // No `t`: the container's StopTimeout, else the daemon's default; `signal` (API 1.42+): else its StopSignal.
        var t = QueryParams.StopTimeout(ctx);
        int? signal = ctx.Request.Query["signal"].ToString() is { Length: > 0 } s ? SignalNames.Parse(s) : null;
        var grace = t ?? await VerbStops.GraceOf(ctx, id, svc);
        var reply = await AskContainer<object>(ctx, id, new ContainerActor.Stop(t, Signal: signal), grace + TimeSpan.FromSeconds(30));
        return reply is NotModified ? Results.StatusCode(304) : Results.NoContent();
    });

    static Task<IResult> Kill(HttpContext ctx, string id) => Guard(async () =>
    {
        var sig = Signals.Parse(ctx.Request.Query["signal"], 9);
        await AskContainer<Ack>(ctx, id, new ContainerActor.Kill(sig));
        return Results.NoContent();
    });

    static Task<IResult> Remove(HttpContext ctx, string id) => Guard(async () =>
    {
        await AskContainer<Ack>(ctx, id, new ContainerActor.Remove(Flag(ctx, "force"), Flag(ctx, "v")));
        return Results.NoContent();
    });
}
