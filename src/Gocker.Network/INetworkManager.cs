namespace Gocker.Network;

/// <summary>What the container start path gives Attach. NetnsPath: the container's network
/// namespace (/proc/INITPID/ns/net while the init waits on its go pipe). Network: a network name
/// or id; null, "", "bridge" or "default" = the default network ("none" and "host" are the
/// caller's business: no Attach). EtcDir: an existing directory where hosts, hostname and
/// resolv.conf are written for the init to bind-mount.</summary>
public sealed record AttachRequest(
    string ContainerId,
    string Name,
    string Hostname,
    string NetnsPath,
    string? Network,
    IReadOnlyList<PortMapping> Ports,
    string EtcDir,
    NameSettings? Names = null);

public sealed record EndpointInfo(
    string NetworkId, string NetworkName, string IfName, string Ip, int PrefixLength, string Gateway, string Mac,
    IReadOnlyList<PortMapping> Ports, IReadOnlyList<string>? Aliases = null)
{
    public string Cidr => $"{Ip}/{PrefixLength}";
}

/// <summary>A container's attachment: its interfaces and the generated files.</summary>
public sealed record Attachment(string ContainerId, IReadOnlyList<EndpointInfo> Endpoints, string EtcDir)
{
    public string HostsPath => Path.Combine(EtcDir, EtcFiles.Hosts);
    public string HostnamePath => Path.Combine(EtcDir, EtcFiles.Hostname);
    public string ResolvConfPath => Path.Combine(EtcDir, EtcFiles.ResolvConf);
    public EndpointInfo? Primary => Endpoints.Count > 0 ? Endpoints[0] : null;
}

/// <summary>A network with its current endpoints (for ls/inspect).</summary>
public sealed record NetworkInfo(NetworkRecord Network, IReadOnlyList<NetworkInfo.Member> Members)
{
    public sealed record Member(string ContainerId, string Name, EndpointInfo Endpoint);
}

public sealed class NetworkNotFoundException(string what) : Exception($"network {what} not found");

/// <summary>The request conflicts with the current state (name taken, subnet overlap, in use...).</summary>
public sealed class NetworkConflictException(string message) : Exception(message);

/// <summary>Container networking on the CNI plugins. Thread-safe; operations on one container are
/// serialized, different containers proceed in parallel.</summary>
public interface INetworkManager
{
    IReadOnlyList<NetworkInfo> List();
    /// <summary>By exact name, full id or unique id prefix.</summary>
    NetworkInfo Inspect(string idOrName);
    NetworkRecord Create(string name, string? subnet = null, string? gateway = null, IReadOnlyDictionary<string, string>? labels = null);
    /// <summary>Refused while containers use it, and for the default network.</summary>
    void Remove(string idOrName);

    /// <summary>Before the init is released: ADDs the container to its network (veth, IP, NAT,
    /// published ports) and writes EtcDir/{hosts,hostname,resolv.conf}. All or nothing: on failure
    /// whatever was added is deleted again and the plugin's message is thrown. Attaching a container
    /// id that is still attached (a restart) detaches the old attachment first.</summary>
    Attachment Attach(AttachRequest request);
    /// <summary>Before the spawn: hands the container a pre-attached network namespace from its
    /// network's pool (gocker.network.netns-pool) and returns its path, which the init must join
    /// (SpawnRequest.NetnsPath). The container is then attached (endpoint recorded, /etc files
    /// written) exactly as after <see cref="Attach"/>, and detached the same way (also when its spawn
    /// fails). Null when no slot is ready, the pool is off, or ports are published: spawn a new
    /// netns and call Attach as usual. request.NetnsPath is not used.</summary>
    string? ClaimNetns(AttachRequest request) => null;
    /// <summary>On teardown (after the container exited, or to undo a failed start): DELs every
    /// endpoint and releases the IPs; returns when no veth of it is left. Idempotent; works after a
    /// daemon restart. <paramref name="containerGone"/>: the caller knows that no process of the
    /// container is left (its cgroup is gone): the namespace is let go first and the kernel deletes
    /// the veths with it, which is faster than each DEL deleting its own. <paramref name="mayRecycle"/>:
    /// false when the container could have changed its namespace (CAP_NET_ADMIN, --privileged, net.*
    /// sysctls): it is then never handed to the netns pool for another container.</summary>
    void Detach(string containerId, bool containerGone = false, bool mayRecycle = true);
    /// <summary>Detach on the thread pool, for the exit path: nothing has to wait for the DELs
    /// (a later Attach of the same container waits for them and finds its IP and ports free).</summary>
    Task DetachAsync(string containerId, bool containerGone = false, bool mayRecycle = true);
    /// <summary>The container's attachment, or null when it has none.</summary>
    Attachment? Get(string containerId);
    /// <summary>A running, attached container joins one more network (next free ethN).</summary>
    Attachment Connect(string containerId, string network, IReadOnlyList<string>? aliases = null);
    /// <summary>The gateway "host-gateway" stands for in --add-host (the default network's, as
    /// Docker's default bridge); null without a default network.</summary>
    string? HostGatewayIp => null;
    Attachment Disconnect(string containerId, string network);
    /// <summary>What Connect would refuse before touching anything (unknown network, aliases on the
    /// default network, bad alias names), for a connect recorded while the container does not run.</summary>
    NetworkRecord CheckEndpoint(string network, IReadOnlyList<string>? aliases);
    /// <summary>An attached container's new name: its own hosts file and its peers' are rewritten.
    /// Nothing to do for a container that is not attached.</summary>
    void Rename(string containerId, string newName);
    /// <summary>At daemon start: detaches every recorded container not in <paramref name="liveContainerIds"/>
    /// and drops IP allocations no record owns (a crash between ADD and the record).</summary>
    void CleanupStale(IReadOnlySet<string> liveContainerIds);
}
