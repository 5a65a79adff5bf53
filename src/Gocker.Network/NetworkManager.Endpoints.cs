namespace Gocker.Network;

/// <summary>Checks for a connect recorded while the container does not run, and the rename of a
/// running container (its peers resolve the new name at once, as Docker's embedded DNS does).</summary>
public sealed partial class NetworkManager
{
    public NetworkRecord CheckEndpoint(string network, IReadOnlyList<string>? aliases)
    {
        NetworkRecord net;
        lock (_lock) net = Resolve(network);
        CheckAliases(net, aliases);
        return net;
    }

    public void Rename(string containerId, string newName)
    {
        List<string> networks;
        lock (ContainerLock(containerId))
        {
            ContainerNetworkRecord rec;
            lock (_lock)
            {
                if (!_containers.TryGetValue(containerId, out var old) || old.Name == newName) return;
                rec = old with { Name = newName };
                _containers[containerId] = rec;
                _store.Save(rec);
                networks = rec.Endpoints.Select(e => e.NetworkId).Distinct().ToList();
            }
            // Its own file names it too ("hostname name" on its addresses).
            if (Directory.Exists(rec.EtcDir)) WriteHosts(rec);
        }
        foreach (var n in networks) RefreshPeers(n, containerId);
    }
}
