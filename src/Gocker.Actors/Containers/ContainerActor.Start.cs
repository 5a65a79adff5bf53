using Akka.Actor;
using Akka.Event;
using Gocker.Actors.Engine;
using Gocker.Actors.Events;
using Gocker.Actors.Faults;
using Gocker.Syscalls.Spawn;

namespace Gocker.Actors.Containers;

/// <summary>`start`: from the verb to the running record, step by step (see HandleStart).</summary>
public sealed partial class ContainerActor
{
    /// <summary>`start`: of a container waiting to restart, starts it now (the policy's cycle goes
    /// on); otherwise a fresh start: the stopped-by-hand flag, the count and the backoff reset.</summary>
    Task HandleStartByHand()
    {
        if (_record.Status == ContainerStatus.Restarting)
        {
            CancelPendingRestart();
            return StartByPolicy();
        }
        if (_record.Status.CanStart())
            _record = _record with { ManuallyStopped = false, RestartCount = 0, RestartDelay = null, NextRestartAt = null };
        return HandleStart();
    }

    // ---- start ----------------------------------------------------------------------------
    /// <summary>One start's working state, shared by its steps and by the failure path (which must
    /// settle what is still in flight and know whether there is an init to kill).</summary>
    sealed class StartAttempt(IActorRef requester)
    {
        public IActorRef Requester { get; } = requester;
        /// <summary>The generated /etc files the init mounts (hosts, hostname, resolv.conf).</summary>
        public VolumeMount[] EtcMounts = [];
        /// <summary>The cgroup's creation, in flight while the init is spawned (needed only for the placement).</summary>
        public Task? CgroupCreate;
        /// <summary>A pooled, pre-attached netns being claimed; the first init joins it.</summary>
        public Task<string?>? Claim;
        /// <summary>The netns this init joined (null: it made its own, and the CNI ADD follows the spawn).</summary>
        public string? Netns;
        /// <summary>The spawned init (0: none yet, or the last one died of a rootfs failure being retried).</summary>
        public int Pid;
        public ulong PidStartTime;
        public int MountFailures;
    }

    /// <summary>
    /// `start` (by hand, by the restart policy, by the group), in steps: RefuseStart, BeginRun,
    /// PrepareRun (run dir, /etc files, netns claim and cgroup creation in flight), SpawnUntilSetUp
    /// (spawn the init, place it in its cgroup, attach its network, release it; a retried rootfs
    /// failure spawns a fresh init), RecordRunning. A failure at any step ends in FailStart: the
    /// teardown runs in a message of its own, then the requester is answered.
    /// </summary>
    async Task HandleStart(bool byPolicy = false)
    {
        var sender = Sender;
        if (RefuseStart(sender)) return;
        var run = BeginRun(byPolicy);
        var a = new StartAttempt(sender);
        try
        {
            PrepareRun(a);
            var exec = await SpawnUntilSetUp(a, run);
            // Not released: the init exits by itself with exec.ExitCode.
            if (!exec.Ok) { FailStart(sender, exec, run.Id, hasProcess: true, killFirst: false); return; }
            RecordRunning(a, run);
        }
        catch (StepFailedException ex)
        {
            await SettleInFlight(a);
            FailStart(sender, new ExecResult(false, 125, ex.Step, ex.Message), run.Id, hasProcess: a.Pid > 0, killFirst: a.Pid > 0);
        }
        catch (Exception ex)
        {
            await SettleInFlight(a);
            var cause = ex is AskTimeoutException ? "timed out" : ex.Message;
            FailStart(sender, new ExecResult(false, 125, "start", cause), run.Id, hasProcess: a.Pid > 0, killFirst: a.Pid > 0);
        }
    }

    /// <summary>Answers a start that has nothing to do (NotModified) or may not run now (409).</summary>
    bool RefuseStart(IActorRef sender)
    {
        if (_record.Status.IsUp()) { sender.Tell(new NotModified()); return true; }
        if (RefuseWhileCopying(sender, "start")) return true;
        if (_record.Status.CanStart()) return false;
        sender.Tell(new Status.Failure(new ConflictException($"cannot start container {Id[..12]}: it is {_record.Status.DockerName()}")));
        return true;
    }

