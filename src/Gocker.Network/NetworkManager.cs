using Gocker.Syscalls.IO;
using System.Security.Cryptography;
using Gocker.Network.Cni;

namespace Gocker.Network;

/// <summary>The CNI-backed <see cref="INetworkManager"/>. Metadata (networks, endpoint records) is
/// guarded by one lock held only for in-memory and file work; plugin runs (tens of ms) happen
/// under a per-container lock so that starts of different containers do not queue behind each other.</summary>
public sealed partial class NetworkManager : INetworkManager
{
    readonly NetworkOptions _o;
    readonly NetworkStore _store;
    readonly CniInvoker _cni;
    readonly NetworkRules _rules = new();
    readonly bool _firewall;
    readonly object _lock = new();
    readonly object[] _containerLocks = Enumerable.Range(0, 64).Select(_ => new object()).ToArray();
    readonly Dictionary<string, NetworkRecord> _networks = new();          // by id
    readonly Dictionary<string, ContainerNetworkRecord> _containers = new(); // by container id

    public NetworkOptions Options => _o;
    internal CniInvoker Cni => _cni;

    public NetworkManager(NetworkOptions options)
    {
        _o = options;
        _store = new NetworkStore(options);
        _cni = new CniInvoker(options.CniPath);
        _store.EnsureDirs();
        Directory.CreateDirectory(PinDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        foreach (var n in _store.LoadNetworks()) _networks[n.Id] = n;
        foreach (var c in _store.LoadEndpoints()) _containers[c.ContainerId] = c;
        _staleSlots = _store.LoadSlots();
        _firewall = options.UseFirewallPlugin ?? ForwardPolicyDrops();
        EnsureDefault();
    }

    string PinDir => Path.Combine(_o.StateDir, "netns");
    string PinPath(string containerId) => Path.Combine(PinDir, containerId);
    object ContainerLock(string id) => _containerLocks[(uint)StringComparer.Ordinal.GetHashCode(id) % (uint)_containerLocks.Length];

    // ---- networks -----------------------------------------------------------------------------

    void EnsureDefault()
    {
        lock (_lock)
        {
            var existing = _networks.Values.FirstOrDefault(n => n.IsDefault);
            var subnet = Ipv4Cidr.Parse(_o.DefaultSubnet, "default subnet");
            if (existing is not null)
            {
                bool same = existing.Subnet == subnet.ToString() && existing.Bridge == _o.DefaultBridge && existing.Name == _o.DefaultNetworkName;
                if (same || InUse(existing.Id)) return; // a changed setting applies once its containers are gone
                _networks.Remove(existing.Id);
                _store.Delete(existing);
            }
            ValidateBridgeName(_o.DefaultBridge);
            var rec = new NetworkRecord
            {
                Id = NewId(), Name = _o.DefaultNetworkName, Bridge = _o.DefaultBridge, Subnet = subnet.ToString(),
                Gateway = Ipv4Cidr.Format(subnet.Network + 1), Created = DateTimeOffset.UtcNow, IsDefault = true,
            };
            CheckOverlap(subnet, rec.Bridge, "default subnet");
            _store.Save(rec);
            _networks[rec.Id] = rec;
        }
    }

    public NetworkRecord Create(string name, string? subnet = null, string? gateway = null, IReadOnlyDictionary<string, string>? labels = null)
    {
        ValidateName(name);
        lock (_lock)
        {
            if (name is "none" or "host" || _networks.Values.Any(n => n.Name == name))
                throw new NetworkConflictException($"network with name {name} already exists");
            var id = NewId();
            var bridge = "gk-" + id[..12];
            Ipv4Cidr cidr;
            if (string.IsNullOrEmpty(subnet))
            {
                if (!string.IsNullOrEmpty(gateway)) throw new ArgumentException("--gateway needs --subnet");
                cidr = PickSubnet(bridge);
            }
            else
            {
                cidr = Ipv4Cidr.Parse(subnet);
                CheckOverlap(cidr, bridge, "subnet");
            }
            uint gw = cidr.Network + 1;
            if (!string.IsNullOrEmpty(gateway))
            {
                gw = Ipv4Cidr.ParseAddress(gateway, "gateway");
                if (!cidr.IsHostAddress(gw))
                    throw new ArgumentException($"invalid gateway {gateway}: not a host address of subnet {cidr}");
            }
            var rec = new NetworkRecord
            {
                Id = id, Name = name, Bridge = bridge, Subnet = cidr.ToString(), Gateway = Ipv4Cidr.Format(gw), Created = DateTimeOffset.UtcNow,
                Labels = labels is { Count: > 0 } ? new Dictionary<string, string>(labels, StringComparer.Ordinal) : null,
            };
            _store.Save(rec);
            _networks[rec.Id] = rec;
            return rec;
        }
    }

    public void Remove(string idOrName)
    {
        NetworkRecord n;
        lock (_lock)
        {
            n = Resolve(idOrName);
            if (n.IsDefault) throw new NetworkConflictException($"{n.Name} is a pre-defined network and cannot be removed");
            var users = _containers.Values.Where(c => c.Endpoints.Any(e => e.NetworkId == n.Id)).Select(c => c.Name).ToList();
            if (users.Count > 0)
                throw new NetworkConflictException($"error while removing network: network {n.Name} id {n.Id} has active endpoints ({string.Join(", ", users)})");
            // The rule first: a crash after it leaves a network whose next use adds it back.
            _rules.Remove(n);
            _store.Delete(n);
            _networks.Remove(n.Id);
        }
        // Its pool's slots hold veths on the bridge and IPs: released before the bridge goes.
        DrainPool(n);
        // The bridge plugin creates the device on first use and never removes it; the network owns it.
        DeleteBridge(n.Bridge);
        var ipam = Path.Combine(_o.IpamDir, CniConfig.CniName(n));
        if (Directory.Exists(ipam)) Directory.Delete(ipam, recursive: true);
    }

    /// <summary>Clean daemon stop, after <see cref="DrainPools"/>: the host rules and bridge device of
    /// every network with no interface left on its bridge (no container of any daemon on it) go, so a
    /// stopped daemon leaves nothing on the host; networks in use keep theirs for their running
    /// containers. Records stay: the next start (or use) adds rules and bridge back. Returns the
    /// bridges released.</summary>
    public IReadOnlyList<string> ReleaseIdleHostState()
    {
        List<NetworkRecord> nets;
        lock (_lock) nets = [.. _networks.Values];
        return _rules.ReleaseIdle(nets);
    }

    public IReadOnlyList<NetworkInfo> List()
    {
        lock (_lock) return _networks.Values.OrderBy(n => n.IsDefault ? 0 : 1).ThenBy(n => n.Name, StringComparer.Ordinal).Select(InfoOf).ToList();
    }

    public NetworkInfo Inspect(string idOrName)
    {
        lock (_lock) return InfoOf(Resolve(idOrName));
    }

    NetworkInfo InfoOf(NetworkRecord n) => new(n, _containers.Values
        .SelectMany(c => c.Endpoints.Where(e => e.NetworkId == n.Id && e.Address.Length > 0).Select(e => new NetworkInfo.Member(c.ContainerId, c.Name, ToInfo(e))))
        .ToList());

    NetworkRecord Resolve(string idOrName)
    {
        if (string.IsNullOrEmpty(idOrName) || idOrName is "default") idOrName = _o.DefaultNetworkName;
        var byName = _networks.Values.FirstOrDefault(n => n.Name == idOrName);
        if (byName is not null) return byName;
        if (_networks.TryGetValue(idOrName, out var byId)) return byId;
        var prefixed = _networks.Values.Where(n => n.Id.StartsWith(idOrName, StringComparison.Ordinal)).ToList();
        return prefixed.Count switch
        {
            1 => prefixed[0],
            0 => throw new NetworkNotFoundException(idOrName),
            _ => throw new NetworkConflictException($"network {idOrName} is ambiguous ({prefixed.Count} matches)"),
        };
    }

    bool InUse(string networkId) => _containers.Values.Any(c => c.Endpoints.Any(e => e.NetworkId == networkId));

    void CheckOverlap(Ipv4Cidr cidr, string ownBridge, string what)
    {
        foreach (var other in _networks.Values)
            if (Ipv4Cidr.Parse(other.Subnet).Overlaps(cidr) && other.Bridge != ownBridge)
                throw new NetworkConflictException($"{what} {cidr} overlaps network {other.Name} ({other.Subnet})");
        foreach (var r in HostRoutes.Read())
            if (r.Device != ownBridge && r.Destination.Overlaps(cidr))
                throw new NetworkConflictException($"{what} {cidr} overlaps the host's route to {r.Destination} on {r.Device}");
    }

    Ipv4Cidr PickSubnet(string bridge)
    {
        var pool = Ipv4Cidr.Parse(_o.SubnetPool, "subnet pool");
        if (pool.Prefix > 24) throw new ArgumentException($"subnet pool {pool} is smaller than a /24");
        for (uint net = pool.Network; pool.Contains(net); net += 256)
        {
            var c = new Ipv4Cidr(net, 24);
            try { CheckOverlap(c, bridge, "subnet"); return c; }
            catch (NetworkConflictException) { }
            if (net + 256 < net) break;
        }
        throw new NetworkConflictException($"no free /24 left in the subnet pool {pool}: give --subnet");
    }

    static void ValidateName(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > 64 || !char.IsAsciiLetterOrDigit(name[0]) ||
            !name.All(ch => char.IsAsciiLetterOrDigit(ch) || ch is '_' or '.' or '-'))
            throw new ArgumentException($"invalid network name \"{name}\": use [a-zA-Z0-9][a-zA-Z0-9_.-] (at most 64)");
    }

