using Akka.Actor;
using Akka.Event;
using Gocker.Actors.Engine;
using Gocker.Actors.Events;
using Gocker.Actors.Faults;
using Gocker.Syscalls.Spawn;

namespace Gocker.Actors.Containers;

/// <summary>
/// One container: runs its state machine and owns its two children, the CgroupActor (its cgroup)
/// and a NamespaceActor per run (its process). A container exiting is an event; an exception in a
/// child is a failure, handled by the per-step supervision policy (retry with backoff, or tear the
/// container down: nothing survives, no process, cgroup, run dir, and with --rm no data dir); see
/// ContainerActor.Faults.cs.
/// </summary>
public sealed partial class ContainerActor : ReceiveActor, IWithTimers
{
    // ---- messages -------------------------------------------------------------------------
    public sealed record Start;
    public sealed record Started(int Pid);
    public sealed record Wait(WaitCondition Condition);
    public enum WaitCondition { NotRunning, NextExit, Removed }
    public sealed record WaitResult(int ExitCode, bool OomKilled, string? Error);
    public sealed record Kill(int Signal);
    /// <param name="ForRestart">The stop half of `restart`: an `--rm` container is not removed by
    /// this exit (Docker's restart keeps it), the start that follows runs it again.</param>
    /// <param name="Timeout">Null: the container's StopTimeout, else the daemon's default.</param>
    /// <param name="Signal">Null: the container's stop signal (StopSignal, SIGTERM by default).</param>
    public sealed record Stop(TimeSpan? Timeout, bool ForRestart = false, int? Signal = null);
    /// <param name="Volumes">`rm -v`: the container's anonymous volumes go with it (named ones stay).</param>
    public sealed record Remove(bool Force, bool Volumes = false);
    public sealed record Inspect;
    public sealed record Pause;
    public sealed record Unpause;
    /// <summary>Answers CgroupActor.ProcessList (host pids) and the stats, for top and stats.</summary>
    public sealed record Top;
    public sealed record Stats;
    public sealed record StatsResult(Gocker.Syscalls.Cgroups.CgroupStats Stats, int ProcessCount);
    public sealed record Attach;
    /// <summary>Where to read the output from, and a task that completes when the current (or
    /// next, if not yet started) run has exited and its output files are complete.</summary>
    /// <summary>What an attaching client follows: the container's log from Position (its end when
    /// the client attached) until Exited.</summary>
    public sealed record AttachInfo(string DataDir, Gocker.Actors.Logs.LogPosition Position, Task Exited)
    {
        /// <summary>The daemon's log writers (to wake up when the log grows).</summary>
        public Gocker.Actors.Logs.ContainerLogs? Logs { get; init; }
        /// <summary>The run's terminal or stdin pipe (null: no -t/-i, or re-adopted after a daemon restart).</summary>
        public ContainerStdio? Stdio { get; init; }
        public bool Tty { get; init; }
    }
    public sealed record Ack;
    public sealed record NotModified;
    /// <summary>Published to the parent on every state change (it keeps the listing).</summary>
    public sealed record Changed(ContainerRecord Record);
    sealed record KillTimeout(int RunId);
    /// <summary>First message after a daemon restart: take the container's process and cgroup back.</summary>
    sealed record Readopt;
    /// <summary>The keeper took the run's output pipes (after the start's record was written).</summary>
    sealed record OutputKept(int RunId, Gocker.Syscalls.Keeper.KeptPipes Kept);
    /// <summary>Told to the parent once a container loaded from disk knows its real state (re-adopted
    /// or recorded as exited), so listings after a daemon restart never show a stale "Up".</summary>
    public sealed record Settled(string Id);
    /// <summary>To the supervisor, before `rm` (or --rm's wait) is answered: the name is free from
    /// here on (its mailbox gets this before any request a client sends once answered).</summary>
    public sealed record Removed(string Id);
    sealed record FinishFailedStart(int RunId, bool HasProcess, bool KillFirst, int ExitCode);

    static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(15);
    static readonly TimeSpan ReleaseTimeout = TimeSpan.FromSeconds(30);

    readonly EngineServices _svc;
    readonly ContainerLayout _layout;
    readonly ILoggingAdapter _log = Context.GetLogger();
    readonly RecordWriter _writer;
    ContainerRecord _record;
    int _runId;
    IActorRef? _cgroup;
    IActorRef? _ns;
    ExecResult? _startFailure;
    bool _pendingRemove;
    /// <summary>A `rm -v` asked for the anonymous volumes to go too.</summary>
    bool _removeVolumes;
    /// <summary>The running process is being stopped by `restart`: its exit does not autoremove.</summary>
    bool _stoppingForRestart;
    int _tornDownRun;
    /// <summary>OOM kills of the current run already announced by an `oom` event.</summary>
    long _oomReported;
    (IActorRef Requester, Exception Error)? _pendingStartReply;
    /// <summary>The last run's network teardown (DELs run off the exit path); removal waits for it.</summary>
    Task? _detach;
    /// <summary>This run's pty or stdin pipe (-t/-i); closed at teardown.</summary>
    ContainerStdio? _stdio;
    /// <summary>This run's stdout/stderr pipes (non-tty runs); drained and closed at teardown.</summary>
    ContainerOutput? _output;
    TaskCompletionSource _nextExit = new(TaskCreationOptions.RunContinuationsAsynchronously);
    readonly List<(IActorRef Who, WaitCondition Condition)> _waiters = [];
    readonly List<IActorRef> _stoppers = [];
    readonly List<IActorRef> _removers = [];

    public ITimerScheduler Timers { get; set; } = null!;
    string Id => _record.Spec.Id;

    public static Props Props(EngineServices svc, ContainerRecord record) =>
        Akka.Actor.Props.Create(() => new ContainerActor(svc, record)).WithDispatcher(svc.Options.ContainerDispatcher);

    public ContainerActor(EngineServices svc, ContainerRecord record)
    {
        _svc = svc;
        _record = record;
        _layout = ContainerLayout.For(svc.Options, record.Spec.Id);
        _writer = NewRecordWriter(svc, record, _layout, _log);
        ReceiveAsync<Start>(_ => HandleStartByHand());
        ReceiveAsync<NamespaceActor.ProcessExited>(HandleExited);
        ReceiveAsync<FinishFailedStart>(HandleFinishFailedStart);
        Receive<Wait>(HandleWait);
        ReceiveAsync<Kill>(HandleKillByHand);
        ReceiveAsync<Stop>(HandleStopByHand);
        Receive<KillTimeout>(HandleKillTimeout);
        ReceiveAsync<Remove>(HandleRemoveByHand);
        ReceiveRestartMessages();
        Receive<Inspect>(_ => Sender.Tell(_record));
        ReceiveAsync<Readopt>(_ => HandleReadopt());
        Receive<OutputKept>(HandleOutputKept);
        ReceiveAsync<Pause>(_ => HandlePause(freeze: true));
        ReceiveAsync<Unpause>(_ => HandlePause(freeze: false));
        ReceiveAsync<Top>(_ => HandleTop());
        ReceiveAsync<Stats>(_ => HandleStats());
        Receive<Attach>(_ => HandleAttach());
        Receive<CgroupActor.OomKillsSeen>(m =>
        {
            // A late message of a run already torn down: its kills were reported by the teardown.
            if (m.RunId == _runId && m.RunId != _tornDownRun) ReportOomKills(m.Count);
        });
        ReceiveFaultMessages();
        ReceiveExec();
        ReceiveArchive();
        ReceiveGroupMessages();
        ReceiveVerbMessages();
        ReceiveNetworkMessages();
    }