    /// <summary>The run dir and /etc files; the netns claim and the cgroup's creation are started
    /// here and awaited later (they overlap the init's spawn).</summary>
    void PrepareRun(StartAttempt a)
    {
        if (!_kept.RunDir) _layout.CreateRun();
        _kept.RunDir = false;
        a.EtcMounts = HostNetwork ? _layout.CreateHostEtcFiles(_record.Spec.Hostname, _record.Spec.Names, _svc.Network?.HostGatewayIp) : Networked ? _layout.CreateEtcFiles() : [];
        // A pre-attached netns from the network's pool (gocker.network.netns-pool), claimed while
        // the rest is prepared: the init joins it and the CNI ADD is off the start's path.
        // Not for a remapped container: a pooled namespace belongs to the host's user namespace, in
        // which its root has no rights (no sysfs of its own, then). Its init makes its own
        // network namespace, inside its user namespace, and the CNI ADD goes into that one.
        if (Networked && _record.Spec.Userns is null) a.Claim = ClaimAsync();
        var cgroup = CgroupChild();
        // A restart by the policy reuses the cgroup its last run left empty (ContainerActor.Restart.cs).
        // The cgroup is made while the init is spawned (it is only needed for the placement):
        // ~1 ms (8 hierarchies on hybrid) off the start's critical path.
        if (_kept.Cgroup) _kept.Cgroup = false;
        else
            a.CgroupCreate = Supervised(FaultStep.Cgroup, "cgroup-create",
                () => cgroup.Ask<CgroupActor.Created>(new CgroupActor.Create(_record.Spec.Limits), AskTimeout));
    }

    /// <summary>Spawns inits until one is released or the start has failed for good: only a failed
    /// rootfs setup that the mount policy retries spawns again (a fresh init under a new run id, its
    /// network attached again); any other failure is final. Answers the last init's report.</summary>
    async Task<ExecResult> SpawnUntilSetUp(StartAttempt a, RunState run)
    {
        for (;;)
        {
            var ns = await SpawnInit(a, run.Id);
            var exec = await PlaceAndRelease(a, ns);
            if (exec.Ok || !IsRootfsSetup(exec)) return exec;
            if (await MountFailed(exec, ++a.MountFailures) is { } final) return final;
            run.Respawn(++_runIds);
            a.Pid = 0;
        }
    }

