using System.Text.Json.Serialization;

namespace Gocker.Api;

/// <summary>One line of Docker's JSON progress stream (pull, push): the docker CLI draws a bar per id
/// from progressDetail; an error ends the stream.</summary>
public sealed class ProgressMessage
{
    [JsonPropertyName("status")] public string? Status { get; set; }
    [JsonPropertyName("progressDetail")] public ProgressDetail? ProgressDetail { get; set; }
    [JsonPropertyName("progress")] public string? Progress { get; set; }
    [JsonPropertyName("id")] public string? Id { get; set; }
    [JsonPropertyName("aux")] public PushAux? Aux { get; set; }
    [JsonPropertyName("errorDetail")] public ErrorDetail? ErrorDetail { get; set; }
    [JsonPropertyName("error")] public string? Error { get; set; }
}

public sealed class ProgressDetail
{
    [JsonPropertyName("current")] public long? Current { get; set; }
    [JsonPropertyName("total")] public long? Total { get; set; }
}

public sealed class ErrorDetail
{
    [JsonPropertyName("message")] public string Message { get; set; } = "";
}

public sealed class PushAux
{
    public string Tag { get; set; } = "";
    public string Digest { get; set; } = "";
    public long Size { get; set; }
}

/// <summary>POST /auth's body and the decoded X-Registry-Auth header (Docker's AuthConfig).</summary>
public sealed class AuthConfig
{
    [JsonPropertyName("username")] public string? Username { get; set; }
    [JsonPropertyName("password")] public string? Password { get; set; }
    [JsonPropertyName("auth")] public string? Auth { get; set; }
    [JsonPropertyName("email")] public string? Email { get; set; }
    [JsonPropertyName("serveraddress")] public string? ServerAddress { get; set; }
    [JsonPropertyName("identitytoken")] public string? IdentityToken { get; set; }
    [JsonPropertyName("registrytoken")] public string? RegistryToken { get; set; }
}

public sealed class AuthResponse
{
    public string Status { get; set; } = "";
    public string IdentityToken { get; set; } = "";
}

/// <summary>GET /distribution/{name}/json.</summary>
public sealed class DistributionInspect
{
    public DistributionDescriptor Descriptor { get; set; } = new();
    public List<DistributionPlatform> Platforms { get; set; } = [];
}

public sealed class DistributionDescriptor
{
    public string MediaType { get; set; } = "";
    public string Digest { get; set; } = "";
    public long Size { get; set; }
}

public sealed class DistributionPlatform
{
    [JsonPropertyName("architecture")] public string Architecture { get; set; } = "";
    [JsonPropertyName("os")] public string Os { get; set; } = "";
    [JsonPropertyName("variant")] [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] public string? Variant { get; set; }
}

/// <summary>~/.gocker/config.json and ~/.docker/config.json: { "auths": { "REGISTRY": { "auth": base64(user:pass) } } },
/// other keys kept as they are.</summary>
public sealed class ClientConfigAuth
{
    [JsonPropertyName("auth")] public string? Auth { get; set; }
    [JsonPropertyName("identitytoken")] public string? IdentityToken { get; set; }
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ProgressMessage))]
[JsonSerializable(typeof(AuthConfig))]
[JsonSerializable(typeof(AuthResponse))]
[JsonSerializable(typeof(DistributionInspect))]
[JsonSerializable(typeof(Dictionary<string, ClientConfigAuth>))]
public partial class GockerRegistryJson : JsonSerializerContext;
