using System.Text.Json.Serialization;

namespace Gocker.Api;

// Image API shapes added with layered images (Docker Engine API names). A separate file and context so
// that Models.cs, which other parts code against, only ever grows by addition.

public sealed class ImageInspect
{
    public string Id { get; set; } = "";
    public List<string> RepoTags { get; set; } = [];
    public List<string> RepoDigests { get; set; } = [];
    public string Parent { get; set; } = "";
    public string Comment { get; set; } = "";
    public string Created { get; set; } = "";
    public string Author { get; set; } = "";
    public ImageInspectConfig Config { get; set; } = new();
    public string Architecture { get; set; } = "amd64";
    public string Os { get; set; } = "linux";
    public long Size { get; set; }
    public ImageInspectRootFs RootFS { get; set; } = new();
    /// <summary>Gocker extension: the overlay lower dirs, topmost first.</summary>
    public List<string> GockerLayerDirs { get; set; } = [];
}

public sealed class ImageInspectConfig
{
    public string User { get; set; } = "";
    public Dictionary<string, EmptyObject>? ExposedPorts { get; set; }
    public Dictionary<string, EmptyObject>? Volumes { get; set; }
    public List<string> Env { get; set; } = [];
    public List<string> Cmd { get; set; } = [];
    public List<string>? Entrypoint { get; set; }
    public string WorkingDir { get; set; } = "";
}

public sealed class EmptyObject;

public sealed class ImageInspectRootFs
{
    public string Type { get; set; } = "layers";
    public List<string> Layers { get; set; } = [];
}

/// <summary>One item of the DELETE /images answer: {"Untagged": name} or {"Deleted": id}.</summary>
public sealed class ImageDeleteItem
{
    public string? Untagged { get; set; }
    public string? Deleted { get; set; }
}

public sealed class ImagePruneResponse
{
    public List<ImageDeleteItem> ImagesDeleted { get; set; } = [];
    public long SpaceReclaimed { get; set; }
}

public sealed class IdResponse
{
    public string Id { get; set; } = "";
}

/// <summary>A line of a JSON message stream (POST /images/load answers one per image).</summary>
public sealed class JsonMessage
{
    [JsonPropertyName("stream")] public string? Stream { get; set; }
    [JsonPropertyName("error")] public string? Error { get; set; }
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, Converters = [typeof(GoMapConverter)])]
[JsonSerializable(typeof(ImageInspect))]
[JsonSerializable(typeof(List<ImageInspect>))]
[JsonSerializable(typeof(List<ImageDeleteItem>))]
[JsonSerializable(typeof(ImagePruneResponse))]
[JsonSerializable(typeof(IdResponse))]
[JsonSerializable(typeof(JsonMessage))]
public partial class GockerImageJson : JsonSerializerContext;