    /// <summary>A new NamespaceActor spawns the init into fresh namespaces; the init waits on its "go"
    /// pipe. Its stdio is wired (terminal, stdin pipe, output pipes) and the cgroup's creation awaited.</summary>
    async Task<IActorRef> SpawnInit(StartAttempt a, int runId)
    {
        WriteInitSpec(a.EtcMounts, injectMountFault: _svc.Faults.TryConsume(Id, FaultKind.Mount));
        var ns = _ns = Context.ActorOf(NamespaceActor.Props(_svc.Spawner, runId, _svc.Faults, Id)
            .WithDispatcher(_svc.Options.ContainerDispatcher), $"run-{runId}");
        var logWriter = OpenLog();
        // First pass only: a retry after a failed rootfs setup attaches normally (its slot was DELed).
        a.Netns = null;
        if (a.Claim is { } claiming)
        {
            a.Claim = null;
            a.Netns = await claiming;
        }
        var request = new SpawnRequest(_svc.InitPath, _layout.InitSpecPath, _layout.StdoutLog, _layout.StderrLog)
        {
            HostNetwork = HostNetwork, NetnsPath = a.Netns, Userns = UsernsSpawnOf(_record.Spec),
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
        a.Pid = (await Supervised(FaultStep.Spawn, "spawn",
            () => ns.Ask<NamespaceActor.Spawned>(new NamespaceActor.Spawn(request), AskTimeout))).Pid;
        if (_stdio?.Spawned(logWriter) is { } stdioWarning) _log.Warning("container {0}: {1}", Id[..12], stdioWarning);
        var log = _log;
        var shortId = Id[..12];
        _output?.Spawned(OutputKeeper, Id, w => log.Warning("container {0}: {1}", shortId, w));
        // Our unreaped child: its pid cannot be reused before this read.
        a.PidStartTime = _svc.Adopter.StartTime(a.Pid);
        if (a.CgroupCreate is { } creating)
        {
            a.CgroupCreate = null;
            await creating; // a failure fails the start: HandleStart's catch kills the init
        }
        return ns;
    }

    /// <summary>The init, waiting on its "go" pipe, is placed in its cgroup and its network namespace
    /// gets its interfaces (and its /etc files their content) before the user's command runs; then it
    /// is released. Answers its report (Ok: the command is running).</summary>
    async Task<ExecResult> PlaceAndRelease(StartAttempt a, IActorRef ns)
    {
        // The CNI ADD (tens of ms of plugin execs) runs meanwhile on the thread pool.
        var attach = Networked ? a.Netns is null ? AttachAsync(a.Pid) : ConnectExtraNetworksAsync() : null;
        Exception? setupError = null;
        var placed = a.Pid;
        var cgroup = _cgroup!;
        try
        {
            await Supervised(FaultStep.Cgroup, "cgroup-add-process",
                () => cgroup.Ask<CgroupActor.Done>(new CgroupActor.AddProcess(placed), AskTimeout),
                giveUpIf: () => InitExited(ns, placed));
        }
        catch (Exception ex) { setupError = ex; }
        // In its cgroups now: the init may make its cgroup namespace (InitSpec.CgroupNs) while
        // the CNI ADD runs.
        if (setupError is null && ContainerSpecFactory.PrivateCgroupns(_record.Spec)) ns.Tell(new NamespaceActor.Placed());
        // Always wait for the ADD, even when the cgroup failed: a teardown racing an ADD in flight
        // could DEL before it and leave its veth behind. An ADD failure is already undone.
        if (attach is not null)
        {
            try { await attach; }
            catch (Exception ex) { setupError = ex; }
        }
        return setupError is null
            ? await ns.Ask<ExecResult>(new NamespaceActor.Release(), ReleaseTimeout)
            : await InitReportOrThrow(ns, placed, setupError);
    }

    /// <summary>The released init runs the command: the "running" record, the `start` event, the OOM
    /// watch, and the answer (once the record is on disk).</summary>
    void RecordRunning(StartAttempt a, RunState run)
    {
        // Written behind: the fsync overlaps the command's run (a short one's exit is handled
        // meanwhile), and the answer waits for it, so once `start` returns the record that
        // lets a restarted daemon re-adopt the container is on disk.
        var durable = SetRecordBehind(_record with
        {
            Status = ContainerStatus.Running, Pid = a.Pid, PidStartTime = a.PidStartTime, StartedAt = _svc.Clock.GetUtcNow(),
            ExitCode = 0, OomKilled = false, Error = "", Terminal = _stdio?.Kept,
            Output = _output?.HandedOff is { IsCompletedSuccessfully: true } handed ? handed.Result : null,
        });
        // The keeper's answer came after: recorded by a later write (OutputKept).
        if (_output?.HandedOff is { IsCompleted: false } handing)
        {
            var self = Self;
            var runId = run.Id;
            _ = handing.ContinueWith(t => { if (t.Result is { } k) self.Tell(new OutputKept(runId, k)); },
                TaskContinuationOptions.OnlyOnRanToCompletion | TaskContinuationOptions.ExecuteSynchronously);
        }
        Emit("start");
        // Every OOM kill in the container's cgroup (a child's too) gets its `oom` event as it
        // happens, as Docker's do; the teardown reports any the watch has not.
        _cgroup!.Tell(new CgroupActor.WatchOom(run.Id, 0));
        var started = new Started(a.Pid);
        var sender = a.Requester;
        if (durable.IsCompleted) sender.Tell(started);
        else _ = durable.ContinueWith(_ => sender.Tell(started), TaskScheduler.Default);
    }

    /// <summary>A start that failed before it awaited its cgroup's creation or its netns claim waits
    /// for them here: the teardown must not remove the cgroup before a create (or its retry) lands,
    /// and its detach must come after the claim, or the claimed endpoint would be left.</summary>
    static async Task SettleInFlight(StartAttempt a)
    {
        await SettleCgroupCreate(a.CgroupCreate);
        await SettleClaim(a.Claim);
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
        _run.StartFailure = failure;
        _pendingStartReply = (requester, new StartFailedException(failure.ToString(), failure.ExitCode));
        Self.Tell(new FinishFailedStart(runId, hasProcess, killFirst, failure.ExitCode));
    }

    async Task HandleFinishFailedStart(FinishFailedStart m)
    {
        if (!IsLiveRun(m.RunId)) { ReplyPendingStart(); return; }
        var status = ExitStatus.Exited(m.ExitCode);
        if (_ns is not null && m.HasProcess)
        {
            // Never leave a half-started init behind: kill it (if it will not exit by itself) and
            // wait until it is reaped.
            if (m.KillFirst) _ns.Tell(new NamespaceActor.Signal(9));
            try { status = await _ns.Ask<ExitStatus>(new NamespaceActor.AwaitExit(), AskTimeout); }
            catch (Exception ex) { _log.Error("container {0}: init did not exit: {1}", Id[..12], ex.Message); }
        }
        if (_run.TornDown) { ReplyPendingStart(); return; }
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
            CgroupNs = ContainerSpecFactory.PrivateCgroupns(s),
            CgroupMounts = Gocker.Syscalls.Cgroups.CgroupNsMounts.For(_svc.Cgroups) is { Length: > 0 } cg ? cg : null,
        };
        using var fs = new FileStream(_layout.InitSpecPath, new FileStreamOptions
        {
            Mode = FileMode.Create, Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        });
        fs.Write(InitSpecJson.Serialize(spec));
    }
}