    protected override bool AroundReceive(Receive receive, object message)
    {
        ContainerThreads.Enter(_svc.Options);
        return base.AroundReceive(receive, message);
    }

    protected override void PreStart()
    {
        Publish();
        // A record loaded from disk whose process may still run (or whose cgroup may be left).
        if (_record.Status != ContainerStatus.Created || Directory.Exists(_layout.RunDir)) Self.Tell(new Readopt());
        else Context.Parent.Tell(new Settled(Id));
    }

    // ---- start ----------------------------------------------------------------------------
    async Task HandleStart()
    {
        var sender = Sender;
        if (_record.Status is ContainerStatus.Running or ContainerStatus.Paused) { sender.Tell(new NotModified()); return; }
        if (RefuseWhileCopying(sender, "start")) return;
        if (!_record.Status.CanStart())
        {
            sender.Tell(new Status.Failure(new ConflictException($"cannot start container {Id[..12]}: it is {_record.Status.DockerName()}")));
            return;
        }
        var runId = ++_runId;
        _startFailure = null;
        var pid = 0;
        var mountFailures = 0;
        Task? cgroupCreate = null;
        Task<string?>? claim = null;
        try
        {
            if (!_runDirKept) _layout.CreateRun();
            _runDirKept = false;
            var network = HostNetwork ? _layout.CreateHostEtcFiles(_record.Spec.Hostname, _record.Spec.Names, _svc.Network?.HostGatewayIp) : Networked ? _layout.CreateEtcFiles() : [];
            // A pre-attached netns from the network's pool (gocker.network.netns-pool), claimed while
            // the rest is prepared: the init joins it and the CNI ADD is off the start's path.
            // Not for a remapped container: a pooled namespace belongs to the host's user namespace, in
            // which its root has no rights (no sysfs of its own, then). Its init makes its own
            // network namespace, inside its user namespace, and the CNI ADD goes into that one.
            if (Networked && _record.Spec.Userns is null) claim = ClaimAsync();
            _cgroup ??= Context.ActorOf(CgroupActor.Props(_svc.Cgroups, _svc.Options.CgroupParent, Id, _svc.Faults)
                .WithDispatcher(_svc.Options.ContainerDispatcher), "cgroup");
            // A restart by the policy reuses the cgroup its last run left empty (ContainerActor.Restart.cs).
            // The cgroup is made while the init is spawned (it is only needed for the placement):
            // ~1 ms (8 hierarchies on hybrid) off the start's critical path.
            if (_cgroupKept) _cgroupKept = false;
            else
            {
                var cgroup = _cgroup;
                cgroupCreate = Supervised(FaultStep.Cgroup, "cgroup-create",
                    () => cgroup.Ask<CgroupActor.Created>(new CgroupActor.Create(_record.Spec.Limits), AskTimeout));
            }

            // One pass per init spawned: a second only when the init's rootfs setup failed and the
            // mount policy says retry (a fresh run: new NamespaceActor, new init, new network attach).
            while (true)
            {
                WriteInitSpec(network, injectMountFault: _svc.Faults.TryConsume(Id, FaultKind.Mount));
                _ns = Context.ActorOf(NamespaceActor.Props(_svc.Spawner, runId, _svc.Faults, Id)
                    .WithDispatcher(_svc.Options.ContainerDispatcher), $"run-{runId}");
                var logWriter = OpenLog();
                // First pass only: a retry after a failed rootfs setup attaches normally (its slot was DELed).
                string? netns = null;
                if (claim is { } claiming)
                {
                    claim = null;
                    netns = await claiming;
                }
                var request = new SpawnRequest(_svc.InitPath, _layout.InitSpecPath, _layout.StdoutLog, _layout.StderrLog)
                {
                    HostNetwork = HostNetwork, NetnsPath = netns, Userns = UsernsSpawnOf(_record.Spec),
                };
                // A client that attached before the start already holds this run's stdio (NextStdio).
                var stdio = NextStdio();
                if (stdio is not null) request = stdio.Apply(request);
                // Without a tty, fds 1 and 2 are pipes to the daemon (fresh for each run), never the
                // host log files: from inside, /proc/self/fd/1 could reopen, truncate or read them.
                if (!_record.Spec.Tty)
                {
                    if (_output is not null) await await FinishOutput(); // a failed pass's (mount retry)
                    _output = ContainerOutput.Create(logWriter);
                    request = _output.Apply(request);
                }
                var ns = _ns;
                pid = (await Supervised(FaultStep.Spawn, "spawn",
                    () => ns.Ask<NamespaceActor.Spawned>(new NamespaceActor.Spawn(request), AskTimeout))).Pid;
                if (_stdio?.Spawned(logWriter) is { } stdioWarning) _log.Warning("container {0}: {1}", Id[..12], stdioWarning);
                var log = _log;
                var shortId = Id[..12];
                _output?.Spawned(OutputKeeper, Id, w => log.Warning("container {0}: {1}", shortId, w));
                // Our unreaped child: its pid cannot be reused before this read.
                var startTime = _svc.Adopter.StartTime(pid);
                if (cgroupCreate is { } creating)
                {
                    cgroupCreate = null;
                    await creating; // a failure fails the start: the catch below kills the init
                }

                // The init waits on its "go" pipe: it is in the cgroup, and its network namespace has its
                // interfaces and its /etc files their content, before the user's command runs. The CNI
                // ADD (tens of ms of plugin execs) runs meanwhile on the thread pool.
                var attach = Networked ? netns is null ? AttachAsync(pid) : ConnectExtraNetworksAsync() : null;
                Exception? setupError = null;
                var placed = pid;
                try
                {
                    await Supervised(FaultStep.Cgroup, "cgroup-add-process",
                        () => _cgroup.Ask<CgroupActor.Done>(new CgroupActor.AddProcess(placed), AskTimeout),
                        giveUpIf: () => InitExited(ns, placed));
                }
                catch (Exception ex) { setupError = ex; }
                // Always wait for the ADD, even when the cgroup failed: a teardown racing an ADD in flight
                // could DEL before it and leave its veth behind. An ADD failure is already undone.
                if (attach is not null)
                {
                    try { await attach; }
                    catch (Exception ex) { setupError = ex; }
                }
                var exec = setupError is null
                    ? await _ns.Ask<ExecResult>(new NamespaceActor.Release(), ReleaseTimeout)
                    : await InitReportOrThrow(ns, placed, setupError);
                if (!exec.Ok)
                {
                    // A failed rootfs setup: the mount policy decides (retry = a fresh init, after a backoff).
                    if (IsRootfsSetup(exec))
                    {
                        var final = await MountFailed(exec, ++mountFailures);
                        if (final is null)
                        {
                            runId = ++_runId;
                            pid = 0;
                            continue;
                        }
                        exec = final;
                    }
                    // The init exits by itself with exec.ExitCode.
                    FailStart(sender, exec, runId, hasProcess: true, killFirst: false);
                    return;
                }
                // Written behind: the fsync overlaps the command's run (a short one's exit is handled
                // meanwhile), and the answer waits for it, so once `start` returns the record that
                // lets a restarted daemon re-adopt the container is on disk.
                var durable = SetRecordBehind(_record with
                {
                    Status = ContainerStatus.Running, Pid = pid, PidStartTime = startTime, StartedAt = _svc.Clock.GetUtcNow(),
                    ExitCode = 0, OomKilled = false, Error = "", Terminal = _stdio?.Kept,
                    Output = _output?.HandedOff is { IsCompletedSuccessfully: true } handed ? handed.Result : null,
                });
                // The keeper's answer came after: recorded by a later write (OutputKept).
                if (_output?.HandedOff is { IsCompleted: false } handing)
                {
                    var self = Self;
                    var run = runId;
                    _ = handing.ContinueWith(t => { if (t.Result is { } k) self.Tell(new OutputKept(run, k)); },
                        TaskContinuationOptions.OnlyOnRanToCompletion | TaskContinuationOptions.ExecuteSynchronously);
                }
                Emit("start");
                // Every OOM kill in the container's cgroup (a child's too) gets its `oom` event as it
                // happens, as Docker's do; the teardown reports any the watch has not.
                _oomReported = 0;
                _cgroup.Tell(new CgroupActor.WatchOom(runId, 0));
                var started = new Started(pid);
                if (durable.IsCompleted) sender.Tell(started);
                else _ = durable.ContinueWith(_ => sender.Tell(started), TaskScheduler.Default);
                return;
            }
        }
        catch (StepFailedException ex)
        {
            await SettleCgroupCreate(cgroupCreate);
            await SettleClaim(claim);
            FailStart(sender, new ExecResult(false, 125, ex.Step, ex.Message), runId, hasProcess: pid > 0, killFirst: pid > 0);
        }
        catch (Exception ex)
        {
            await SettleCgroupCreate(cgroupCreate);
            await SettleClaim(claim);
            var cause = ex is AskTimeoutException ? "timed out" : ex.Message;
            FailStart(sender, new ExecResult(false, 125, "start", cause), runId, hasProcess: pid > 0, killFirst: pid > 0);
        }
    }

