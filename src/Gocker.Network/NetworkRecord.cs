using System.Text.Json.Serialization;

namespace Gocker.Network;

/// <summary>A network as persisted under StateDir/networks/ID.json.</summary>
public sealed record NetworkRecord
{
    public required string Id { get; init; }
    public required string Name { get; init; }
    /// <summary>The Linux bridge device (at most 15 characters).</summary>
    public required string Bridge { get; init; }
    public required string Subnet { get; init; }
    public required string Gateway { get; init; }
    public DateTimeOffset Created { get; init; }
    /// <summary>The pre-defined network: no name resolution between its containers (as Docker's
    /// default bridge) and it cannot be removed.</summary>
    public bool IsDefault { get; init; }
    /// <summary>`network create --label` (Docker's Labels); null: none.</summary>
    public Dictionary<string, string>? Labels { get; init; }
}

/// <summary>One container's interface on one network.</summary>
public sealed record EndpointRecord
{
    public required string NetworkId { get; init; }
    public required string NetworkName { get; init; }
    public required string IfName { get; init; }
    /// <summary>"10.1.0.2/24"; empty while the ADD is in flight.</summary>
    public string Address { get; init; } = "";
    public string Gateway { get; init; } = "";
    public string Mac { get; init; } = "";
    public List<PortMapping> Ports { get; init; } = [];
    /// <summary>The plugin types chained at ADD, so that DEL runs the same chain.</summary>
    public List<string> Plugins { get; init; } = [];
    /// <summary>The ADD result of the last plugin (CNI wants it back as prevResult on DEL).</summary>
    public string? Result { get; init; }
    /// <summary>The CNI_CONTAINERID the ADD was made with, when it is not the container's id (an
    /// endpoint taken over from a netns pool slot: the slot's id). DEL must give the same one, or
    /// host-local keeps the IP.</summary>
    public string? CniContainerId { get; init; }
    /// <summary>Network-scoped aliases (--network-alias, connect --alias): other containers on this
    /// network find this endpoint by them; null: none.</summary>
    public List<string>? Aliases { get; init; }
}

/// <summary>A pre-attached network namespace of a network's pool, StateDir/pool/SLOTID.json:
/// written before its ADD, so a daemon crash leaves a record CleanupStale can DEL. Its pin is
/// StateDir/pool/SLOTID.netns.</summary>
public sealed record PoolSlotRecord
{
    public required string SlotId { get; init; }
    public required string NetworkId { get; init; }
    /// <summary>IfName eth0, CniContainerId = SlotId; Address/Result empty while the ADD is in flight.</summary>
    public required EndpointRecord Endpoint { get; init; }
}

/// <summary>A container's network state, StateDir/endpoints/CONTAINERID.json: what Detach needs
/// after a daemon restart.</summary>
public sealed record ContainerNetworkRecord
{
    public required string ContainerId { get; init; }
    public required string Name { get; init; }
    public required string Hostname { get; init; }
    /// <summary>As given at attach (informational: DEL uses the pin StateDir/netns/CONTAINERID).</summary>
    public required string NetnsPath { get; init; }
    public required string EtcDir { get; init; }
    public List<EndpointRecord> Endpoints { get; init; } = [];
    /// <summary>--domainname, --add-host, --dns*: what the generated files hold besides the network's names.</summary>
    public NameSettings? Names { get; init; }
}

[JsonSourceGenerationOptions(WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(NetworkRecord))]
[JsonSerializable(typeof(ContainerNetworkRecord))]
[JsonSerializable(typeof(PoolSlotRecord))]
internal partial class NetworkStateJson : JsonSerializerContext;
