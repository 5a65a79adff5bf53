using System.Text.Json.Serialization;

namespace Gocker.Api;

/// <summary>Docker's NetworkingConfig of a create request: per network, the endpoint's settings.
/// Only the network of HostConfig.NetworkMode can be configured at create (as Docker's API before
/// 1.44); a second network is joined with POST /networks/{id}/connect.</summary>
public sealed class NetworkingConfig
{
    public Dictionary<string, EndpointConfig?>? EndpointsConfig { get; set; }
    /// <summary>Every property Gocker does not know: refused unless its value is empty.</summary>
    [JsonExtensionData, JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Dictionary<string, System.Text.Json.JsonElement>? Unsupported { get; set; }
}

/// <summary>Docker's EndpointSettings as a request gives it (create, network connect): Aliases only;
/// anything else (IPAMConfig, Links, MacAddress, DriverOpts...) is refused unless empty.</summary>
public sealed class EndpointConfig
{
    /// <summary>Network-scoped names other containers on the network resolve to this one.</summary>
    public List<string>? Aliases { get; set; }
    [JsonExtensionData, JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Dictionary<string, System.Text.Json.JsonElement>? Unsupported { get; set; }
}
