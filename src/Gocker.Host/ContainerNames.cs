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

    /// <summary>Docker 25+'s DNSNames of an attached endpoint on a user network: the container's name,
    /// the given aliases, its short id and its hostname, each once, in that order (the first names
    /// the PTR record in Docker); null on the default network, where containers do not resolve
    /// each other.</summary>
    public static List<string>? DnsNames(ContainerSpec spec, IReadOnlyList<string>? aliases, INetworkManager net, string networkId)
    {
        try { if (net.Inspect(networkId).Network.IsDefault) return null; }
        catch (NetworkNotFoundException) { return null; }
        return new[] { spec.Name }.Concat(aliases ?? []).Append(spec.Id[..Math.Min(12, spec.Id.Length)]).Append(spec.Hostname)
            .Where(n => !string.IsNullOrEmpty(n)).Distinct(StringComparer.Ordinal).ToList();
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
        // `network connect` of a created or stopped container: joined at its next start.
        foreach (var e in spec.ExtraNetworks)
        {
            string name;
            try { name = net.Inspect(e.NetworkId).Network.Name; }
            catch (NetworkNotFoundException) { name = e.NetworkName; } // removed meanwhile: its next start fails, naming it
            ns.Networks[name] = new EndpointSettings { NetworkID = e.NetworkId, Aliases = InspectAliases(e.Aliases, spec.Id, net, e.NetworkId) };
        }
        return ns;
    }
}
