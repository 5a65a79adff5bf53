using System.Text.Json.Serialization;
using Gocker.Api;

namespace Gocker.Cli;

/// <summary>The requests the console writes, serialization only: the shared context (metadata mode)
/// builds every property's metadata, converters and polymorphism data (reflection in NativeAOT) on
/// first use, ~0.3 ms of each `run`'s start (perf); the generated writer needs none of it.</summary>
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, GenerationMode = JsonSourceGenerationMode.Serialization)]
[JsonSerializable(typeof(ContainerCreateRequest))]
internal partial class CliRequestJson : JsonSerializerContext;