    /// <summary>A start that failed before it awaited its cgroup's creation (the spawn failed) waits
    /// for it here: the teardown must not remove the cgroup before a create (or its retry) lands.</summary>
    static async Task SettleCgroupCreate(Task? creating)
    {
        if (creating is null) return;
        try { await creating; }
        catch (Exception) { /* the start failed anyway: the teardown removes whatever exists */ }
    }

    /// <summary>A start that failed before the spawn awaited its netns claim waits for it here: the
    /// teardown's detach must come after the claim, or the claimed endpoint would be left.</summary>
    static async Task SettleClaim(Task<string?>? claiming)
    {
        if (claiming is null) return;
        try { await claiming; }
        catch (Exception) { /* the start failed anyway: the teardown detaches whatever was claimed */ }
    }

    /// <summary>
    /// A start failed. Teardown happens in its own message (FinishFailedStart): a child that threw is
    /// waiting for this actor's supervision directive, which is only processed between messages. The
    /// requester is answered once teardown is done, so when `run` returns nothing of it is left.
    /// </summary>
    void FailStart(IActorRef requester, ExecResult failure, int runId, bool hasProcess, bool killFirst)
    {
        _startFailure = failure;
        _pendingStartReply = (requester, new StartFailedException(failure.ToString(), failure.ExitCode));
        Self.Tell(new FinishFailedStart(runId, hasProcess, killFirst, failure.ExitCode));
    }

    async Task HandleFinishFailedStart(FinishFailedStart m)
    {
        if (m.RunId != _runId || m.RunId == _tornDownRun) { ReplyPendingStart(); return; }
        var status = ExitStatus.Exited(m.ExitCode);
        if (_ns is not null && m.HasProcess)
        {
            // Never leave a half-started init behind: kill it (if it will not exit by itself) and
            // wait until it is reaped.
            if (m.KillFirst) _ns.Tell(new NamespaceActor.Signal(9));
            try { status = await _ns.Ask<ExitStatus>(new NamespaceActor.AwaitExit(), AskTimeout); }
            catch (Exception ex) { _log.Error("container {0}: init did not exit: {1}", Id[..12], ex.Message); }
        }
        if (m.RunId == _tornDownRun) { ReplyPendingStart(); return; }
        await Teardown(status);
    }

    void ReplyPendingStart()
    {
        if (_pendingStartReply is not { } p) return;
        _pendingStartReply = null;
        p.Requester.Tell(new Status.Failure(p.Error));
    }

    /// <summary>The container has a network of its own (not "none", and the daemon has networking).</summary>
    bool Networked => _svc.Network is not null && _record.Spec.NetworkMode is { } m && m != "none" && m != "host";

    /// <summary>--network host: the host's network namespace, nothing for CNI to do.</summary>
    bool HostNetwork => _record.Spec.NetworkMode == "host";

    Task AttachAsync(int pid)
    {
        var s = _record.Spec;
        var request = new Gocker.Network.AttachRequest(Id, s.Name, s.Hostname, $"/proc/{pid}/ns/net", s.NetworkMode, s.Ports, _layout.EtcDir, s.Names);
        var net = _svc.Network!;
        var extras = s.ExtraNetworks;
        var previous = _detach;
        return Task.Run(async () =>
        {
            // A restart: the previous run's DELs finish first (its IP and host ports become free).
            if (previous is not null) { try { await previous; } catch { /* logged by StartDetach */ } }
            net.Attach(request);
            ConnectExtraNetworks(net, request.ContainerId, extras);
        });
    }

    /// <summary>Asks the network manager for a pooled, pre-attached netns (null: none ready, pool
    /// off, or ports published: the spawn makes a new netns and AttachAsync follows).</summary>
    Task<string?> ClaimAsync()
    {
        var s = _record.Spec;
        var request = new Gocker.Network.AttachRequest(Id, s.Name, s.Hostname, "", s.NetworkMode, s.Ports, _layout.EtcDir, s.Names);
        var net = _svc.Network!;
        var previous = _detach;
        return Task.Run(async () =>
        {
            // A restart: the previous run's DELs finish first (as in AttachAsync).
            if (previous is not null) { try { await previous; } catch { /* logged by StartDetach */ } }
            return net.ClaimNetns(request);
        });
    }

