using System.Text.Json.Serialization;

namespace Gocker.Network.Api;

// Network bodies of the API, shaped after the Docker Engine API (v1.43) /networks endpoints.

public sealed class NetworkResource
{
    public string Name { get; set; } = "";
    public string Id { get; set; } = "";
    public string Created { get; set; } = "";
    public string Scope { get; set; } = "local";
    public string Driver { get; set; } = "bridge";
    public bool EnableIPv6 { get; set; }
    public Ipam IPAM { get; set; } = new();
    public bool Internal { get; set; }
    public bool Attachable { get; set; }
    public bool Ingress { get; set; }
    public Dictionary<string, EndpointResource> Containers { get; set; } = [];
    public Dictionary<string, string> Options { get; set; } = [];
    public Dictionary<string, string> Labels { get; set; } = [];
    /// <summary>Gocker extension: the Linux bridge device of the network (every network's).</summary>
    public string GockerBridge { get; set; } = "";

    public static NetworkResource From(NetworkInfo info)
    {
        var n = info.Network;
        return new NetworkResource
        {
            Name = n.Name,
            Id = n.Id,
            Created = n.Created.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'"),
            IPAM = new Ipam { Config = [new IpamConfig { Subnet = n.Subnet, Gateway = n.Gateway }] },
            Containers = info.Members.ToDictionary(m => m.ContainerId, m => new EndpointResource
            {
                Name = m.Name,
                EndpointID = m.ContainerId + "-" + m.Endpoint.IfName,
                MacAddress = m.Endpoint.Mac,
                IPv4Address = m.Endpoint.Cidr,
            }),
            // As Docker: only the pre-defined network shows its bridge in Options; a user network's
            // Options are what its creator gave (none here). Compose compares them with its project's
            // driver_opts and would otherwise refuse every second `up` ("needs to be recreated").
            Options = n.IsDefault ? new() { ["com.docker.network.bridge.name"] = n.Bridge } : [],
            GockerBridge = n.Bridge,
            // Sorted by key, as Go writes a map (Docker's answers list labels that way).
            Labels = n.IsDefault ? new() { ["io.gocker.network.default"] = "true" } : n.Labels is { } labels ? labels.OrderBy(l => l.Key, StringComparer.Ordinal).ToDictionary() : [],
        };
    }
}

public sealed class Ipam
{
    public string Driver { get; set; } = "default";
    public Dictionary<string, string>? Options { get; set; }
    public List<IpamConfig> Config { get; set; } = [];
}

public sealed class IpamConfig
{
    public string? Subnet { get; set; }
    public string? Gateway { get; set; }
    public string? IPRange { get; set; }
}

public sealed class EndpointResource
{
    public string Name { get; set; } = "";
    public string EndpointID { get; set; } = "";
    public string MacAddress { get; set; } = "";
    public string IPv4Address { get; set; } = "";
    public string IPv6Address { get; set; } = "";
}

public sealed class NetworkCreateRequest
{
    public string? Name { get; set; }
    public string? Driver { get; set; }
    public Ipam? IPAM { get; set; }
    public bool CheckDuplicate { get; set; }
    public bool Internal { get; set; }
    public bool EnableIPv6 { get; set; }
    public Dictionary<string, string>? Labels { get; set; }
}

public sealed class NetworkCreateResponse
{
    public string Id { get; set; } = "";
    public string Warning { get; set; } = "";
}

public sealed class NetworkConnectRequest
{
    public string? Container { get; set; }
    public bool Force { get; set; }
    /// <summary>connect --alias (Docker's EndpointSettings; only Aliases is implemented).</summary>
    public ConnectEndpointConfig? EndpointConfig { get; set; }
    /// <summary>Every property Gocker does not know: refused unless its value is empty.</summary>
    [JsonExtensionData, JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Dictionary<string, System.Text.Json.JsonElement>? Unsupported { get; set; }
}

public sealed class ConnectEndpointConfig
{
    public List<string>? Aliases { get; set; }
    /// <summary>IPAMConfig, Links, MacAddress, DriverOpts...: refused unless empty.</summary>
    [JsonExtensionData, JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Dictionary<string, System.Text.Json.JsonElement>? Unsupported { get; set; }
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, PropertyNameCaseInsensitive = true)]
[JsonSerializable(typeof(List<NetworkResource>))]
[JsonSerializable(typeof(NetworkResource))]
[JsonSerializable(typeof(NetworkCreateRequest))]
[JsonSerializable(typeof(NetworkCreateResponse))]
[JsonSerializable(typeof(NetworkConnectRequest))]
public partial class NetworkApiJson : JsonSerializerContext;
