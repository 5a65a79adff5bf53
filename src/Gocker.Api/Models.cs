using System.Text.Json.Serialization;

namespace Gocker.Api;

// Request/response bodies of the Gocker API. Names and shapes follow the Docker Engine API
// (v1.43) so that docker-style clients can talk to gockerd for the subset it supports.

public sealed partial class ContainerCreateRequest
{
    public string? Image { get; set; }
    public List<string>? Cmd { get; set; }
    public List<string>? Entrypoint { get; set; }
    public List<string>? Env { get; set; }
    public string? WorkingDir { get; set; }
    /// <summary>USER: name, uid, uid:gid or name:group, resolved inside the container; null/"" = the image's.</summary>
    public string? User { get; set; }
    public string? Hostname { get; set; }
    /// <summary>The container's NIS domain name (its UTS namespace's) and the domain of its own /etc/hosts entry.</summary>
    public string? Domainname { get; set; }
    public bool AttachStdin { get; set; }
    public bool AttachStdout { get; set; }
    public bool AttachStderr { get; set; }
    public bool Tty { get; set; }
    public bool OpenStdin { get; set; }
    /// <summary>Close the container's stdin when the attached client's input ends (docker run -i sets it).</summary>
    public bool StdinOnce { get; set; }
    /// <summary>Docker's shape: "80/tcp" -> {}; added to the image's for -P.</summary>
    public Dictionary<string, EmptyObject>? ExposedPorts { get; set; }
    /// <summary>User metadata (Docker's Config.Labels): kept with the container, shown by inspect and ps, filtered on by `label=`.</summary>
    public Dictionary<string, string>? Labels { get; set; }
    /// <summary>Docker's Config.Volumes ("/path" -> {}): each path gets a new anonymous volume (`-v /path`).</summary>
    public Dictionary<string, EmptyObject>? Volumes { get; set; }
    public HostConfig? HostConfig { get; set; }
    /// <summary>Aliases on the container's network (EndpointsConfig.NETWORK.Aliases).</summary>
    public NetworkingConfig? NetworkingConfig { get; set; }
    /// <summary>Every property Gocker does not know: refused at create unless its value is empty (see
    /// UnsupportedFields). Never written.</summary>
    [JsonExtensionData, JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Dictionary<string, System.Text.Json.JsonElement>? Unsupported { get; set; }
}

public sealed partial class HostConfig
{
    /// <summary>"HOST:CONTAINER[:ro|rw]"; HOST must be absolute.</summary>
    public List<string>? Binds { get; set; }
    /// <summary>`--mount`: bind, volume and tmpfs mounts (VolumeModels.cs).</summary>
    public List<MountRequest>? Mounts { get; set; }
    public bool AutoRemove { get; set; }
    /// <summary>Bytes; 0 = unlimited.</summary>
    public long Memory { get; set; }
    /// <summary>CPU quota in units of 1e-9 CPUs (Docker's --cpus * 1e9).</summary>
    public long NanoCpus { get; set; }
    public long CpuShares { get; set; }
    public string? CpusetCpus { get; set; }
    /// <summary>null or &lt;= 0 = unlimited (Docker: -1).</summary>
    public long? PidsLimit { get; set; }
    /// <summary>"none", "host" (the host's network namespace), "bridge"/"default" or a user network's name or id;
    /// null or "" = the daemon's default network (gocker.network.default).</summary>
    public string? NetworkMode { get; set; }
    /// <summary>Docker's shape: "80/tcp" -> [{HostIp, HostPort}]; HostPort "" = an ephemeral port.</summary>
    public Dictionary<string, List<PortBinding>?>? PortBindings { get; set; }
    /// <summary>-P: publish every exposed port (the image's and ExposedPorts) on an ephemeral host port.</summary>
    public bool PublishAllPorts { get; set; }
    /// <summary>Docker's restart policy; null or Name "" = "no".</summary>
    public RestartPolicy? RestartPolicy { get; set; }
    /// <summary>Gocker extension: this container's restart backoff; unset fields take the daemon's
    /// defaults (gocker.restart in the HOCON).</summary>
    public RestartBackoff? GockerRestartBackoff { get; set; }
    /// <summary>Gocker extension: the supervision group this container belongs to (it must exist;
    /// RestartPolicy must then be empty or "no": the group decides restarts).</summary>
    public string? GockerGroup { get; set; }