    /// <summary>Releases the container's network (veth, IP, NAT and port rules) off the actor's path.
    /// Idempotent; a crash before it completes is cleaned by CleanupStale at the next daemon start.</summary>
    void StartDetach()
    {
        if (_svc.Network is not { } net) return;
        var id = Id;
        var log = _log;
        var previous = _detach;
        var recyclable = !MayHaveChangedItsNetns(_record.Spec);
        _detach = Task.Run(async () =>
        {
            if (previous is not null) { try { await previous; } catch { } }
            // Every caller runs after the init is gone (its PID namespace, and so every process of
            // the container, with it): the netns can be let go before the DELs (see VethReaper).
            try { await net.DetachAsync(id, containerGone: true, mayRecycle: recyclable); }
            catch (Exception ex) { log.Error("container {0}: network teardown: {1}", id[..12], ex.Message); throw; }
        });
    }

    /// <summary>A container that could change its network namespace (interfaces, routes, firewall,
    /// sysctls) must not hand it to the next container through the netns pool; nor may a remapped one,
    /// whose namespace belongs to its own user namespace (its root had every right over it).</summary>
    static bool MayHaveChangedItsNetns(ContainerSpec s)
    {
        const ulong netAdmin = 1UL << Gocker.Syscalls.Security.CapabilitySet.NET_ADMIN, sysAdmin = 1UL << Gocker.Syscalls.Security.CapabilitySet.SYS_ADMIN;
        return s.Privileged || s.Userns is not null || ((s.Capabilities ?? 0) & (netAdmin | sysAdmin)) != 0 ||
               s.Sysctls.Any(x => x.Key.StartsWith("net.", StringComparison.Ordinal));
    }

    async Task AwaitDetach()
    {
        if (_detach is null) return;
        try { await _detach; } catch { /* logged */ }
    }

    /// <summary>userns-remap: the rootfs the daemon makes from idmapped layers, and what the daemon
    /// sets on the init that it could not set itself.</summary>
    UsernsSpawn? UsernsSpawnOf(ContainerSpec s) => s.Userns is not { } map ? null
        : new UsernsSpawn(map, s.ImageLayers, _layout.UpperDir, _layout.WorkDir, s.AutoRemove)
        {
            Rlimits = s.Ulimits is { Length: > 0 } u ? u : null,
            OomScoreAdj = s.OomScoreAdj != 0 ? s.OomScoreAdj : null,
        };

    void WriteInitSpec(VolumeMount[] etcMounts, bool injectMountFault = false)
    {
        var s = _record.Spec;
        var spec = new InitSpec
        {
            RootfsDir = _layout.RootfsDir,
            LowerDirs = s.ImageLayers,
            UpperDir = _layout.UpperDir,
            WorkDir = _layout.WorkDir,
            Hostname = s.Hostname,
            Args = s.Args,
            Env = EnvWithTerm(s),
            WorkingDir = s.WorkingDir,
            User = s.User,
            Init = s.Init,
            // The generated /etc files first: a user's -v onto /etc/hosts still wins, as in Docker.
            // Copy-up into an empty volume on the container's first start only (Docker copies when it
            // creates the container): a volume the container emptied stays empty across restarts.
            Volumes = [.. etcMounts, .. _record.StartedAt is null ? s.Volumes : s.Volumes.Select(v => v.CopyUp ? v with { CopyUp = false } : v)],
            InjectMountFault = injectMountFault,
            Tty = s.Tty,
            // --rm: the upper dir is deleted when the container exits, so the overlay's syncfs of the
            // whole upper filesystem at unmount (on the exit path, ~1 ms) buys nothing.
            VolatileUpper = s.AutoRemove,
            Capabilities = s.Capabilities,
            ReadonlyRootfs = s.ReadonlyRootfs,
            UnmaskedPaths = s.UnmaskedPaths,
            Privileged = s.Privileged,
            Tmpfs = s.Tmpfs is { Length: > 0 } t ? t : null,
            Rlimits = s.Ulimits is { Length: > 0 } u ? u : null,
            // Privileged: the host's devices as they are at this start (Docker lists them per start too).
            Devices = s.Privileged ? Gocker.Syscalls.Mounts.HostDevices.List() : s.Devices is { Length: > 0 } d ? d : null,
            Sysctls = WithDomainname(s) is { Length: > 0 } sc ? sc : null,
            ShmSize = s.ShmSize,
            GroupAdd = s.GroupAdd is { Length: > 0 } g ? g : null,
            OomScoreAdj = s.OomScoreAdj != 0 ? s.OomScoreAdj : null,
            // Compiled once per (profile, capabilities): later starts reuse the cached program.
            Seccomp = ContainerSecurity.SeccompProgram(s),
            NoNewPrivileges = s.NoNewPrivileges,
            Remapped = s.Userns is not null,
        };
        using var fs = new FileStream(_layout.InitSpecPath, new FileStreamOptions
        {
            Mode = FileMode.Create, Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        });
        fs.Write(InitSpecJson.Serialize(spec));
    }

    // ---- exit and teardown ----------------------------------------------------------------
    async Task HandleExited(NamespaceActor.ProcessExited m)
    {
        if (m.RunId != _runId || m.RunId == _tornDownRun) return;
        _log.Debug("container {0}: exited: {1}", Id[..12], m.Status);
        await Teardown(m.Status, exited: true);
    }

