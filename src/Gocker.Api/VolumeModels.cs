using System.Text.Json.Serialization;

namespace Gocker.Api;

// Volumes and HostConfig.Mounts, in the Docker Engine API's shapes (v1.43). Every class collects the
// properties Gocker does not know (JsonExtensionData): they are refused by name unless empty.

/// <summary>One entry of HostConfig.Mounts (`--mount`): Type bind, volume or tmpfs.</summary>
public sealed class MountRequest
{
    public string? Type { get; set; }
    /// <summary>bind: an absolute host path; volume: a volume name ("" = a new anonymous one); tmpfs: empty.</summary>
    public string? Source { get; set; }
    public string? Target { get; set; }
    public bool ReadOnly { get; set; }
    /// <summary>Docker Desktop's; ignored on Linux by Docker too ("", default, consistent, cached, delegated).</summary>
    public string? Consistency { get; set; }
    public MountBindOptions? BindOptions { get; set; }
    public MountVolumeOptions? VolumeOptions { get; set; }
    public MountTmpfsOptions? TmpfsOptions { get; set; }
    [JsonExtensionData, JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Dictionary<string, System.Text.Json.JsonElement>? Unsupported { get; set; }
}

public sealed class MountBindOptions
{
    /// <summary>"" or "rprivate" (what Gocker's binds are); the shared and slave modes are refused.</summary>
    public string? Propagation { get; set; }
    public bool NonRecursive { get; set; }
    /// <summary>Create a missing host path (a directory), as Docker 1.42+.</summary>
    public bool CreateMountpoint { get; set; }
    [JsonExtensionData, JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Dictionary<string, System.Text.Json.JsonElement>? Unsupported { get; set; }
}

public sealed class MountVolumeOptions
{
    /// <summary>No copy-up of the image's content into a new (empty) volume.</summary>
    public bool NoCopy { get; set; }
    /// <summary>Labels of the volume if this creates it.</summary>
    public Dictionary<string, string>? Labels { get; set; }
    public MountDriverConfig? DriverConfig { get; set; }
    [JsonExtensionData, JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Dictionary<string, System.Text.Json.JsonElement>? Unsupported { get; set; }
}

public sealed class MountDriverConfig
{
    public string? Name { get; set; }
    public Dictionary<string, string>? Options { get; set; }
    [JsonExtensionData, JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Dictionary<string, System.Text.Json.JsonElement>? Unsupported { get; set; }
}

public sealed class MountTmpfsOptions
{
    /// <summary>Bytes; 0 = tmpfs's default (half the RAM).</summary>
    public long SizeBytes { get; set; }
    /// <summary>Permission bits of the tmpfs root (decimal in the JSON, as Go's os.FileMode).</summary>
    public uint Mode { get; set; }
    [JsonExtensionData, JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Dictionary<string, System.Text.Json.JsonElement>? Unsupported { get; set; }
}

/// <summary>A volume (GET /volumes/NAME, items of GET /volumes).</summary>
public sealed class VolumeResponse
{
    public string Name { get; set; } = "";
    public string Driver { get; set; } = "local";
    public string Mountpoint { get; set; } = "";
    public string CreatedAt { get; set; } = "";
    public Dictionary<string, string> Labels { get; set; } = [];
    public string Scope { get; set; } = "local";
    public Dictionary<string, string> Options { get; set; } = [];
    /// <summary>Only in /system/df (null elsewhere, as Docker).</summary>
    public VolumeUsageData? UsageData { get; set; }
}

public sealed class VolumeUsageData
{
    /// <summary>Bytes under the volume (-1: unknown).</summary>
    public long Size { get; set; }
    /// <summary>Containers that use it.</summary>
    public long RefCount { get; set; }
}

public sealed class VolumeListResponse
{
    public List<VolumeResponse> Volumes { get; set; } = [];
    public List<string> Warnings { get; set; } = [];
}

public sealed class VolumeCreateRequest
{
    public string? Name { get; set; }
    public string? Driver { get; set; }
    public Dictionary<string, string>? DriverOpts { get; set; }
    public Dictionary<string, string>? Labels { get; set; }
    [JsonExtensionData, JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Dictionary<string, System.Text.Json.JsonElement>? Unsupported { get; set; }
}

public sealed class VolumePruneResponse
{
    public List<string> VolumesDeleted { get; set; } = [];
    public long SpaceReclaimed { get; set; }
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, Converters = [typeof(GoMapConverter)])]
[JsonSerializable(typeof(VolumeResponse))]
[JsonSerializable(typeof(VolumeListResponse))]
[JsonSerializable(typeof(VolumeCreateRequest))]
[JsonSerializable(typeof(VolumePruneResponse))]
public partial class VolumeApiJson : JsonSerializerContext;
