using Gocker.Actors.Containers;
using Gocker.Api;
using Gocker.Network;

namespace Gocker.Host;

/// <summary>Inspect's view of a container's network names (Docker's NetworkSettings.Networks.NET.Aliases).</summary>
public static class ContainerNames
{
    /// <summary>As Docker's API 1.43: on a user network, the given aliases and the container's short id
    /// (which every container answers to there); null on the default network.</summary>
    public static List<string>? InspectAliases(IReadOnlyList<string>? aliases, string containerId, INetworkManager net, string networkId)
    {
        bool isDefault;
        try { isDefault = net.Inspect(networkId).Network.IsDefault; }
        catch (NetworkNotFoundException) { return aliases?.ToList(); }
        if (isDefault) return null;
        var shortId = containerId[..Math.Min(12, containerId.Length)];
        var list = (aliases ?? []).ToList();
        if (!list.Contains(shortId)) list.Add(shortId);
        return list;
    }

    /// <summary>A container that is not running: its configured network with its aliases and no
    /// address (as Docker shows a created or stopped container), so that clients such as Compose see
    /// it is already configured for its network and do not try to connect it again.</summary>
    public static NetworkSettings Configured(NetworkSettings ns, ContainerSpec spec, INetworkManager? net)
    {
        if (net is null || spec.NetworkMode is null or "none" or "host") return ns;
        NetworkRecord rec;
        try { rec = net.Inspect(spec.NetworkMode).Network; }
        catch (Exception e) when (e is NetworkNotFoundException or NetworkConflictException) { return ns; }
        ns.Networks[rec.Name] = new EndpointSettings
        {
            NetworkID = rec.Id,
            Aliases = InspectAliases(spec.Names?.Aliases, spec.Id, net, rec.Id),
        };
        return ns;
    }
}
