using Akka.Actor;
using Gocker.Network;

namespace Gocker.Actors.Containers;

/// <summary>
/// `network connect` / `disconnect` of any container, as Docker's: the endpoint is kept in the
/// container's spec (ExtraNetworks), so a running container joins at once and again at each start,
/// a created or stopped one at its next start (inspect shows it meanwhile, without an address), and
/// a daemon restart keeps it (the spec is in the container's state record).
/// </summary>
public sealed partial class ContainerActor
{
    /// <summary>Answers Ack, or a failure with nothing changed.</summary>
    public sealed record ConnectNetwork(string Network, IReadOnlyList<string> Aliases);
    /// <summary>Answers Ack, or a failure with nothing changed.</summary>
    public sealed record DisconnectNetwork(string Network);

    void ReceiveNetworkMessages()
    {
        ReceiveAsync<ConnectNetwork>(HandleConnectNetwork);
        ReceiveAsync<DisconnectNetwork>(HandleDisconnectNetwork);
    }

    /// <summary>The container can be on user/default networks at all (Docker's refusals for host and none).</summary>
    INetworkManager NetworkCapable()
    {
        if (_svc.Network is not { } net) throw new BadRequestException("networking is disabled in this daemon");
        return _record.Spec.NetworkMode switch
        {
            "host" => throw new BadRequestException("container cannot be disconnected from host network or connected to host network"),
            null or "none" => throw new BadRequestException("container cannot be connected to multiple networks with one of the networks in private (none) mode"),
            _ => net,
        };
    }

    /// <summary>The network id of the container's NetworkMode, or null when that network is gone.</summary>
    string? PrimaryNetworkId(INetworkManager net)
    {
        try { return net.Inspect(_record.Spec.NetworkMode!).Network.Id; }
        catch (Exception e) when (e is NetworkNotFoundException or NetworkConflictException) { return null; }
    }

    async Task HandleConnectNetwork(ConnectNetwork m)
    {
        var sender = Sender;
        try
        {
            var net = NetworkCapable();
            var target = net.CheckEndpoint(m.Network, m.Aliases);
            var primary = PrimaryNetworkId(net) == target.Id;
            var running = _record.Status.CanKill();
            // A running container may have left its primary network (disconnect): it may join again;
            // the network manager refuses a second endpoint on one network.
            if ((primary && !running) || _record.Spec.ExtraNetworks.Any(e => e.NetworkId == target.Id))
                throw new NetworkConflictException($"endpoint with name {_record.Spec.Name} already exists in network {target.Name}");
            if (running)
            {
                var id = Id;
                var aliases = m.Aliases;
                // Plugins take tens of ms: off the actor's thread (the mailbox waits meanwhile).
                await Task.Run(() => net.Connect(id, target.Id, aliases));
            }
            // The primary network is joined at every start from NetworkMode: not recorded twice.
            if (primary) { sender.Tell(new Ack()); return; }
            var extra = new ExtraNetwork { NetworkId = target.Id, NetworkName = target.Name, Aliases = [.. m.Aliases.Distinct(StringComparer.Ordinal)] };
            SetRecord(_record with { Spec = _record.Spec with { ExtraNetworks = [.. _record.Spec.ExtraNetworks, extra] } });
            sender.Tell(new Ack());
        }
        catch (Exception ex) { sender.Tell(new Status.Failure(ex)); }
    }

    async Task HandleDisconnectNetwork(DisconnectNetwork m)
    {
        var sender = Sender;
        try
        {
            var net = NetworkCapable();
            var target = net.Inspect(m.Network).Network;
            var recorded = _record.Spec.ExtraNetworks.Any(e => e.NetworkId == target.Id);
            if (_record.Status.CanKill())
            {
                // A running container's primary network too (until its next start, which attaches
                // it again from NetworkMode).
                var id = Id;
                await Task.Run(() => net.Disconnect(id, target.Id));
            }
            else if (!recorded)
            {
                if (PrimaryNetworkId(net) == target.Id)
                    throw new ConflictException($"container {_record.Spec.Name} is not running: its primary network {target.Name} (NetworkMode) cannot be disconnected while it is stopped (gocker starts a container on its NetworkMode)");
                throw new NetworkConflictException($"container {_record.Spec.Name} is not connected to network {target.Name}");
            }
            if (recorded)
                SetRecord(_record with { Spec = _record.Spec with { ExtraNetworks = _record.Spec.ExtraNetworks.Where(e => e.NetworkId != target.Id).ToArray() } });
            sender.Tell(new Ack());
        }
        catch (Exception ex) { sender.Tell(new Status.Failure(ex)); }
    }

    /// <summary>At start, once the primary network is attached (or its pooled netns claimed): the
    /// extra networks, in the order they were connected. A network removed meanwhile fails the start
    /// (as Docker's), naming it; the start's teardown detaches whatever was attached.</summary>
    static void ConnectExtraNetworks(INetworkManager net, string containerId, ExtraNetwork[] extras)
    {
        foreach (var e in extras)
        {
            try { net.Connect(containerId, e.NetworkId, e.Aliases); }
            catch (NetworkNotFoundException) { throw new NetworkNotFoundException($"{e.NetworkName} ({e.NetworkId[..12]}), connected to this container,"); }
        }
    }

    /// <summary>The extra networks' connect after a pooled netns was claimed (null: none to join).</summary>
    Task? ConnectExtraNetworksAsync()
    {
        var extras = _record.Spec.ExtraNetworks;
        if (extras.Length == 0 || _svc.Network is not { } net) return null;
        var id = Id;
        return Task.Run(() => ConnectExtraNetworks(net, id, extras));
    }
}
