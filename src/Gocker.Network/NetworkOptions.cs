namespace Gocker.Network;

/// <summary>Settings of the network manager. Tests give each manager its own state dir, default
/// bridge device and subnet so that daemons running side by side never share a bridge.</summary>
public sealed record NetworkOptions
{
    /// <summary>Network records, endpoint records and host-local's IPAM data live under here
    /// (DataRoot/networks): allocations must survive a daemon restart.</summary>
    public required string StateDir { get; init; }
    public string CniPath { get; init; } = "/usr/lib/cni";
    /// <summary>Name of the pre-defined network (Docker's "bridge").</summary>
    public string DefaultNetworkName { get; init; } = "bridge";
    public string DefaultBridge { get; init; } = "gocker0";
    public string DefaultSubnet { get; init; } = "172.28.0.0/16";
    /// <summary>User networks created without --subnet get the first free /24 of this pool.</summary>
    public string SubnetPool { get; init; } = "172.29.0.0/16";
    /// <summary>Chain the CNI "firewall" plugin (needed when the host's FORWARD policy drops);
    /// null = decide from the host's FORWARD policy at start.</summary>
    public bool? UseFirewallPlugin { get; init; }
    /// <summary>Host's resolv.conf, the source of the containers' nameservers.</summary>
    public string HostResolvConf { get; init; } = "/etc/resolv.conf";

    /// <summary>Pre-attached network namespaces kept ready per network (gocker.network.netns-pool):
    /// a start with no published ports takes one instead of waiting for the CNI ADD. 0 = off.</summary>
    public int NetnsPool { get; init; }

    public string NetworksDir => Path.Combine(StateDir, "networks");
    public string EndpointsDir => Path.Combine(StateDir, "endpoints");
    public string IpamDir => Path.Combine(StateDir, "ipam");
    public string PoolDir => Path.Combine(StateDir, "pool");
}