    static void ValidateBridgeName(string bridge)
    {
        if (bridge.Length is 0 or > 15 || !bridge.All(ch => char.IsAsciiLetterOrDigit(ch) || ch is '_' or '.' or '-'))
            throw new ArgumentException($"invalid bridge device name \"{bridge}\": 1-15 characters of [a-zA-Z0-9_.-]");
    }

    static string NewId() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));

    // ---- containers ---------------------------------------------------------------------------

    public Attachment Attach(AttachRequest req)
    {
        ValidateAttach(req);
        lock (ContainerLock(req.ContainerId))
        {
            NetworkRecord net;
            ContainerNetworkRecord rec;
            bool previous;
            lock (_lock) previous = _containers.ContainsKey(req.ContainerId);
            // A restart of the same container: its previous run's attachment (whose detach may
            // still be queued) is released first, so its IP and host ports are free again.
            if (previous) DetachLocked(req.ContainerId);
            lock (_lock)
            {
                net = Resolve(req.Network ?? "");
                CheckPortsFree(req.Ports, null);
                rec = new ContainerNetworkRecord
                {
                    ContainerId = req.ContainerId, Name = req.Name, Hostname = req.Hostname, NetnsPath = req.NetnsPath, EtcDir = req.EtcDir,
                    Endpoints = [NewEndpoint(net, "eth0", req.Ports) with { Aliases = CheckAliases(net, req.Names?.Aliases) }],
                    Names = req.Names,
                };
                // Recorded with its endpoint before the ADD (one write on the start path), so that
                // a crash in the middle leaves a record CleanupStale can DEL from.
                _containers[rec.ContainerId] = rec;
                try { _store.Save(rec); }
                catch { _containers.Remove(rec.ContainerId); throw; }
            }
            try
            {
                NetnsPin.Pin(req.NetnsPath, PinPath(req.ContainerId));
                rec = AddEndpoint(rec, net, rec.Endpoints[0], recorded: true);
                WriteOwnFiles(rec);
            }
            catch
            {
                try { DetachLocked(req.ContainerId); } catch { /* the original error is the one to report */ }
                throw;
            }
            RefreshPeers(net.Id, req.ContainerId);
            // The network works: its netns pool (if any) fills, or comes back on after a failure.
            PoolNetworkUsable(net.Id);
            return ToAttachment(rec);
        }
    }

    public Attachment Connect(string containerId, string network, IReadOnlyList<string>? aliases = null)
    {
        lock (ContainerLock(containerId))
        {
            ContainerNetworkRecord rec;
            NetworkRecord net;
            lock (_lock)
            {
                rec = _containers.GetValueOrDefault(containerId)
                      ?? throw new NetworkConflictException($"container {containerId} has no network namespace gocker manages (not running, or network mode none/host)");
                net = Resolve(network);
                if (rec.Endpoints.Any(e => e.NetworkId == net.Id))
                    throw new NetworkConflictException($"container {rec.Name} is already connected to network {net.Name}");
            }
            var checkedAliases = CheckAliases(net, aliases);
            if (!NetnsPin.IsPinned(PinPath(containerId)))
                throw new NetworkConflictException($"container {rec.Name} is not running");
            var used = rec.Endpoints.Select(e => e.IfName).ToHashSet();
            var ifName = Enumerable.Range(0, 64).Select(i => "eth" + i).First(n => !used.Contains(n));
            rec = AddEndpoint(rec, net, NewEndpoint(net, ifName, []) with { Aliases = checkedAliases }, recorded: false);
            WriteHosts(rec);
            RefreshPeers(net.Id, containerId);
            return ToAttachment(rec);
        }
    }

    public Attachment Disconnect(string containerId, string network)
    {
        lock (ContainerLock(containerId))
        {
            ContainerNetworkRecord rec;
            EndpointRecord ep;
            lock (_lock)
            {
                rec = _containers.GetValueOrDefault(containerId) ?? throw new NetworkConflictException($"container {containerId} is not connected to any network");
                var net = Resolve(network);
                ep = rec.Endpoints.FirstOrDefault(e => e.NetworkId == net.Id)
                     ?? throw new NetworkConflictException($"container {rec.Name} is not connected to network {net.Name}");
            }
            DelEndpoint(rec, ep);
            lock (_lock)
            {
                rec = rec with { Endpoints = rec.Endpoints.Where(e => e != ep).ToList() };
                _containers[containerId] = rec;
                _store.Save(rec);
            }
            WriteHosts(rec);
            RefreshPeers(ep.NetworkId, containerId);
            return ToAttachment(rec);
        }
    }

    public void Detach(string containerId, bool containerGone = false, bool mayRecycle = true)
    {
        List<string> networks;
        lock (ContainerLock(containerId))
        {
            networks = DetachLocked(containerId, containerGone, mayRecycle);
        }
        foreach (var n in networks) RefreshPeers(n, containerId);
    }

    public Task DetachAsync(string containerId, bool containerGone = false, bool mayRecycle = true) => Task.Run(() => Detach(containerId, containerGone, mayRecycle));

    /// <summary>DELs every endpoint (last first); the record goes only when all DELs succeeded, so
    /// a failed teardown is retried by the next Detach or CleanupStale.
    /// <paramref name="containerGone"/>: no process of the container is left, so dropping the pin
    /// lets the namespace die, and the kernel deletes the veth pairs with it (see VethReaper): the
    /// pin goes first and the DELs run without a netns (IPAM release, port and firewall rules only),
    /// overlapping the kernel's cleanup, instead of each DEL deleting its veth from inside (the
    /// slowest part of a DEL). Only when every endpoint's host veth is known from its ADD result:
    /// otherwise nothing could tell when the devices are gone.</summary>
    List<string> DetachLocked(string containerId, bool containerGone = false, bool mayRecycle = true)
    {
        ContainerNetworkRecord? rec;
        lock (_lock) rec = _containers.GetValueOrDefault(containerId);
        var pin = PinPath(containerId);
        if (rec is null)
        {
            if (File.Exists(pin)) NetnsPin.Unpin(pin);
            return [];
        }
        if (containerGone && mayRecycle && TryRecycle(rec)) return [rec.Endpoints[0].NetworkId];
        var veths = containerGone ? HostVeths(rec) : null;
        if (veths is not null) NetnsPin.Unpin(pin);
        Exception? first = null;
        foreach (var ep in Enumerable.Reverse(rec.Endpoints))
        {
            try { DelEndpoint(rec, ep); }
            catch (Exception ex) { first ??= ex; }
        }
        if (veths is not null)
        {
            try { VethReaper.AwaitGone(veths, VethReaper.KernelGrace); }
            catch (Exception ex) { first ??= ex; }
        }
        if (first is not null) throw first;
        NetnsPin.Unpin(pin);
        lock (_lock)
        {
            _containers.Remove(containerId);
            _store.Delete(rec);
        }
        return rec.Endpoints.Select(e => e.NetworkId).Distinct().ToList();
    }

    /// <summary>The host ends of the container's veth pairs, from the ADD results; null when an
    /// endpoint's are unknown (ADD in flight at a crash, or a result naming none).</summary>
    List<string>? HostVeths(ContainerNetworkRecord rec)
    {
        var all = new List<string>();
        foreach (var ep in rec.Endpoints)
        {
            NetworkRecord? net;
            lock (_lock) net = _networks.GetValueOrDefault(ep.NetworkId);
            if (net is null) return null;
            var veths = CniResultDevices.HostVeths(ep.Result, net.Bridge);
            if (veths.Count == 0 || !veths.All(VethReaper.IsDeviceName)) return null;
            all.AddRange(veths);
        }
        return all;
    }

    public Attachment? Get(string containerId)
    {
        lock (_lock) return _containers.TryGetValue(containerId, out var r) ? ToAttachment(r) : null;
    }

    public void CleanupStale(IReadOnlySet<string> liveContainerIds)
    {
        List<string> stale;
        lock (_lock) stale = _containers.Keys.Where(id => !liveContainerIds.Contains(id)).ToList();
        var errors = new List<string>();
        foreach (var id in stale)
        {
            try { Detach(id); }
            catch (Exception ex) { errors.Add($"{id[..Math.Min(12, id.Length)]}: {ex.Message}"); }
        }
        CleanupStaleSlots(errors);
        HashSet<string> owned;
        lock (_lock)
        {
            owned = _containers.Keys.ToHashSet();
            // An endpoint taken over from a pool slot: host-local's file names the slot's id.
            owned.UnionWith(_containers.Values.SelectMany(c => c.Endpoints).Select(e => e.CniContainerId).OfType<string>());
            owned.UnionWith(_slotIds);
        }
        foreach (var pin in Directory.EnumerateFiles(PinDir))
            if (!owned.Contains(Path.GetFileName(pin)))
                try { NetnsPin.Unpin(pin); } catch (Exception ex) { errors.Add($"{pin}: {ex.Message}"); }
        // host-local files are named by IP and hold "CONTAINERID\nIFNAME": drop the ones no record owns.
        foreach (var dir in Directory.EnumerateDirectories(_o.IpamDir))
            foreach (var f in Directory.EnumerateFiles(dir))
            {
                var name = Path.GetFileName(f);
                if (name.StartsWith("last_reserved_ip", StringComparison.Ordinal) || name == "lock") continue;
                string owner;
                try { owner = File.ReadAllText(f).Split('\n', 2)[0].Trim(); }
                catch (IOException) { continue; }
                // A pool slot being made meanwhile registered its id before its ADD wrote this file.
                if (!owned.Contains(owner) && !IsLiveSlot(owner)) File.Delete(f);
            }
        StartPool();
        if (errors.Count > 0) throw new InvalidOperationException("network cleanup: " + string.Join("; ", errors));
    }

    // ---- CNI ----------------------------------------------------------------------------------

    EndpointRecord NewEndpoint(NetworkRecord net, string ifName, IReadOnlyList<PortMapping> ports) => new()
    {
        NetworkId = net.Id, NetworkName = net.Name, IfName = ifName, Ports = ports.ToList(),
        Plugins = CniConfig.Chain(_firewall, ports.Count > 0),
    };

    /// <summary>ADDs <paramref name="ep"/>; <paramref name="recorded"/>: the saved record already
    /// holds it (Attach), otherwise it is recorded first (Connect).</summary>
    ContainerNetworkRecord AddEndpoint(ContainerNetworkRecord rec, NetworkRecord net, EndpointRecord ep, bool recorded)
    {
        var ifName = ep.IfName;
        if (!recorded)
            lock (_lock)
            {
                rec = _containers[rec.ContainerId] with { Endpoints = [.. _containers[rec.ContainerId].Endpoints, ep] };
                _containers[rec.ContainerId] = rec;
                _store.Save(rec);
            }
        string result;
        try { result = AddChain(net, ep, rec.ContainerId, PinPath(rec.ContainerId)); }
        catch
        {
            lock (_lock)
            {
                rec = _containers[rec.ContainerId] with { Endpoints = _containers[rec.ContainerId].Endpoints.Where(e => e != ep).ToList() };
                _containers[rec.ContainerId] = rec;
                _store.Save(rec);
            }
            throw;
        }
        var done = Completed(ep, result);
        lock (_lock)
        {
            rec = _containers[rec.ContainerId] with { Endpoints = _containers[rec.ContainerId].Endpoints.Select(e => e == ep ? done : e).ToList() };
            _containers[rec.ContainerId] = rec;
            _store.Save(rec);
        }
        return rec;
    }

    /// <summary>The endpoint's chain ADDed in the namespace pinned at <paramref name="pin"/> with
    /// <paramref name="cniId"/> as CNI_CONTAINERID; returns the last plugin's result. On failure
    /// whatever was added is DELed again and the plugin's error thrown.</summary>
    string AddChain(NetworkRecord net, EndpointRecord ep, string cniId, string pin)
    {
        var call = new CniInvoker.Call("ADD", cniId, pin, ep.IfName);
        string? result = null;
        try
        {
            _rules.Ensure(net);
            foreach (var plugin in ep.Plugins)
                result = _cni.Exec(plugin, call, CniConfig.For(plugin, net, _o.IpamDir, ep.Ports, result));
            return result!;
        }
        catch
        {
            try { DelEndpoint(ep, cniId, pin, net); } catch { /* report the ADD error */ }
            throw;
        }
    }

    static EndpointRecord Completed(EndpointRecord ep, string result)
    {
        var parsed = CniResult.Parse(result, ep.IfName);
        return ep with { Address = parsed.Address, Gateway = parsed.Gateway, Mac = parsed.Mac, Result = result };
    }

    void DelEndpoint(ContainerNetworkRecord rec, EndpointRecord ep) =>
        DelEndpoint(ep, ep.CniContainerId ?? rec.ContainerId, PinPath(rec.ContainerId));

    /// <summary>DEL of the endpoint's chain in reverse order, with the ADD result as prevResult and
    /// the ADD's CNI_CONTAINERID. Every plugin is tried even when one fails; the first error is thrown.</summary>
    void DelEndpoint(EndpointRecord ep, string cniId, string pin, NetworkRecord? net = null)
    {
        if (net is null) lock (_lock) net = _networks.GetValueOrDefault(ep.NetworkId);
        // The network record may be gone only if state was edited by hand; DEL still needs its name.
        net ??= new NetworkRecord { Id = ep.NetworkId, Name = ep.NetworkName, Bridge = "", Subnet = "0.0.0.0/32", Gateway = "" };
        // No pin (reboot, or the ADD never got that far): DEL without a netns still releases the IP.
        var call = new CniInvoker.Call("DEL", cniId, NetnsPin.IsPinned(pin) ? pin : "", ep.IfName);
        Exception? first = null;
        foreach (var plugin in Enumerable.Reverse(ep.Plugins))
        {
            // Without a netns, the bridge plugin's DEL does nothing but exec its IPAM plugin with
            // the same stdin and environment (cmdDel: `if args.Netns == "" { return ipamDel() }`):
            // exec host-local directly, one Go program start (~3-5 ms) fewer per removal.
            var exe = plugin == "bridge" && call.Netns.Length == 0 ? CniConfig.BridgeIpam : plugin;
            try { _cni.Exec(exe, call, CniConfig.For(plugin, net, _o.IpamDir, ep.Ports, ep.Result)); }
            catch (Exception ex) { first ??= ex; }
        }
        if (first is not null) throw first;
    }

    void CheckPortsFree(IReadOnlyList<PortMapping> ports, string? exceptContainer)
    {
        foreach (var p in ports)
        {
            if (ports.Count(q => q.HostPort == p.HostPort && q.Protocol == p.Protocol && (q.HostIp == p.HostIp || q.HostIp == "" || p.HostIp == "")) > 1)
                throw new ArgumentException($"port {p.HostPort}/{p.Protocol} is published twice");
            foreach (var c in _containers.Values)
                if (c.ContainerId != exceptContainer)
                    foreach (var q in c.Endpoints.SelectMany(e => e.Ports))
                        if (q.HostPort == p.HostPort && q.Protocol == p.Protocol && (q.HostIp == p.HostIp || q.HostIp == "" || p.HostIp == ""))
                            throw new NetworkConflictException($"Bind for {(p.HostIp.Length > 0 ? p.HostIp : "0.0.0.0")}:{p.HostPort} failed: port is already allocated (container {c.Name})");
        }
    }

    // ---- files --------------------------------------------------------------------------------

    void WriteOwnFiles(ContainerNetworkRecord rec)
    {
        AtomicFile.OverwriteInPlace(Path.Combine(rec.EtcDir, EtcFiles.Hostname), rec.Hostname + "\n");
        AtomicFile.OverwriteInPlace(Path.Combine(rec.EtcDir, EtcFiles.ResolvConf), EtcFiles.ResolvConfContent(_o.HostResolvConf, rec.Names));
        WriteHosts(rec);
    }

    /// <summary>Aliases are network-scoped names: only on a user network (Docker refuses them on its
    /// default bridge, where containers do not resolve each other at all).</summary>
    static List<string>? CheckAliases(NetworkRecord net, IReadOnlyList<string>? aliases)
    {
        if (aliases is not { Count: > 0 }) return null;
        if (net.IsDefault) throw new ArgumentException("network-scoped alias is supported only for containers in user defined networks");
        foreach (var a in aliases) NameSettings.ValidateName(a, "network alias");
        return aliases.Distinct(StringComparer.Ordinal).ToList();
    }

    public string? HostGatewayIp
    {
        get { lock (_lock) return _networks.Values.FirstOrDefault(n => n.IsDefault)?.Gateway; }
    }

    /// <summary>--add-host entries, host-gateway resolved (caller holds _lock).</summary>
    List<EtcFiles.HostEntry> ExtraHostEntries(NameSettings? names)
    {
        var result = new List<EtcFiles.HostEntry>();
        foreach (var entry in names?.ExtraHosts ?? [])
        {
            var (name, ip) = NameSettings.ParseExtraHost(entry);
            if (ip == NameSettings.HostGateway)
                ip = _networks.Values.FirstOrDefault(n => n.IsDefault)?.Gateway ?? throw new ArgumentException($"--add-host {entry}: there is no default network whose gateway host-gateway stands for");
            result.Add(new EtcFiles.HostEntry(ip, [name]));
        }
        return result;
    }

    // Serialises hosts-file writes: each is computed under _lock but written after it, so two
    // containers joining at once (compose starts a project's services together) could otherwise
    // land an older view last, and a peer would be missing from a file until the next change.
    readonly object _hostsWriteLock = new();

    void WriteHosts(ContainerNetworkRecord rec)
    {
        lock (_hostsWriteLock) WriteHostsSerialised(rec);
    }

    void WriteHostsSerialised(ContainerNetworkRecord rec)
    {
        string content;
        lock (_lock)
        {
            rec = _containers.GetValueOrDefault(rec.ContainerId) ?? rec;
            // The container's own names, as Docker's: "host.domain host" first; then its name and
            // its aliases on that network (Docker's embedded DNS answers a container's own aliases too).
            var domain = rec.Names?.Domainname ?? "";
            IReadOnlyList<string> self = domain.Length > 0 ? [$"{rec.Hostname}.{domain}", rec.Hostname, rec.Name] : [rec.Hostname, rec.Name];
            var own = rec.Endpoints.Where(e => e.Address.Length > 0)
                .Select(e => new EtcFiles.HostEntry(e.Address.Split('/')[0], [.. self, .. e.Aliases ?? []])).ToList();
            // Containers on the same user-defined network resolve each other by name (not on the
            // default bridge, as in Docker).
            var userNets = rec.Endpoints.Where(e => _networks.TryGetValue(e.NetworkId, out var n) && !n.IsDefault).Select(e => e.NetworkId).ToHashSet();
            var peers = _containers.Values.Where(c => c.ContainerId != rec.ContainerId)
                .SelectMany(c => c.Endpoints.Where(e => userNets.Contains(e.NetworkId) && e.Address.Length > 0)
                    .Select(e => new EtcFiles.HostEntry(e.Address.Split('/')[0], [c.Name, c.Hostname, c.ContainerId[..Math.Min(12, c.ContainerId.Length)], .. e.Aliases ?? []])))
                .DistinctBy(h => h.Ip)
                .ToList();
            content = EtcFiles.HostsContent(own, peers, ExtraHostEntries(rec.Names));
        }
        AtomicFile.OverwriteInPlace(Path.Combine(rec.EtcDir, EtcFiles.Hosts), content);
    }

    /// <summary>Rewrites the hosts files of the other containers on a user network after one joined
    /// or left (in place: the files are bind-mounted into running containers).</summary>
    void RefreshPeers(string networkId, string changedContainer)
    {
        List<ContainerNetworkRecord> peers;
        lock (_lock)
        {
            if (!_networks.TryGetValue(networkId, out var n) || n.IsDefault) return;
            peers = _containers.Values.Where(c => c.ContainerId != changedContainer && c.Endpoints.Any(e => e.NetworkId == networkId)).ToList();
        }
        foreach (var p in peers)
        {
            try { if (Directory.Exists(p.EtcDir)) WriteHosts(p); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { /* that container is on its way out */ }
        }
    }

    Attachment ToAttachment(ContainerNetworkRecord r) =>
        new(r.ContainerId, r.Endpoints.Where(e => e.Address.Length > 0).Select(ToInfo).ToList(), r.EtcDir);

    static EndpointInfo ToInfo(EndpointRecord e)
    {
        var parts = e.Address.Split('/');
        return new EndpointInfo(e.NetworkId, e.NetworkName, e.IfName, parts[0], parts.Length > 1 ? int.Parse(parts[1]) : 32, e.Gateway, e.Mac, e.Ports, e.Aliases);
    }

    // ---- host -----------------------------------------------------------------------------------

    static bool ForwardPolicyDrops()
    {
        try
        {
            var psi = new System.Diagnostics.ProcessStartInfo("iptables", "-w -S FORWARD") { RedirectStandardOutput = true, RedirectStandardError = true };
            using var p = System.Diagnostics.Process.Start(psi)!;
            var text = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            return text.Contains("-P FORWARD DROP") || text.Contains("-P FORWARD REJECT");
        }
        catch (System.ComponentModel.Win32Exception) { return false; }
    }

    /// <summary>Deletes a network's bridge device with ip(8); absent is fine.</summary>
    internal static void DeleteBridge(string bridge)
    {
        if (string.IsNullOrEmpty(bridge) || !Directory.Exists("/sys/class/net/" + bridge)) return;
        var psi = new System.Diagnostics.ProcessStartInfo("ip", ["link", "delete", bridge, "type", "bridge"]) { RedirectStandardError = true };
        using var p = System.Diagnostics.Process.Start(psi)!;
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0 && Directory.Exists("/sys/class/net/" + bridge))
            throw new InvalidOperationException($"ip link delete {bridge}: {err.Trim()}");
    }
}
