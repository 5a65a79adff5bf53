using System.Text.Json.Serialization;
using Gocker.Syscalls.Cgroups;
using Gocker.Syscalls.Spawn;

namespace Gocker.Actors.Containers;

/// <summary>A validated container configuration: what `create` accepted. Immutable; persisted.</summary>
public sealed record ContainerSpec
{
    public required string Id { get; init; }
    public required string Name { get; init; }
    public required string Image { get; init; }
    public required string ImageId { get; init; }
    public required string[] ImageLayers { get; init; }
    public required string[] Args { get; init; }
    public required string[] Env { get; init; }
    public string WorkingDir { get; init; } = "/";
    /// <summary>USER (-u, else the image's User; "" = root): resolved by the init inside the container.</summary>
    public string User { get; init; } = "";
    public required string Hostname { get; init; }
    /// <summary>The init's binds: -v/--mount binds and the volumes' _data dirs (from Mounts).</summary>
    public VolumeMount[] Volumes { get; init; } = [];
    /// <summary>Every mount as asked for (bind, volume, tmpfs), for inspect and the volumes' use.
    /// Empty in records written before volumes existed: their Volumes are all binds.</summary>
    public ContainerMount[] Mounts { get; init; } = [];
    public CgroupLimits Limits { get; init; } = CgroupLimits.None;
    public bool AutoRemove { get; init; }
    /// <summary>"none" or a network name/id ("bridge" = the default network). Records written
    /// before networking existed have null: they ran with loopback only, and keep doing so.</summary>
    public string? NetworkMode { get; init; }
    /// <summary>Published ports, host ports already chosen (stable across restarts, as Docker does).</summary>
    public Gocker.Network.PortMapping[] Ports { get; init; } = [];
    /// <summary>Networks joined besides NetworkMode (`network connect`, also of a stopped container), in order.</summary>
    public ExtraNetwork[] ExtraNetworks { get; init; } = [];
    public DateTimeOffset Created { get; init; }
    /// <summary>-t: the container's stdio is a pseudo-terminal held by the daemon.</summary>
    public bool Tty { get; init; }
    /// <summary>-i: the container's stdin is a pipe fed by attached clients (else /dev/null).</summary>
    public bool OpenStdin { get; init; }
    /// <summary>Close that pipe when the first attached client's input ends.</summary>
    public bool StdinOnce { get; init; }
    // Kept to answer inspect the way Docker does.
    public long NanoCpus { get; init; }
    /// <summary>Restart policy and backoff (fixed at create; defaults from gocker.restart).</summary>
    public Gocker.Actors.Restart.RestartSettings Restart { get; init; } = Gocker.Actors.Restart.RestartSettings.None;
    /// <summary>LogConfig as accepted at create (type, max-size, max-file). Null in records written
    /// before it existed: the daemon's default (gocker.logs).</summary>
    public Gocker.Actors.Logs.LogSettings? Log { get; init; }
    /// <summary>Supervision group (--group): the group decides restarts; Restart is then "no".</summary>
    public string? Group { get; init; }
    /// <summary>Config.Labels (--label): user metadata, for inspect, ps and the `label=` filter.</summary>
    public Dictionary<string, string> Labels { get; init; } = [];
    /// <summary>--network-alias, --domainname, --add-host, --dns*: for the generated /etc files; null: none given.</summary>
    public Gocker.Network.NameSettings? Names { get; init; }

