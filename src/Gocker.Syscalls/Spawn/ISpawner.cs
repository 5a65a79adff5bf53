namespace Gocker.Syscalls.Spawn;

/// <summary>
/// Starts gocker-init in fresh UTS, IPC, PID, mount and network namespaces (or in the host's
/// network namespace, or one given by path: SpawnRequest.HostNetwork / NetnsPath).
/// Protocol with the init (see docs/DESIGN-NOTES.md, "Starting a container"):
///   fd 0/1/2  stdin (/dev/null unless given), stdout file, stderr file (O_APPEND)
///   fd 3      exec-status pipe, write end, CLOEXEC in the init: EOF with no data = execve succeeded;
///             otherwise one line "CODE STEP: MESSAGE" (CODE 125 setup failure, 126 cannot run, 127 not found)
///   fd 4      "go" pipe, read end: the init builds the rootfs, then blocks reading one byte; EOF
///             without a byte means the daemon gave up, and the init exits without exec'ing.
///   argv      gocker-init SPEC_PATH
/// Every other descriptor is closed in the child.
/// </summary>
public interface ISpawner
{
    IInitProcess Spawn(SpawnRequest request);
}

public sealed record SpawnRequest(
    string InitPath,
    string SpecPath,
    string StdoutPath,
    string StderrPath,
    string? StdinPath = null)
{
    /// <summary>Optional descriptors (owned by the caller, who closes them after Spawn returns) that become
    /// fd 0, 1 and 2 of the init instead of StdinPath/StdoutPath/StderrPath: the read end of a stdin pipe
    /// (`run -i`), or a pty slave for all three (`run -t`). -1 = use the path.</summary>
    public int StdinFd { get; init; } = -1;
    public int StdoutFd { get; init; } = -1;
    public int StderrFd { get; init; } = -1;
    /// <summary>--network host: the init stays in the host's network namespace (every other
    /// namespace is still new).</summary>
    public bool HostNetwork { get; init; }
    /// <summary>A network namespace made beforehand (a bind-mounted nsfs file, e.g. a pooled one that
    /// already has its interfaces): the init joins it (setns on the spawn thread) instead of getting a
    /// new, empty one. Null = a new network namespace (unless HostNetwork).</summary>
    public string? NetnsPath { get; init; }
    /// <summary>userns-remap: the init gets its own user namespace and its rootfs from the daemon (see UsernsSpawn).</summary>
    public UsernsSpawn? Userns { get; init; }
}

/// <summary>The spawned, not yet released init. Owned by the NamespaceActor.</summary>
public interface IInitProcess : IDisposable
{
    int Pid { get; }
    /// <summary>Lets the init exec the user's command and waits for the outcome (exec-status pipe).</summary>
    ExecResult Release();
    /// <summary>Tells an init that asked for a cgroup namespace (InitSpec.CgroupNs) that it is in the
    /// container's cgroups now (one byte, 2, on the go channel), so it may make the namespace. Only
    /// for such an init, once, before Release. Nothing happens for a process that has no go channel.</summary>
    void Placed() { }
    /// <summary>Completes when the process has exited and was reaped (pidfd).</summary>
    Task<ExitStatus> WaitForExitAsync(CancellationToken ct = default);
    /// <summary>Sends a signal via its pidfd (never a bare pid: no PID-reuse race).</summary>
    void Signal(int signal);
}

/// <summary>Outcome of releasing the init: Ok, or the step that failed, its message and the exit code to report.</summary>
public sealed record ExecResult(bool Ok, int ExitCode = 0, string? Step = null, string? Message = null)
{
    public static readonly ExecResult Success = new(true);
    public override string ToString() => Ok ? "ok" : $"{Step}: {Message}";
}

/// <summary>How a process ended. ExitCode follows the shell convention: 128+N when killed by signal N.</summary>
public sealed record ExitStatus(int ExitCode, int? Signal)
{
    public static ExitStatus Exited(int code) => new(code, null);
    public static ExitStatus Killed(int signal) => new(128 + signal, signal);
}
