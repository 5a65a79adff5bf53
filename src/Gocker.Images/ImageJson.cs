using System.Text.Json.Serialization;

namespace Gocker.Images;

/// <summary>What <c>&lt;images&gt;/&lt;hex&gt;/image.json</c> holds: an <see cref="ImageRecord"/> without
/// its name (names live in repositories.json) and without paths (they follow from the store's location).</summary>
internal sealed record ImageConfig
{
    public required string Id { get; init; }
    public string[] Env { get; init; } = [];
    public string[] Cmd { get; init; } = [];
    public string[]? Entrypoint { get; init; }
    public string WorkingDir { get; init; } = "/";
    public string User { get; init; } = "";
    public string[] ExposedPorts { get; init; } = [];
    public string[] Volumes { get; init; } = [];
    public DateTimeOffset Created { get; init; }
    public long SizeBytes { get; init; }
    /// <summary>Layer references, bottom first: "sha256:&lt;hex&gt;" is &lt;images&gt;/layers/&lt;hex&gt;/diff
    /// (hex = the layer's diff id, the SHA-256 of its uncompressed tar); "rootfs:&lt;hex&gt;" is the rootfs
    /// of the single-directory image &lt;hex&gt; (imports, busybox). Null: this image's own rootfs only.</summary>
    public string[]? Layers { get; init; }
    /// <summary>The image this one was committed from.</summary>
    public string? Parent { get; init; }
    public string? Comment { get; init; }
    public string? Author { get; init; }
    /// <summary>A build step's cache key (ImageStore.Build.cs): the parent and the instruction digest.</summary>
    public string? BuildCacheKey { get; init; }
}

/// <summary><c>&lt;images&gt;/repositories.json</c>: "name:tag" -> "sha256:hex".</summary>
internal sealed record RepositoriesFile
{
    public SortedDictionary<string, string> Repositories { get; init; } = new(StringComparer.Ordinal);
}

/// <summary><c>&lt;images&gt;/layers/&lt;hex&gt;/layer.json</c>.</summary>
internal sealed record LayerInfo
{
    public required string DiffId { get; init; }
    public long Size { get; init; }
}

[JsonSourceGenerationOptions(WriteIndented = true)]
[JsonSerializable(typeof(ImageConfig))]
[JsonSerializable(typeof(RepositoriesFile))]
[JsonSerializable(typeof(LayerInfo))]
[JsonSerializable(typeof(List<string>))]
[JsonSerializable(typeof(List<LayerSource>))]
internal partial class ImageJsonContext : JsonSerializerContext;
