using Akka.Actor;
using Gocker.Syscalls.Spawn;

namespace Gocker.Actors.Containers;

/// <summary>`exec`: a new process in the running container's namespaces and cgroup.</summary>
public sealed partial class ContainerActor
{
    /// <summary>Starts an exec. The fds are the daemon's ends for the process's stdio (the caller
    /// keeps and closes them). Answers ExecStarted, or Status.Failure (ConflictException when the
    /// container is not running or is paused: nothing was spawned).</summary>
    public sealed record ExecStart(string ExecId, string[] Args, string[] Env, string? WorkingDir, string? User, bool Tty,
        int StdinFd, int StdoutFd, int StderrFd);
    /// <summary>Result: Ok, or the init's failure (126 cannot run, 127 not found, 125 setup), after
    /// which the process exits by itself. Exit completes when the process has been reaped.</summary>
    public sealed record ExecStarted(int Pid, ExecResult Result, Task<ExitStatus> Exit);

    void ReceiveExec() => ReceiveAsync<ExecStart>(HandleExec);

    async Task HandleExec(ExecStart m)
    {
        var sender = Sender;
        if (_record.Status == ContainerStatus.Paused)
        {
            sender.Tell(new Status.Failure(new ConflictException($"Container {Id} is paused, unpause the container before exec")));
            return;
        }
        if (!_record.Status.CanExec() || _cgroup is null || _record.Pid <= 0)
        {
            sender.Tell(new Status.Failure(new ConflictException($"Container {Id} is not running")));
            return;
        }
        if (_svc.Execs is not { } spawner)
        {
            sender.Tell(new Status.Failure(new InvalidOperationException("exec is not available in this engine")));
            return;
        }
        var s = _record.Spec;
        var specPath = Path.Combine(_layout.RunDir, $"exec-{m.ExecId}.json");
        IActorRef? actor = null;
        try
        {
            WriteExecSpec(specPath, new ExecSpec
            {
                Args = m.Args,
                // exec -t: TERM=xterm unless set (Docker's exec does the same).
                Env = ContainerSpecFactory.MergeEnv(m.Tty ? ["TERM=xterm", .. s.Env] : s.Env, m.Env),
                WorkingDir = string.IsNullOrEmpty(m.WorkingDir) ? s.WorkingDir : m.WorkingDir,
                User = m.User ?? s.User,
                Tty = m.Tty,
                Capabilities = s.Capabilities,
                GroupAdd = s.GroupAdd is { Length: > 0 } g ? g : null,
                // As in Docker: an exec'd process gets the container's filter and no_new_privs.
                Seccomp = ContainerSecurity.SeccompProgram(s),
                NoNewPrivileges = s.NoNewPrivileges,
            });
            actor = Context.ActorOf(ExecActor.Props(spawner).WithDispatcher(_svc.Options.ContainerDispatcher), $"exec-{m.ExecId}");
            var request = new ExecSpawnRequest(_svc.InitPath, specPath, _record.Pid, _record.PidStartTime, m.StdinFd, m.StdoutFd, m.StderrFd);
            var spawned = await actor.Ask<ExecActor.Spawned>(new ExecActor.Spawn(request), AskTimeout);
            // Held at its go pipe until it is in the container's cgroup: v1, v2 and hybrid alike.
            try { await _cgroup.Ask<CgroupActor.Done>(new CgroupActor.AddProcess(spawned.Pid), AskTimeout); }
            catch (Exception placement)
            {
                // An init that failed its own setup (a missing -w dir, an unknown user) exits without
                // waiting for "go", so its placement fails with ESRCH: its report says the real cause.
                // Released only once it has surely exited: a live one must never run outside the cgroup.
                if (await Task.WhenAny(spawned.Exit, Task.Delay(ExitGraceFor(spawned.Pid, goneMeansExited: true))) != spawned.Exit) throw;
                var report = await actor.Ask<ExecResult>(new ExecActor.Release(), ReleaseTimeout);
                if (report.Ok) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(placement);
                sender.Tell(new ExecStarted(spawned.Pid, report, spawned.Exit));
                return;
            }
            // As Docker (runc exec applies the container's rlimits): the container's --ulimit values,
            // set by the daemon while the process waits for "go" (a remapped one could not raise them).
            if (s.Ulimits is { Length: > 0 } ulimits) ProcessLimits.Set(spawned.Pid, ulimits);
            var result = await actor.Ask<ExecResult>(new ExecActor.Release(), ReleaseTimeout);
            Emit("exec_start", ("execID", m.ExecId));
            sender.Tell(new ExecStarted(spawned.Pid, result, spawned.Exit));
        }
        catch (Exception ex)
        {
            // The ExecActor kills and reaps an unreleased process when it stops.
            if (actor is not null) Context.Stop(actor);
            var cause = ex is AskTimeoutException ? "timed out" : ex.Message;
            sender.Tell(new Status.Failure(ex is ConflictException ? ex : new InvalidOperationException($"exec in {Id[..12]}: {cause}", ex)));
        }
        finally
        {
            try { File.Delete(specPath); } catch { /* the run dir may be gone with the container */ }
        }
    }

    static void WriteExecSpec(string path, ExecSpec spec)
    {
        using var fs = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.CreateNew, Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        });
        fs.Write(ExecSpecJson.Serialize(spec));
    }
}