    // ---- hardening (Docker's names and shapes) ----
    /// <summary>Capabilities added to / dropped from Docker's default 14 ("NET_ADMIN" or "CAP_NET_ADMIN", "ALL").</summary>
    public List<string>? CapAdd { get; set; }
    public List<string>? CapDrop { get; set; }
    /// <summary>All capabilities, no seccomp, every host device, /sys and /proc writable (as Docker).</summary>
    public bool Privileged { get; set; }
    /// <summary>The root filesystem is mounted read-only (volumes and --tmpfs keep their own mode).</summary>
    public bool ReadonlyRootfs { get; set; }
    /// <summary>"no-new-privileges[:true|false]", "seccomp=unconfined|PROFILE-JSON", "systempaths=unconfined",
    /// "apparmor=unconfined", "label=disable" (no MAC here: the last two ask for what is given).</summary>
    public List<string>? SecurityOpt { get; set; }
    /// <summary>Container path -> tmpfs options ("size=64m,mode=1777,noexec").</summary>
    public Dictionary<string, string>? Tmpfs { get; set; }
    public List<Ulimit>? Ulimits { get; set; }
    public List<DeviceMapping>? Devices { get; set; }
    /// <summary>Namespaced sysctls only (kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*, net.* with a network namespace).</summary>
    public Dictionary<string, string>? Sysctls { get; set; }
    /// <summary>Size of /dev/shm in bytes; 0 = Docker's 64 MiB.</summary>
    public long ShmSize { get; set; }
    /// <summary>Supplementary groups (names resolved in the container's /etc/group, or gids).</summary>
    public List<string>? GroupAdd { get; set; }
    public int OomScoreAdj { get; set; }
    /// <summary>"" or "host" (the only user namespace mode there is: the host's).</summary>
    public string? UsernsMode { get; set; }
    /// <summary>"private" (the container's own cgroup namespace; "" = private) or "host".</summary>
    public string? CgroupnsMode { get; set; }
    /// <summary>[height, width] of a -t container's terminal at its start.</summary>
    public List<int>? ConsoleSize { get; set; }
    /// <summary>The container's log (Docker's shape); inspect always shows the effective one.</summary>
    public LogConfig? LogConfig { get; set; }
    /// <summary>--add-host "NAME:IP" (IP may be "host-gateway"): lines of the generated /etc/hosts.</summary>
    public List<string>? ExtraHosts { get; set; }
    /// <summary>--dns, --dns-search, --dns-option: the generated /etc/resolv.conf's (each replaces the host's).</summary>
    public List<string>? Dns { get; set; }
    public List<string>? DnsSearch { get; set; }
    public List<string>? DnsOptions { get; set; }
    /// <summary>Every property Gocker does not know: refused at create unless its value is empty.</summary>
    [JsonExtensionData, JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Dictionary<string, System.Text.Json.JsonElement>? Unsupported { get; set; }
}

/// <summary>Docker's LogConfig: Type "json-file", "local" or "" (Gocker's own log, rotated), or
/// "none"; Config "max-size" (e.g. "10m") and "max-file" (e.g. "3"). Anything else is refused.</summary>
public sealed class LogConfig
{
    public string Type { get; set; } = "";
    public Dictionary<string, string>? Config { get; set; }
}

/// <summary>--ulimit NAME=SOFT[:HARD] (Docker's shape; -1 = unlimited).</summary>
public sealed class Ulimit
{
    public string Name { get; set; } = "";
    public long Soft { get; set; }
    public long Hard { get; set; }
}

/// <summary>--device HOST[:CONTAINER[:PERMISSIONS]] (Docker's shape; permissions a subset of "rwm").</summary>
public sealed class DeviceMapping
{
    public string PathOnHost { get; set; } = "";
    public string PathInContainer { get; set; } = "";
    public string CgroupPermissions { get; set; } = "";
}

/// <summary>Docker's RestartPolicy: Name "", "no", "on-failure", "always" or "unless-stopped";
/// MaximumRetryCount only with on-failure (0 = no limit).</summary>
public sealed class RestartPolicy
{
    public string Name { get; set; } = "";
    public int MaximumRetryCount { get; set; }
}

/// <summary>Gocker extension: delay before a policy restart = DelayMs, times Multiplier per restart,
/// at most MaxDelayMs, back to DelayMs once a run lasted ResetAfterMs; Jitter (0..1) stretches each
/// delay by up to that fraction (never past MaxDelayMs).</summary>
public sealed class RestartBackoff
{
    public long? DelayMs { get; set; }
    public long? MaxDelayMs { get; set; }
    public double? Multiplier { get; set; }
    public long? ResetAfterMs { get; set; }
    public double? Jitter { get; set; }
}

public sealed class PortBinding
{
    public string HostIp { get; set; } = "";
    public string HostPort { get; set; } = "";
}

/// <summary>Inspect's network part (Docker's NetworkSettings).</summary>
public sealed class NetworkSettings
{
    public string IPAddress { get; set; } = "";
    public int IPPrefixLen { get; set; }
    public string Gateway { get; set; } = "";
    public string MacAddress { get; set; } = "";
    public Dictionary<string, List<PortBinding>?> Ports { get; set; } = [];
    public Dictionary<string, EndpointSettings> Networks { get; set; } = [];
    /// <summary>Gocker extension: the generated /etc/hosts (empty when the container has no network).</summary>
    public string HostsPath { get; set; } = "";
}

public sealed class EndpointSettings
{
    public string NetworkID { get; set; } = "";
    public string IPAddress { get; set; } = "";
    public int IPPrefixLen { get; set; }
    public string Gateway { get; set; } = "";
    public string MacAddress { get; set; } = "";
    /// <summary>Network-scoped aliases (user networks only): the given ones and the container's short id, as Docker's.</summary>
    public List<string>? Aliases { get; set; }
    /// <summary>Docker 25+: the names the endpoint answers to on a user network (name, aliases, short
    /// id, hostname; deduplicated), set while the container is attached; null otherwise.</summary>
    public List<string>? DNSNames { get; set; }
}

public sealed class ContainerCreateResponse
{
    public string Id { get; set; } = "";
    public List<string> Warnings { get; set; } = [];
    /// <summary>Gocker extension (create with gockerStart=1): the container was started too.</summary>
    public bool? GockerStarted { get; set; }
}

/// <summary>Every error answer: {"message": "..."} as Docker does. Gocker adds ExitCode where
/// a start failed because the command could not be run (126) or found (127).</summary>
public sealed class ErrorResponse
{
    [JsonPropertyName("message")] public string Message { get; set; } = "";
    public int? ExitCode { get; set; }
}

public sealed class WaitResponse
{
    public int StatusCode { get; set; }
    public WaitError? Error { get; set; }
    /// <summary>Gocker extension: the container was killed by the OOM killer.</summary>
    public bool OOMKilled { get; set; }
    /// <summary>Gocker extension (create with gockerRun): the start failed; StatusCode is the exit
    /// code to use (125/126/127) and Error the daemon's message.</summary>
    public bool? GockerStartFailed { get; set; }
}

public sealed class WaitError
{
    public string? Message { get; set; }
}

public sealed class ContainerSummary
{
    public string Id { get; set; } = "";
    public List<string> Names { get; set; } = [];
    public string Image { get; set; } = "";
    public string Command { get; set; } = "";
    public long Created { get; set; }
    public string State { get; set; } = "";
    public string Status { get; set; } = "";
    /// <summary>Published ports (Docker's Port objects).</summary>
    public List<ContainerPort>? Ports { get; set; }
    public Dictionary<string, string>? Labels { get; set; }
    /// <summary>Bytes written in the container's own layer (only where asked: /system/df).</summary>
    public long? SizeRw { get; set; }
    public long? SizeRootFs { get; set; }
}

public sealed class ContainerPort
{
    public string? IP { get; set; }
    public int PrivatePort { get; set; }
    public int? PublicPort { get; set; }
    public string Type { get; set; } = "tcp";
}

public sealed class ContainerState
{
    public string Status { get; set; } = "";
    public bool Running { get; set; }
    public bool Paused { get; set; }
    public bool Restarting { get; set; }
    public bool OOMKilled { get; set; }
    public bool Dead { get; set; }
    public int Pid { get; set; }
    public int ExitCode { get; set; }
    public string Error { get; set; } = "";
    public string StartedAt { get; set; } = "0001-01-01T00:00:00Z";
    public string FinishedAt { get; set; } = "0001-01-01T00:00:00Z";
    /// <summary>Gocker extension: when the restart policy will start it again (while Restarting).</summary>
    public string? GockerNextRestartAt { get; set; }
    /// <summary>Gocker extension: the run was ended by hand (stop, kill): the policy leaves it down.</summary>
    public bool GockerManuallyStopped { get; set; }
}

public sealed partial class ContainerConfig
{
    public string Hostname { get; set; } = "";
    public string Domainname { get; set; } = "";
    public List<string> Env { get; set; } = [];
    public List<string> Cmd { get; set; } = [];
    public string Image { get; set; } = "";
    public string WorkingDir { get; set; } = "";
    public string User { get; set; } = "";
    public bool Tty { get; set; }
    public bool OpenStdin { get; set; }
    public bool StdinOnce { get; set; }
    public Dictionary<string, string> Labels { get; set; } = [];
}

public sealed class MountPoint
{
    public string Type { get; set; } = "bind";
    /// <summary>The volume's name (volumes only).</summary>
    public string? Name { get; set; }
    public string Source { get; set; } = "";
    public string Destination { get; set; } = "";
    /// <summary>"local" (volumes only).</summary>
    public string? Driver { get; set; }
    public string Mode { get; set; } = "";
    public bool RW { get; set; }
    public string Propagation { get; set; } = "";
}

public sealed class ContainerInspect
{
    public string Id { get; set; } = "";
    public string Name { get; set; } = "";
    public string Created { get; set; } = "";
    public string Path { get; set; } = "";
    public List<string> Args { get; set; } = [];
    public ContainerState State { get; set; } = new();
    public string Image { get; set; } = "";
    public int RestartCount { get; set; }
    /// <summary>The storage driver, as /info's Driver: the kernel's overlayfs with the image's layers
    /// as lower dirs and the container's upper dir ("overlay2" in Docker, which stacks layers the same way).</summary>
    public string Driver { get; set; } = "overlay";
    public ContainerConfig Config { get; set; } = new();
    public HostConfig HostConfig { get; set; } = new();
    public List<MountPoint> Mounts { get; set; } = [];
    /// <summary>Gocker extension: the container's cgroup, relative to each hierarchy's root.</summary>
    public string CgroupPath { get; set; } = "";
    public NetworkSettings NetworkSettings { get; set; } = new();
}

public sealed class ImageSummary
{
    public string Id { get; set; } = "";
    public List<string> RepoTags { get; set; } = [];
    public List<string> RepoDigests { get; set; } = [];
    public long Created { get; set; }
    public long Size { get; set; }
}

public sealed class ImageImportResponse
{
    public string Id { get; set; } = "";
    public string Name { get; set; } = "";
}

public sealed class VersionResponse
{
    public string Version { get; set; } = "";
    public const string Api = "1.43";
    public string ApiVersion { get; set; } = Api;
    public string Os { get; set; } = "linux";
    public string Arch { get; set; } = "amd64";
    public string KernelVersion { get; set; } = "";
    /// <summary>Gocker extension: "v1", "v2" or "hybrid".</summary>
    public string CgroupMode { get; set; } = "";
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, Converters = [typeof(GoMapConverter)])]
[JsonSerializable(typeof(ContainerCreateRequest))]
[JsonSerializable(typeof(ContainerCreateResponse))]
[JsonSerializable(typeof(ErrorResponse))]
[JsonSerializable(typeof(WaitResponse))]
[JsonSerializable(typeof(List<ContainerSummary>))]
[JsonSerializable(typeof(ContainerInspect))]
[JsonSerializable(typeof(List<ImageSummary>))]
[JsonSerializable(typeof(ImageImportResponse))]
[JsonSerializable(typeof(VersionResponse))]
[JsonSerializable(typeof(ExecCreateRequest))]
[JsonSerializable(typeof(ExecCreateResponse))]
[JsonSerializable(typeof(ExecStartRequest))]
[JsonSerializable(typeof(ExecInspect))]
public partial class GockerJson : JsonSerializerContext;