    // ---- hardening (ContainerSpecFactory.Security validates them; the init applies them) ----
    /// <summary>--cap-add / --cap-drop as given (normalised to CAP_X; "ALL" kept), for inspect.</summary>
    public string[] CapAdd { get; init; } = [];
    public string[] CapDrop { get; init; } = [];
    /// <summary>The capability set the container's processes get (bounding, effective, permitted;
    /// inheritable and ambient stay empty): Docker's 14 tweaked by CapAdd/CapDrop, all with Privileged.
    /// Null in records written before this existed: Docker's default.</summary>
    public ulong? Capabilities { get; init; }
    public bool Privileged { get; init; }
    public bool ReadonlyRootfs { get; init; }
    /// <summary>Seccomp: null = Docker's default profile, "unconfined" = no filter, else a profile's JSON.</summary>
    public string? Seccomp { get; init; }
    /// <summary>--security-opt no-new-privileges: no execve can gain privileges (setuid, file caps).</summary>
    public bool NoNewPrivileges { get; init; }
    /// <summary>--security-opt as given, for inspect.</summary>
    public string[] SecurityOpt { get; init; } = [];
    /// <summary>--security-opt systempaths=unconfined (or --privileged): /proc and /sys are not masked.</summary>
    public bool UnmaskedPaths { get; init; }
    public TmpfsMount[] Tmpfs { get; init; } = [];
    public Rlimit[] Ulimits { get; init; } = [];
    public DeviceNode[] Devices { get; init; } = [];
    public SysctlSetting[] Sysctls { get; init; } = [];
    /// <summary>Bytes of /dev/shm; 0 = 64 MiB.</summary>
    public long ShmSize { get; init; }
    public string[] GroupAdd { get; init; } = [];
    public int OomScoreAdj { get; init; }
    /// <summary>-t: the terminal's initial [height, width] (Docker's ConsoleSize), null = the kernel's 0x0.</summary>
    public int[]? ConsoleSize { get; init; }
    /// <summary>userns-remap: the container's ids on the host (its own user namespace); null = the host's
    /// (no remap, or --userns host). Decided at create and kept: a daemon restarted with another
    /// setting runs the container as it was made (its upper dir is owned by these ids).</summary>
    public Gocker.Syscalls.Security.IdMap? Userns { get; init; }
    /// <summary>--cgroupns / HostConfig.CgroupnsMode: "private" (a cgroup namespace of its own, rooted at
    /// its cgroup) or "host". Null (a record made before the option existed) = private.</summary>
    public string? CgroupnsMode { get; init; }

    // ---- process options (ContainerSpecFactory.Process.cs) ----
    /// <summary>--stop-signal (else the image's StopSignal) as given, for inspect; null = SIGTERM.</summary>
    public string? StopSignal { get; init; }
    /// <summary>--stop-timeout in seconds (-1: never SIGKILL); null = the daemon's default.</summary>
    public int? StopTimeout { get; init; }
    /// <summary>--init: gocker-init stays PID 1, forwards signals and reaps (InitSpec.Init).</summary>
    public bool Init { get; init; }
}

/// <summary>The persisted runtime state of a container (next to its spec).</summary>
public sealed record ContainerRecord
{
    public required ContainerSpec Spec { get; init; }
    public ContainerStatus Status { get; init; } = ContainerStatus.Created;
    public int Pid { get; init; }
    /// <summary>/proc/PID/stat start time of Pid, recorded at start: after a daemon restart the pid is
    /// trusted only if the process holding it still has this start time (never signal a reused pid).</summary>
    public ulong PidStartTime { get; init; }
    public int ExitCode { get; init; }
    public bool OomKilled { get; init; }
    public string Error { get; init; } = "";
    public DateTimeOffset? StartedAt { get; init; }
    public DateTimeOffset? FinishedAt { get; init; }
    /// <summary>Policy restarts since the last start by hand.</summary>
    public int RestartCount { get; init; }
    /// <summary>The last run was ended by hand (stop, kill with SIGKILL/SIGTERM): no policy restarts
    /// it, and after a daemon restart unless-stopped leaves it down. Cleared by a start by hand.</summary>
    public bool ManuallyStopped { get; init; }
    /// <summary>While Restarting: when the policy's timer starts it again.</summary>
    public DateTimeOffset? NextRestartAt { get; init; }
    /// <summary>The un-jittered backoff delay of the last policy restart (the next one grows from it).</summary>
    public TimeSpan? RestartDelay { get; init; }
    /// <summary>While a -t container runs: where the terminal keeper holds its pty master, so that a
    /// daemon started after this one takes the terminal back (null: none kept).</summary>
    public Gocker.Syscalls.Keeper.KeptTerminal? Terminal { get; init; }
    /// <summary>While a non-tty container runs: where the keeper holds the read ends of its stdout and
    /// stderr pipes, so that a daemon started after this one takes them back (null: none kept).</summary>
    public Gocker.Syscalls.Keeper.KeptPipes? Output { get; init; }
}

[JsonSourceGenerationOptions(WriteIndented = true, UseStringEnumConverter = true)]
[JsonSerializable(typeof(ContainerRecord))]
public partial class StateJson : JsonSerializerContext;