    /// <param name="exited">The run's process exited by itself (not a failed start, re-adoption or
    /// engine fault): its OOM count is read, and if the policy restarts it its cgroup and run dir
    /// are kept for the next run.</param>
    async Task Teardown(ExitStatus status, bool oom = false, string? note = null, bool exited = false)
    {
        if (status.ExitCode < 0 && note is null)
            note = "exit status unknown: the process was re-adopted after a daemon restart and reaped by another process before its status could be read";
        _tornDownRun = _runId;
        Timers.CancelAll();
        if (_stdio is { } stdio)
        {
            // Everything the container wrote to its terminal reaches the log before the exit is
            // announced (attached clients drain the file up to that point, then finish).
            _stdio = null;
            await stdio.FinishAsync(TimeSpan.FromSeconds(2));
        }
        // A kept terminal no daemon took back (its run ended while gockerd was down): the keeper drops it.
        else if (_record.Terminal is { } kept) Keeper?.Release(kept, Id);
        // Pipes no daemon took back (the run ended while gockerd was down): what the container wrote
        // meanwhile is still in them; taken back to be copied into the logs, then dropped.
        if (_output is null && !_record.Spec.Tty && (_record.Output ?? OutputKeeper.FindPipes(Id)) is { } keptPipes)
        {
            _output = ContainerOutput.Readopt(keptPipes, OpenLog(), out var why);
            if (_output is null)
            {
                _log.Warning("container {0}: its output pipes could not be taken back (output written while gockerd was down, if any, is lost): {1}", Id[..12], why);
                OutputKeeper.ReleasePipes(keptPipes, Id);
            }
        }
        // Everything the container wrote reaches the logs before the exit is announced.
        var releasing = await FinishOutput();
        CloseLog(endOfRun: true);
        if (_ns is not null) { Context.Stop(_ns); _ns = null; }
        // Any container may hold an endpoint record (e.g. one started under another default): always.
        // Before the cgroup removal, which it overlaps: the init is gone, and with its PID namespace
        // every process of the container, so nothing of it holds the netns any more.
        StartDetach();
        var errors = new List<string>();
        var keep = exited && KeepForRestart(status);
        _cgroupKept = false;
        long oomKills = 0;
        if (_cgroup is not null)
        {
            try
            {
                var ended = await _cgroup.Ask<CgroupActor.RunEnded>(new CgroupActor.EndRun(keep), AskTimeout);
                if (exited)
                {
                    oomKills = ended.OomKills;
                    oom = oomKills > 0 || _oomReported > 0;
                }
                _cgroupKept = ended.Kept;
                if (ended.RemoveError is { } e) errors.Add($"cgroup removal: {e}");
            }
            catch (Exception ex) { errors.Add($"cgroup removal: {ex.Message}"); }
        }
        _runDirKept = keep;
        if (!keep)
        {
            try { _layout.RemoveRun(_svc.Trash); }
            catch (Exception ex) { errors.Add($"run dir removal: {ex.Message}"); }
        }
        foreach (var e in errors) _log.Error("container {0}: teardown: {1}", Id[..12], e);

        var failure = _startFailure;
        SetRecord(_record with
        {
            Status = ContainerStatus.Exited,
            Pid = 0,
            Terminal = null,
            Output = null,
            ExitCode = failure?.ExitCode ?? status.ExitCode,
            OomKilled = oom,
            Error = failure is not null ? failure.ToString() : string.Join("; ", note is null ? errors : errors.Prepend(note)),
            FinishedAt = _svc.Clock.GetUtcNow(),
        });
        // One `oom` per kill the live watch has not announced (all of them if it could not watch), before "die".
        ReportOomKills(oomKills);
        // A failed start that never ran the command has no "die" in Docker either.
        if (failure is null) Emit("die", ("exitCode", _record.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        if (_stoppers.Count > 0) Emit("stop");
        var result = new WaitResult(_record.ExitCode, oom, _record.Error.Length > 0 ? _record.Error : null);
        foreach (var w in _waiters.Where(w => w.Condition != WaitCondition.Removed).ToList())
        {
            w.Who.Tell(result);
            _waiters.Remove(w);
        }
        foreach (var s in _stoppers) s.Tell(new Ack());
        _stoppers.Clear();
        var tcs = _nextExit;
        _nextExit = new(TaskCreationOptions.RunContinuationsAsynchronously);
        tcs.TrySetResult();

        // The keeper has dropped this run's pipes before a next run (same tags) can hand it new ones;
        // a removal (never restarted) overlaps it with its own work instead.
        if (!((_record.Spec.AutoRemove && !_stoppingForRestart) || _pendingRemove)) await releasing;
        ApplyRestartPolicy(failure);
        if (_record.Status != ContainerStatus.Restarting) await ReleaseKeptRun();
        var autoRemove = _record.Spec.AutoRemove && !_stoppingForRestart;
        _stoppingForRestart = false;
        if (autoRemove || _pendingRemove) await DoRemove(releasing);
        await releasing;
        ReplyPendingStart();
    }

    /// <param name="overlapped">Work of the teardown that ran meanwhile (the keeper's release of the
    /// run's pipes): done before the removal is announced.</param>
    async Task DoRemove(Task? overlapped = null)
    {
        SetRecord(_record with { Status = ContainerStatus.Removing });
        if (_cgroup is not null)
        {
            try { await _cgroup.Ask<CgroupActor.Done>(new CgroupActor.Remove(), AskTimeout); } catch { /* logged at exit */ }
        }
        // `rm` returns only when nothing of the container is left, its network included (the
        // teardown needs neither the run nor the data dir: it overlaps their removal).
        if (_detach is null) StartDetach();
        _layout.RemoveRun(_svc.Trash);
        await _writer.Flush(); // a record written behind must not land in (or recreate) a removed dir
        // Clients still draining the log (an attached `run --rm`) open its newer generations by
        // path: they finish first (bounded: a client that does not read must not hold the removal).
        if (_record.StartedAt is not null)
            await Task.WhenAny(_svc.Logs.ReadersDone(_layout.DataDir), Task.Delay(TimeSpan.FromSeconds(2)));
        _layout.RemoveData(_svc.Trash);
        // Its volumes are free; its anonymous ones go with `rm -v` and with an --rm container (Docker).
        try
        {
            var gone = _svc.Volumes.Release(Id, ContainerSupervisor.VolumeNames(_record.Spec), _removeVolumes || _record.Spec.AutoRemove);
            foreach (var v in gone) Context.System.EventStream.Publish(new Events.GockerEvent("volume", "destroy", v, new Dictionary<string, string>(StringComparer.Ordinal) { ["driver"] = "local" }, _svc.Clock.GetUtcNow()));
        }
        catch (Exception ex) { _log.Error("container {0}: releasing its volumes: {1}", Id[..12], ex.Message); }
        await AwaitDetach();
        if (overlapped is not null) await overlapped;
        Emit("destroy"); // before the answers: once `rm` returns, `events` has the destroy
        // Out of `ps`, and its name free, before `rm` (or the wait of `run --rm`) is answered (and no
        // later publish puts it back).
        _removed = true;
        _svc.Listing.Remove(Id);
        Context.Parent.Tell(new Removed(Id));
        var result = new WaitResult(_record.ExitCode, _record.OomKilled, _record.Error.Length > 0 ? _record.Error : null);
        foreach (var w in _waiters) w.Who.Tell(result);
        _waiters.Clear();
        foreach (var r in _removers) r.Tell(new Ack());
        _removers.Clear();
        _nextExit.TrySetResult();
        // Not stopped here: requests the supervisor forwarded before it learnt of the removal are
        // still queued (they came in while the removal ran), and a stopped actor's mailbox goes to dead
        // letters, where each asker would wait for its timeout (`wait X; rm -f X` of an --rm container
        // took 60 s). Gone answers them; the supervisor's PoisonPill, sent when it gets Removed (and so
        // after everything it forwarded before), stops this actor.
        Become(Gone);
    }

    /// <summary>Removed: every request is answered "No such container", as the supervisor now does.</summary>
    void Gone()
    {
        ReceiveAny(_ =>
        {
            // Our own children's reports and replies are not requests (the namespace actor throws on a failure).
            if (Sender.IsNobody() || Sender.Path.Parent == Self.Path) return;
            Sender.Tell(new Status.Failure(new ContainerNotFoundException(Id)));
        });
    }

    // ---- re-adoption after a daemon restart -------------------------------------------------
    /// <summary>
    /// The record says the container was running (or paused) when the previous daemon died. Its
    /// process is taken back only if the recorded pid still names the process that started at the
    /// recorded time (ProcessAdopter); then its exit is watched with a pidfd, its output keeps going
    /// to the same files, and every verb works on it. Otherwise it exited while the daemon was down:
    /// whatever is left of it in its cgroup is killed, and it is recorded as exited with the status
    /// the kernel still had, or -1 with the reason. A container caught half-started (still "created"
    /// with a run dir) is cleaned the same way.
    /// </summary>
    async Task HandleReadopt()
    {
        var loaded = _record.Status;
        try { await ReadoptCore(); ResumePolicyAfterDaemonRestart(loaded); }
        finally { Context.Parent.Tell(new Settled(Id)); }
    }

    async Task ReadoptCore()
    {
        _cgroup ??= Context.ActorOf(CgroupActor.Props(_svc.Cgroups, _svc.Options.CgroupParent, Id, _svc.Faults)
            .WithDispatcher(_svc.Options.ContainerDispatcher), "cgroup");
        var cgroupExists = false;
        try { cgroupExists = (await _cgroup.Ask<CgroupActor.Opened>(new CgroupActor.Open(), AskTimeout)).Existed; }
        catch (Exception ex) { _log.Warning("container {0}: re-opening its cgroup failed: {1}", Id[..12], ex.Message); }

        // Restarting: its last run was torn down before the daemon died; the policy resumes it.
        if (_record.Status is ContainerStatus.Created or ContainerStatus.Exited or ContainerStatus.Dead or ContainerStatus.Restarting)
        {
            if (cgroupExists) await KillAndRemoveCgroup();
            StartDetach();
            TryRemoveRun();
            return;
        }
        var runId = ++_runId;
        var proc = _svc.Adopter.Adopt(_record.Pid, _record.PidStartTime, out var why);
        if (proc is not null)
        {
            _ns = Context.ActorOf(NamespaceActor.Props(_svc.Spawner, runId)
                .WithDispatcher(_svc.Options.ContainerDispatcher), $"run-{runId}");
            try
            {
                await _ns.Ask<NamespaceActor.Spawned>(new NamespaceActor.Adopt(proc), AskTimeout);
                if (Gocker.Syscalls.Spawn.ProcStat.Read(_record.Pid) is { IsZombie: true })
                {
                    // It died while no daemon watched and its new parent has not reaped it yet:
                    // settle it now rather than listing it as running for a moment.
                    var status = await proc.WaitForExitAsync().WaitAsync(AskTimeout);
                    await Teardown(status, note: "exited while gockerd was down");
                    return;
                }
                ReadoptTerminal();
                ReadoptOutput();
                await WatchOomOfReadopted(runId);
                if (_record.Status == ContainerStatus.Restarting) SetRecord(_record with { Status = ContainerStatus.Running });
                _log.Info("container {0}: re-adopted pid {1} ({2})", Id[..12], _record.Pid, _record.Status.DockerName());
                return;
            }
            catch (Exception ex) { why = $"re-adoption failed: {ex.Message}"; }
        }
        _log.Info("container {0}: exited while gockerd was down: {1}", Id[..12], why);
        // The pid is not ours any more (or gone): never signal it. The cgroup is ours by name.
        if (cgroupExists) await KillAndRemoveCgroup();
        await Teardown(new ExitStatus(-1, null), note: why);
    }

    /// <summary>A -t container's terminal: taken back from the keeper, so output is copied to the log
    /// again and attach, input and resize work. If the keeper is gone (or is not the recorded process)
    /// the container runs on without a terminal, and the log says so.</summary>
    void ReadoptTerminal()
    {
        if (!_record.Spec.Tty) return;
        string why = "no terminal keeper held it (the daemon that started it had none)";
        if (_record.Terminal is { } kept && Keeper is { } keeper)
        {
            var gapSince = LogGapSince();
            _stdio = ContainerStdio.Readopt(kept, keeper, Id, _record.Spec.StdinOnce, OpenLog(), out why);
            if (_stdio is not null)
            {
                _log.Info("container {0}: terminal /dev/pts/{1} taken back from the keeper (pid {2})", Id[..12], kept.Pts, kept.KeeperPid);
                ReportLogGap(gapSince, null);
                return;
            }
        }
        _log.Warning("container {0}: re-adopted without a terminal: {1}", Id[..12], why);
        if (_record.Terminal is not null) SetRecord(_record with { Terminal = null });
    }

    /// <summary>A non-tty container's output pipes: taken back from the keeper, so the copier goes on
    /// (what the container wrote meanwhile is in the pipes). If the keeper is gone the container has
    /// had no reader (its writes failed with EPIPE): its output is lost, and the log says so.</summary>
    void ReadoptOutput()
    {
        if (_record.Spec.Tty) return;
        string why = "no keeper held its pipes (the daemon that started it had none)";
        // Not recorded: the previous daemon may have died between the hand-off and the record's write.
        if ((_record.Output ?? OutputKeeper.FindPipes(Id)) is { } kept)
        {
            var gapSince = LogGapSince();
            _output = ContainerOutput.Readopt(kept, OpenLog(), out why);
            if (_output is not null)
            {
                _log.Info("container {0}: output pipes taken back from the keeper (pid {1})", Id[..12], kept.KeeperPid);
                ReportLogGap(gapSince, _output.Backlog);
                if (_record.Output != kept) SetRecord(_record with { Output = kept });
                return;
            }
        }
        _log.Warning("container {0}: re-adopted without its output: {1}", Id[..12], why);
        if (_record.Output is not null) SetRecord(_record with { Output = null });
    }

    void HandleOutputKept(OutputKept m)
    {
        // Only while that run is the running one: a later teardown already released them.
        if (m.RunId != _runId || m.RunId == _tornDownRun || _output?.Kept != m.Kept) return;
        // Written behind: nothing waits for it (a daemon killed before it lands re-adopts the
        // container without its output, as if the keeper had failed).
        if (_record.Status is ContainerStatus.Running or ContainerStatus.Paused) _ = SetRecordBehind(_record with { Output = m.Kept });
    }

    /// <summary>Drains the run's output into the logs (bounded) and returns the release of the
    /// keeper's copies, which runs meanwhile: the caller awaits it before it is done.</summary>
    async Task<Task> FinishOutput()
    {
        if (_output is not { } output) return Task.CompletedTask;
        _output = null;
        await output.DrainAsync(TimeSpan.FromSeconds(2));
        return output.ReleaseAsync(OutputKeeper, Id);
    }

    /// <summary>The keeper of the daemon (one per exec root): -t runs' terminals and other runs' pipes.</summary>
    Gocker.Syscalls.Keeper.TerminalKeeper OutputKeeper =>
        Gocker.Syscalls.Keeper.TerminalKeeper.For(_svc.Options.ExecRoot, _svc.InitPath, _svc.Cgroups, _svc.Options.CgroupParent);

    /// <summary>The daemon's terminal keeper (one per exec root, started with the first -t run).</summary>
    Gocker.Syscalls.Keeper.TerminalKeeper? Keeper => _record.Spec.Tty
        ? Gocker.Syscalls.Keeper.TerminalKeeper.For(_svc.Options.ExecRoot, _svc.InitPath, _svc.Cgroups, _svc.Options.CgroupParent)
        : null;

    async Task KillAndRemoveCgroup()
    {
        try
        {
            await _cgroup!.Ask<CgroupActor.Done>(new CgroupActor.KillAll(), AskTimeout);
            await _cgroup.Ask<CgroupActor.Done>(new CgroupActor.Remove(), AskTimeout);
        }
        catch (Exception ex) { _log.Error("container {0}: removing its stale cgroup failed: {1}", Id[..12], ex.Message); }
    }

    void TryRemoveRun()
    {
        try { _layout.RemoveRun(_svc.Trash); }
        catch (Exception ex) { _log.Error("container {0}: run dir removal: {1}", Id[..12], ex.Message); }
    }

    // ---- pause, top, stats ----------------------------------------------------------------
    async Task HandlePause(bool freeze)
    {
        var sender = Sender;
        var want = freeze ? ContainerStatus.Running : ContainerStatus.Paused;
        if (_record.Status != want || _cgroup is null)
        {
            var msg = freeze
                ? _record.Status == ContainerStatus.Paused ? $"Container {Id} is already paused" : $"Container {Id} is not running"
                : $"Container {Id} is not paused";
            sender.Tell(new Status.Failure(new ConflictException($"{msg} (it is {_record.Status.DockerName()})")));
            return;
        }
        try
        {
            await _cgroup.Ask<CgroupActor.Done>(freeze ? new CgroupActor.Freeze() : new CgroupActor.Thaw(), AskTimeout);
        }
        catch (Exception ex)
        {
            sender.Tell(new Status.Failure(new InvalidOperationException($"{(freeze ? "pause" : "unpause")} {Id[..12]}: {ex.Message}")));
            return;
        }
        // The process may have exited meanwhile (Teardown ran between messages? no: one message at a time).
        SetRecord(_record with { Status = freeze ? ContainerStatus.Paused : ContainerStatus.Running });
        Emit(freeze ? "pause" : "unpause");
        sender.Tell(new Ack());
    }

    async Task HandleTop()
    {
        var sender = Sender;
        if (!_record.Status.CanKill() || _cgroup is null)
        {
            sender.Tell(new Status.Failure(new ConflictException($"Container {Id} is not running (it is {_record.Status.DockerName()})")));
            return;
        }
        try { sender.Tell(await _cgroup.Ask<CgroupActor.ProcessList>(new CgroupActor.ListProcesses(), AskTimeout)); }
        catch (Exception ex) { sender.Tell(new Status.Failure(ex)); }
    }

    async Task HandleStats()
    {
        var sender = Sender;
        if (!_record.Status.CanKill() || _cgroup is null)
        {
            sender.Tell(new StatsResult(new Gocker.Syscalls.Cgroups.CgroupStats(0, 0, 0, 0), 0));
            return;
        }
        try
        {
            var stats = await _cgroup.Ask<Gocker.Syscalls.Cgroups.CgroupStats>(new CgroupActor.ReadStats(), AskTimeout);
            var procs = await _cgroup.Ask<CgroupActor.ProcessList>(new CgroupActor.ListProcesses(), AskTimeout);
            sender.Tell(new StatsResult(stats, procs.Pids.Count));
        }
        catch (Exception ex) { sender.Tell(new Status.Failure(ex)); }
    }

    /// <summary>Docker refuses stop and kill on a paused container: its processes cannot act on a
    /// signal until thawed.</summary>
    bool RejectPaused(string verb)
    {
        if (_record.Status != ContainerStatus.Paused) return false;
        Sender.Tell(new Status.Failure(new ConflictException(
            $"cannot {verb} container {Id}: it is paused. Unpause the container before stopping or killing")));
        return true;
    }

    // ---- other verbs ----------------------------------------------------------------------
    void HandleWait(Wait m)
    {
        var running = _record.Status is ContainerStatus.Running or ContainerStatus.Paused;
        if (m.Condition == WaitCondition.NotRunning && !running)
            Sender.Tell(new WaitResult(_record.ExitCode, _record.OomKilled, _record.Error.Length > 0 ? _record.Error : null));
        else
            _waiters.Add((Sender, m.Condition));
    }

    void HandleKill(Kill m)
    {
        if (RejectPaused("kill")) return;
        if (!_record.Status.CanKill() || _ns is null)
        {
            Sender.Tell(new Status.Failure(new ConflictException($"Container {Id} is not running (it is {_record.Status.DockerName()})")));
            return;
        }
        _ns.Tell(new NamespaceActor.Signal(m.Signal));
        Emit("kill", ("signal", m.Signal.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Sender.Tell(new Ack());
    }

    void HandleStop(Stop m)
    {
        if (RejectPaused("stop")) return;
        if (!_record.Status.CanKill() || _ns is null) { Sender.Tell(new NotModified()); return; }
        _stoppers.Add(Sender);
        if (m.ForRestart) _stoppingForRestart = true;
        var signal = m.Signal ?? StopSignalNumber;
        _ns.Tell(new NamespaceActor.Signal(signal));
        Emit("kill", ("signal", signal.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        // A PID 1 that ignores the signal still stops: SIGKILL when the grace period ends (never
        // with a StopTimeout of -1).
        var timeout = m.Timeout ?? StopTimeoutOf(_record.Spec, _svc.Options.DefaultStopTimeout);
        if (timeout >= TimeSpan.Zero) Timers.StartSingleTimer($"kill-{_runId}", new KillTimeout(_runId), timeout);
    }

    void HandleKillTimeout(KillTimeout m)
    {
        if (m.RunId == _runId && _ns is not null) _ns.Tell(new NamespaceActor.Signal(9));
    }

    async Task HandleRemove(Remove m)
    {
        if (RefuseWhileCopying(Sender, "remove")) return;
        if (m.Volumes) _removeVolumes = true;
        if (_record.Status is ContainerStatus.Running or ContainerStatus.Paused)
        {
            if (!m.Force)
            {
                Sender.Tell(new Status.Failure(new ConflictException(
                    $"You cannot remove a running container {Id}. Stop the container before attempting removal or force remove")));
                return;
            }
            _removers.Add(Sender);
            _pendingRemove = true;
            _ns?.Tell(new NamespaceActor.Signal(9));
            // A frozen process acts on SIGKILL only once thawed.
            if (_record.Status == ContainerStatus.Paused) _cgroup?.Tell(new CgroupActor.Thaw(), ActorRefs.Nobody);
            return;
        }
        if (_record.Status == ContainerStatus.Removing) { _removers.Add(Sender); return; }
        _removers.Add(Sender);
        await DoRemove();
    }

    /// <summary>The stdio of the coming run, made on first need (an attach before start, or the start).</summary>
    ContainerStdio? NextStdio()
    {
        if (_stdio is { IsSpawned: true }) { _stdio.Dispose(); _stdio = null; }
        return _stdio ??= ContainerStdio.Create(_record.Spec.Tty, _record.Spec.OpenStdin, _record.Spec.StdinOnce, Keeper, Id, _record.Spec.ConsoleSize);
    }

    void HandleAttach()
    {
        if (_record.Status is ContainerStatus.Dead or ContainerStatus.Removing)
        {
            Sender.Tell(new Status.Failure(new ConflictException("You cannot attach to a stopped container, start it first")));
            return;
        }
        // An exited container is attached like a created one, to its next run: docker's `start -a`
        // attaches before it starts (the console refuses a plain `attach` to a stopped container).
        bool next = _record.Status is ContainerStatus.Created or ContainerStatus.Exited;
        try { Logs.LogFiles.MigrateLegacy(_layout.DataDir); }
        catch (IOException ex) { _log.Warning("container {0}: its log could not be moved to log/: {1}", Id[..12], ex.Message); }
        Sender.Tell(new AttachInfo(_layout.DataDir, Logs.LogFiles.End(_layout.DataDir), _nextExit.Task)
        { Stdio = next ? NextStdio() : _stdio, Tty = _record.Spec.Tty, Logs = _svc.Logs });
    }

    /// <summary>The run's log writer (opened at the start or re-adoption, closed at the teardown).</summary>
    Logs.LogWriter? _logWriter;

    Logs.LogWriter OpenLog()
    {
        if (_logWriter is not null) return _logWriter;
        var system = Context.System;
        var (id, name, image, clock, log) = (Id, _record.Spec.Name, _record.Spec.Image, _svc.Clock, _log);
        // Called on the copier's thread: publishes straight to the event stream (thread-safe).
        Logs.LogWriter.Reporter report = (action, attrs) =>
        {
            var all = new Dictionary<string, string>(StringComparer.Ordinal) { ["name"] = name, ["image"] = image };
            foreach (var (k, v) in attrs) all[k] = v;
            log.Warning("container {0}: {1} {2}", id[..12], action, string.Join(' ', attrs.Select(a => a.Key + "=" + a.Value)));
            system.EventStream.Publish(new GockerEvent("container", action, id, all, clock.GetUtcNow()));
        };
        return _logWriter = _svc.Logs.Open(_layout.DataDir, _record.Spec.Log ?? _svc.Options.Logs, report);
    }

    /// <summary>Closes the log writer; at the end of a run of a "none" container its attach buffer is
    /// emptied (nothing of its output stays).</summary>
    void CloseLog(bool endOfRun)
    {
        if (_logWriter is not { } w) return;
        _logWriter = null;
        if (endOfRun && _record.Spec.Log is { Readable: false }) w.Clear();
        _svc.Logs.Close(w);
    }

    /// <summary>The new record, on disk before this returns (RecordWriter.Save).</summary>
    void SetRecord(ContainerRecord next)
    {
        if (Accept(next)) _writer.Save(_record);
        Publish();
    }

    /// <summary>The new record, written behind (RecordWriter.SaveBehind): the task completes once
    /// it is on disk.</summary>
    Task SetRecordBehind(ContainerRecord next)
    {
        var written = Accept(next) ? _writer.SaveBehind(_record) : Task.CompletedTask;
        Publish();
        return written;
    }

    /// <summary>Takes the record (checking the transition); true when it is to be written.</summary>
    bool Accept(ContainerRecord next)
    {
        if (next.Status != _record.Status) ContainerStatusRules.CheckTransition(_record.Status, next.Status);
        _record = next;
        // An --rm container's exit record would be deleted a moment later: skip that write (and its
        // fsync) on the run path. If the daemon dies in between, the next one finds the process
        // gone, records the exit and removes the container all the same.
        var removedNext = next.Status == ContainerStatus.Exited && ((next.Spec.AutoRemove && !_stoppingForRestart) || _pendingRemove);
        // Likewise the exit record of a run the policy restarts: "restarting" is written right after.
        var restartedNext = next.Status == ContainerStatus.Exited && PlanRestart(next);
        return next.Status != ContainerStatus.Removing && !removedNext && !restartedNext;
    }

    /// <summary>The listing (`ps`) first, synchronously, then the supervisor (inspect, names).</summary>
    void Publish()
    {
        if (_removed) return;
        _svc.Listing.Set(_record);
        Context.Parent.Tell(new Changed(_record));
    }

    bool _removed;

    /// <summary>Emits one `oom` per kill counted beyond those already reported in this run, and
    /// records State.OOMKilled at once (Docker sets it at the `oom` event, a child's kill included).</summary>
    void ReportOomKills(long count)
    {
        if (count <= _oomReported) return;
        var fresh = count - _oomReported;
        _oomReported = count;
        for (long i = 0; i < fresh; i++) Emit("oom");
        if (!_record.OomKilled && _record.Status is ContainerStatus.Running or ContainerStatus.Paused)
            _ = SetRecordBehind(_record with { OomKilled = true });
    }

    /// <summary>A re-adopted run: kills counted before (reported by the daemon that watched them, or
    /// while none did) are not announced again; later ones are, as for any run.</summary>
    async Task WatchOomOfReadopted(int runId)
    {
        if (_cgroup is null) return;
        try { _oomReported = (await _cgroup.Ask<CgroupActor.OomKills>(new CgroupActor.ReadOomKills(), AskTimeout)).Count; }
        catch (Exception ex)
        {
            _log.Warning("container {0}: reading its OOM count failed, so its OOM kills are not watched: {1}", Id[..12], ex.Message);
            return;
        }
        _cgroup.Tell(new CgroupActor.WatchOom(runId, _oomReported));
    }

    /// <summary>Publishes an event about this container on the system's EventStream (name and image
    /// always among its attributes, as in Docker's).</summary>
    void Emit(string action, params (string Key, string Value)[] extra)
    {
        var attrs = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["name"] = _record.Spec.Name,
            ["image"] = _record.Spec.Image,
        };
        if (_record.Spec.Group is { Length: > 0 } group) attrs["group"] = group;
        foreach (var (k, v) in extra) attrs[k] = v;
        Context.System.EventStream.Publish(new GockerEvent("container", action, Id, attrs, _svc.Clock.GetUtcNow()));
    }
}

/// <summary>The container could not be started; ExitCode is what `gocker run` exits with
/// (125 setup failure, 126 command not runnable, 127 command not found).</summary>
public class StartFailedException(string message, int exitCode) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}
