using System.Text.Json.Serialization;

namespace Gocker.Images;

/// <summary>What <c>&lt;images&gt;/&lt;hex&gt;/image.json</c> holds: an <see cref="ImageRecord"/> without
/// its name (names live in repositories.json) and without paths (they follow from the store's location).</summary>
internal sealed record ImageConfig
{
    public required string Id { get; init; }
    public string[] Env { get; init; } = [];
    public string[] Cmd { get; init; } = [];
    public string WorkingDir { get; init; } = "/";
    public DateTimeOffset Created { get; init; }
    public long SizeBytes { get; init; }
}

/// <summary><c>&lt;images&gt;/repositories.json</c>: "name:tag" -> "sha256:hex".</summary>
internal sealed record RepositoriesFile
{
    public SortedDictionary<string, string> Repositories { get; init; } = new(StringComparer.Ordinal);
}

[JsonSourceGenerationOptions(WriteIndented = true)]
[JsonSerializable(typeof(ImageConfig))]
[JsonSerializable(typeof(RepositoriesFile))]
internal partial class ImageJsonContext : JsonSerializerContext;
