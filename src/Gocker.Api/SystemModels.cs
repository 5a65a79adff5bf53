using System.Text.Json.Serialization;

namespace Gocker.Api;

// GET /info and GET /system/df, in the Docker Engine API's shapes (v1.43). Every value is measured
// (counts from the engine, CPU and memory from the host); a field Gocker has no value for is left out.

public sealed class SystemInfo
{
    /// <summary>The daemon's identity, made once and kept in DataRoot/engine-id (Docker's is a UUID too).</summary>
    public string ID { get; set; } = "";
    public int Containers { get; set; }
    public int ContainersRunning { get; set; }
    public int ContainersPaused { get; set; }
    public int ContainersStopped { get; set; }
    public int Images { get; set; }
    public string Driver { get; set; } = "overlay";
    public List<List<string>> DriverStatus { get; set; } = [];
    public InfoPlugins Plugins { get; set; } = new();
    public bool MemoryLimit { get; set; }
    public bool SwapLimit { get; set; }
    public bool CpuCfsPeriod { get; set; }
    public bool CpuCfsQuota { get; set; }
    public bool CPUShares { get; set; }
    public bool CPUSet { get; set; }
    public bool PidsLimit { get; set; }
    public bool OomKillDisable { get; set; }
    public bool IPv4Forwarding { get; set; }
    public bool BridgeNfIptables { get; set; }
    public bool Debug { get; set; }
    public int NFd { get; set; }
    public string SystemTime { get; set; } = "";
    public string LoggingDriver { get; set; } = "";
    public string CgroupDriver { get; set; } = "cgroupfs";
    public string CgroupVersion { get; set; } = "";
    public string KernelVersion { get; set; } = "";
    public string OperatingSystem { get; set; } = "";
    public string OSVersion { get; set; } = "";
    public string OSType { get; set; } = "linux";
    public string Architecture { get; set; } = "";
    public int NCPU { get; set; }
    public long MemTotal { get; set; }
    public string DockerRootDir { get; set; } = "";
    public string? HttpProxy { get; set; }
    public string? HttpsProxy { get; set; }
    public string? NoProxy { get; set; }
    public string Name { get; set; } = "";
    public List<string> Labels { get; set; } = [];
    public bool ExperimentalBuild { get; set; }
    public string ServerVersion { get; set; } = "";
    public Dictionary<string, InfoRuntime> Runtimes { get; set; } = [];
    public string DefaultRuntime { get; set; } = "";
    public InfoSwarm Swarm { get; set; } = new();
    /// <summary>Containers keep running while the daemon is down or restarting (the terminal keeper holds their output).</summary>
    public bool LiveRestoreEnabled { get; set; }
    public string Isolation { get; set; } = "";
    public string InitBinary { get; set; } = "";
    public List<string> SecurityOptions { get; set; } = [];
    public List<string> Warnings { get; set; } = [];
}

public sealed class InfoPlugins
{
    public List<string> Volume { get; set; } = [];
    public List<string> Network { get; set; } = [];
    public List<string>? Authorization { get; set; }
    public List<string> Log { get; set; } = [];
}

public sealed class InfoRuntime
{
    [JsonPropertyName("path")] public string Path { get; set; } = "";
}

public sealed class InfoSwarm
{
    public string NodeID { get; set; } = "";
    public string NodeAddr { get; set; } = "";
    public string LocalNodeState { get; set; } = "inactive";
    public bool ControlAvailable { get; set; }
    public string Error { get; set; } = "";
}

public sealed class DiskUsage
{
    public long LayersSize { get; set; }
    public List<DiskUsageImage> Images { get; set; } = [];
    public List<ContainerSummary> Containers { get; set; } = [];
    /// <summary>Every volume, with UsageData (bytes under it, containers using it).</summary>
    public List<VolumeResponse> Volumes { get; set; } = [];
    /// <summary>Empty: Gocker does not build images.</summary>
    public List<EmptyObject> BuildCache { get; set; } = [];
}

public sealed class DiskUsageImage
{
    public string Id { get; set; } = "";
    public string ParentId { get; set; } = "";
    public List<string> RepoTags { get; set; } = [];
    public List<string> RepoDigests { get; set; } = [];
    public long Created { get; set; }
    public long Size { get; set; }
    /// <summary>Bytes of this image's layers that other images use too (-1: unknown).</summary>
    public long SharedSize { get; set; }
    public long VirtualSize { get; set; }
    public Dictionary<string, string> Labels { get; set; } = [];
    /// <summary>How many containers (running or not) use the image.</summary>
    public int Containers { get; set; }
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, Converters = [typeof(GoMapConverter)])]
[JsonSerializable(typeof(SystemInfo))]
[JsonSerializable(typeof(DiskUsage))]
public partial class SystemJson : JsonSerializerContext;
