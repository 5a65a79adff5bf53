using System.Text.Json;
using System.Text.Json.Serialization;

namespace Gocker.Images;

// The JSON documents of `docker save` archives and OCI image layouts (only the fields Gocker reads or writes).

/// <summary>One element of a docker-save manifest.json.</summary>
internal sealed class DockerManifestEntry
{
    public string Config { get; set; } = "";
    public List<string>? RepoTags { get; set; }
    public List<string> Layers { get; set; } = [];
}

/// <summary>The image config (OCI image-spec config.json / docker's &lt;id&gt;.json).</summary>
internal sealed class ImageConfigFile
{
    [JsonPropertyName("architecture")] public string? Architecture { get; set; }
    [JsonPropertyName("os")] public string? Os { get; set; }
    [JsonPropertyName("created")] public DateTimeOffset? Created { get; set; }
    [JsonPropertyName("author")] public string? Author { get; set; }
    [JsonPropertyName("comment")] public string? Comment { get; set; }
    [JsonPropertyName("config")] public ContainerDefaults? Config { get; set; }
    [JsonPropertyName("rootfs")] public RootfsSection? Rootfs { get; set; }
    [JsonPropertyName("history")] public List<HistoryEntry>? History { get; set; }
}

internal sealed class ContainerDefaults
{
    public string? User { get; set; }
    public Dictionary<string, JsonElement>? ExposedPorts { get; set; }
    public Dictionary<string, JsonElement>? Volumes { get; set; }
    public List<string>? Env { get; set; }
    public List<string>? Entrypoint { get; set; }
    public List<string>? Cmd { get; set; }
    public string? WorkingDir { get; set; }
    public string? StopSignal { get; set; }
    public Dictionary<string, string>? Labels { get; set; }
    // Kept from a build (and a loaded config): docker's HEALTHCHECK, SHELL and ONBUILD.
    public Build.HealthConfig? Healthcheck { get; set; }
    public List<string>? Shell { get; set; }
    public List<string>? OnBuild { get; set; }
}

internal sealed class RootfsSection
{
    [JsonPropertyName("type")] public string Type { get; set; } = "layers";
    [JsonPropertyName("diff_ids")] public List<string> DiffIds { get; set; } = [];
}

internal sealed class HistoryEntry
{
    [JsonPropertyName("created")] public DateTimeOffset? Created { get; set; }
    [JsonPropertyName("created_by")] public string? CreatedBy { get; set; }
    [JsonPropertyName("comment")] public string? Comment { get; set; }
    [JsonPropertyName("empty_layer")] public bool? EmptyLayer { get; set; }
}

internal sealed class OciDescriptor
{
    [JsonPropertyName("mediaType")] public string? MediaType { get; set; }
    [JsonPropertyName("digest")] public string Digest { get; set; } = "";
    [JsonPropertyName("size")] public long Size { get; set; }
    [JsonPropertyName("annotations")] public Dictionary<string, string>? Annotations { get; set; }
    [JsonPropertyName("platform")] public OciPlatform? Platform { get; set; }
}

internal sealed class OciPlatform
{
    [JsonPropertyName("architecture")] public string? Architecture { get; set; }
    [JsonPropertyName("os")] public string? Os { get; set; }
}

/// <summary>index.json and image indexes (manifest lists).</summary>
internal sealed class OciIndex
{
    [JsonPropertyName("schemaVersion")] public int SchemaVersion { get; set; }
    [JsonPropertyName("mediaType")] public string? MediaType { get; set; }
    [JsonPropertyName("manifests")] public List<OciDescriptor> Manifests { get; set; } = [];
}

internal sealed class OciManifest
{
    [JsonPropertyName("schemaVersion")] public int SchemaVersion { get; set; }
    [JsonPropertyName("mediaType")] public string? MediaType { get; set; }
    [JsonPropertyName("config")] public OciDescriptor Config { get; set; } = new();
    [JsonPropertyName("layers")] public List<OciDescriptor> Layers { get; set; } = [];
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(List<DockerManifestEntry>))]
[JsonSerializable(typeof(ImageConfigFile))]
[JsonSerializable(typeof(OciIndex))]
[JsonSerializable(typeof(OciManifest))]
[JsonSerializable(typeof(Dictionary<string, Dictionary<string, string>>))]
internal partial class ArchiveJsonContext : JsonSerializerContext;
