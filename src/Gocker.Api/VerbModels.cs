using System.Text.Json.Serialization;

namespace Gocker.Api;

// Process options and the housekeeping verbs (rename, update, prune, changes, history): Docker Engine
// API v1.43 shapes.

public sealed partial class ContainerCreateRequest
{
    /// <summary>The signal `stop` sends first ("SIGTERM", "TERM", "15"); null/"" = the image's, else SIGTERM.</summary>
    public string? StopSignal { get; set; }
    /// <summary>Seconds `stop` waits before SIGKILL when the caller gives no `t`; null = the daemon's default; -1 = forever.</summary>
    public int? StopTimeout { get; set; }
}

public sealed partial class HostConfig
{
    /// <summary>--init: an init as PID 1 that forwards signals to the command and reaps zombies.</summary>
    public bool? Init { get; set; }
}

public sealed partial class ContainerConfig
{
    public string? StopSignal { get; set; }
    public int? StopTimeout { get; set; }
}

/// <summary>POST /containers/{id}/update: the resources of Docker's UpdateConfig, and RestartPolicy. A
/// field left at its zero value changes nothing; one Gocker cannot apply is refused by name.</summary>
public sealed class ContainerUpdateRequest
{
    public long Memory { get; set; }
    public long MemorySwap { get; set; }
    public long MemoryReservation { get; set; }
    public long CpuShares { get; set; }
    public long NanoCpus { get; set; }
    public long CpuQuota { get; set; }
    public long CpuPeriod { get; set; }
    public string? CpusetCpus { get; set; }
    public string? CpusetMems { get; set; }
    public long? PidsLimit { get; set; }
    public ushort BlkioWeight { get; set; }
    public RestartPolicy? RestartPolicy { get; set; }
    /// <summary>Gocker extension: the restart backoff (unset fields keep their values).</summary>
    public RestartBackoff? GockerRestartBackoff { get; set; }
    [JsonExtensionData, JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Dictionary<string, System.Text.Json.JsonElement>? Unsupported { get; set; }
}

public sealed class ContainerUpdateResponse
{
    public List<string> Warnings { get; set; } = [];
}

/// <summary>One entry of GET /containers/{id}/changes: Kind 0 modified, 1 added, 2 deleted.</summary>
public sealed class ContainerChange
{
    public string Path { get; set; } = "";
    public int Kind { get; set; }
}

/// <summary>One entry of GET /images/{name}/history, newest first.</summary>
public sealed class ImageHistoryItem
{
    public string Id { get; set; } = "<missing>";
    public long Created { get; set; }
    public string CreatedBy { get; set; } = "";
    public List<string>? Tags { get; set; }
    public long Size { get; set; }
    public string Comment { get; set; } = "";
}

public sealed class ContainerPruneResponse
{
    public List<string>? ContainersDeleted { get; set; }
    public long SpaceReclaimed { get; set; }
}

public sealed class NetworkPruneResponse
{
    public List<string>? NetworksDeleted { get; set; }
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ContainerUpdateRequest))]
[JsonSerializable(typeof(ContainerUpdateResponse))]
[JsonSerializable(typeof(List<ContainerChange>))]
[JsonSerializable(typeof(List<ImageHistoryItem>))]
[JsonSerializable(typeof(ContainerPruneResponse))]
[JsonSerializable(typeof(NetworkPruneResponse))]
public partial class GockerVerbJson : JsonSerializerContext;
