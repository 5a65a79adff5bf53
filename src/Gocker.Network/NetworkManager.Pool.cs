using System.Security.Cryptography;

namespace Gocker.Network;

/// <summary>
/// The netns pool: per network, up to <see cref="NetworkOptions.NetnsPool"/> network namespaces
/// made and ADDed ahead of time, so that a start takes one ready (eth0 up, IP assigned, routes set)
/// instead of waiting ~10-15 ms for the bridge and host-local plugins. Why it is safe:
/// - a slot is taken out of its queue under the manager's lock, and its endpoint recorded as the
///   container's in the same critical section: no two containers can get one namespace, and a
///   container only ever gets a namespace no process has joined yet;
/// - the ADD was made with the slot's id as CNI_CONTAINERID; the container's endpoint keeps that id
///   (EndpointRecord.CniContainerId), so its DEL releases the very allocation host-local made;
/// - slot records (StateDir/pool/SLOTID.json) are written before the ADD: a daemon crash leaves
///   records the next daemon's CleanupStale DELs (and pins it unmounts), never a leaked veth or IP.
/// Refills run on the thread pool, one per network at a time, never on a start's path. A network
/// whose slot ADD fails (plugin missing...) has its pool switched off until a normal attach on it
/// succeeds; starts then take the normal path, which reports the plugin's error as before.
/// </summary>
public sealed partial class NetworkManager
{
    sealed class Pool
    {
        public readonly Queue<PoolSlotRecord> Ready = new();
        /// <summary>The refill in progress (at most one per network).</summary>
        public Task? Refill;
        public bool Disabled;
        /// <summary>Starts that took a slot / found none ready, slots taken back from exited
        /// containers (reported when the pool is drained).</summary>
        public long Hits, Misses, Recycled;
    }

    readonly Dictionary<string, Pool> _pools = new();        // by network id
    readonly HashSet<string> _slotIds = new();               // every slot of this manager, ready or being made
    readonly List<PoolSlotRecord> _staleSlots;               // loaded at start: a previous daemon's, to DEL
    bool _poolsClosed;                                       // DrainPools ran: no more refills

    /// <summary>Where the manager reports what nobody waits for (pool refills, drains).</summary>
    public Action<string> Log { get; set; } = m => Console.Error.WriteLine("gockerd: network: " + m);

    string SlotPin(string slotId) => Path.Combine(_o.PoolDir, slotId + ".netns");

    /// <summary>Ready slots per network name (for tests and inspection).</summary>
    public IReadOnlyDictionary<string, int> PoolReady()
    {
        lock (_lock)
            return _pools.Where(p => _networks.ContainsKey(p.Key)).ToDictionary(p => _networks[p.Key].Name, p => p.Value.Ready.Count);
    }

    /// <summary>A network's pool: ready slots, a refill running, switched off after a failed ADD.</summary>
    public sealed record PoolStatus(int Ready, bool Refilling, bool Off);

    public PoolStatus? GetPoolStatus(string networkName)
    {
        lock (_lock)
            return _pools.FirstOrDefault(p => _networks.TryGetValue(p.Key, out var n) && n.Name == networkName).Value is { } pool
                ? new PoolStatus(pool.Ready.Count, pool.Refill is not null, pool.Disabled) : null;
    }

    public string? ClaimNetns(AttachRequest req)
    {
        if (_o.NetnsPool <= 0 || req.Ports.Count > 0 || req.Network is "none" or "host") return null;
        ValidateAttach(req);
        var id = req.ContainerId;
        lock (ContainerLock(id))
        {
            bool previous;
            lock (_lock) previous = _containers.ContainsKey(id);
            // A restart: the previous run's endpoint is released first (as Attach does).
            if (previous) DetachLocked(id);
            NetworkRecord net;
            PoolSlotRecord? slot = null;
            ContainerNetworkRecord? rec = null;
            var pin = PinPath(id);
            List<string>? aliases;
            lock (_lock)
            {
                net = Resolve(req.Network ?? "");
                aliases = CheckAliases(net, req.Names?.Aliases);
                if (!_pools.TryGetValue(net.Id, out var pool)) { }
                else if (pool.Disabled || !pool.Ready.TryDequeue(out slot)) pool.Misses++;
                else
                {
                    pool.Hits++;
                    // Taken and owned in one critical section: the slot is nobody else's from here.
                    rec = new ContainerNetworkRecord
                    {
                        ContainerId = id, Name = req.Name, Hostname = req.Hostname, NetnsPath = pin, EtcDir = req.EtcDir,
                        Endpoints = [slot.Endpoint with { Aliases = aliases }],
                        Names = req.Names,
                    };
                    _containers[id] = rec;
                }
            }
            KickRefill(net.Id);
            if (slot is null || rec is null) return null;
            var slotPin = SlotPin(slot.SlotId);
            try
            {
                // The container's record first (a crash from here on: CleanupStale DELs by it, and
                // by the slot's record, idempotently), then its pin holds the namespace.
                _store.Save(rec);
                NetnsPin.Move(slotPin, pin);
            }
            catch (Exception ex)
            {
                lock (_lock) _containers.Remove(id);
                try { _store.Delete(rec); } catch { /* CleanupStale */ }
                try { if (File.Exists(pin)) NetnsPin.Unpin(pin); } catch { /* CleanupStale */ }
                try { DropSlot(slot, net); } catch (Exception dex) { Log($"pool slot {slot.SlotId}: {dex.Message}"); }
                Log($"pool slot {slot.SlotId} could not be handed to {id[..Math.Min(12, id.Length)]} (normal attach instead): {ex.Message}");
                return null;
            }
            try { _store.Delete(slot); }
            catch (Exception ex) { Log($"pool slot {slot.SlotId}: release of its record: {ex.Message}"); }
            lock (_lock) _slotIds.Remove(slot.SlotId);
            try { WriteOwnFiles(rec); }
            catch
            {
                try { DetachLocked(id); } catch { /* the original error is the one to report */ }
                throw;
            }
            RefreshPeers(net.Id, id);
            return pin;
        }
    }

    void ValidateAttach(AttachRequest req)
    {
        if (req.Network is "none" or "host")
            throw new ArgumentException($"network mode {req.Network} has no attachment (the caller skips Attach)");
        if (string.IsNullOrEmpty(req.ContainerId) || req.ContainerId.Contains('/') || req.ContainerId.Contains(".."))
            throw new ArgumentException($"invalid container id \"{req.ContainerId}\"");
        if (!Directory.Exists(req.EtcDir)) throw new ArgumentException($"etc dir {req.EtcDir} does not exist");
    }

    /// <summary>Fills the default network's pool (daemon start, after CleanupStale).</summary>
    void StartPool()
    {
        NetworkRecord? def;
        lock (_lock) def = _networks.Values.FirstOrDefault(n => n.IsDefault);
        if (def is not null) KickRefill(def.Id);
    }

    /// <summary>A normal attach on the network worked: a pool switched off by a failed slot ADD
    /// (a plugin that was missing, say) is switched back on, and refilled.</summary>
    void PoolNetworkUsable(string networkId)
    {
        lock (_lock)
            if (_pools.TryGetValue(networkId, out var pool) && pool.Disabled)
            {
                pool.Disabled = false;
                Log($"pool of network {networkId[..12]} switched back on");
            }
        KickRefill(networkId);
    }

    /// <summary>Starts a refill of the network's pool unless one runs or it is full (or off).</summary>
    void KickRefill(string networkId)
    {
        if (_o.NetnsPool <= 0) return;
        lock (_lock)
        {
            if (_poolsClosed || !_networks.ContainsKey(networkId)) return;
            if (!_pools.TryGetValue(networkId, out var pool)) _pools[networkId] = pool = new Pool();
            if (pool.Disabled || pool.Refill is not null || pool.Ready.Count >= _o.NetnsPool) return;
            // Under the lock: the loop's first step takes it too, so it cannot clear Refill before this.
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            pool.Refill = done.Task;
            // A thread of its own at nice 19, inherited by the netns thread and the plugin processes
            // it starts: a refill runs alongside the start that claimed the slot (and the next ones),
            // and must take only the CPU they leave. Not the thread pool: nice is per thread.
            var t = new Thread(() =>
            {
                try
                {
                    _ = setpriority(PRIO_PROCESS, 0, 19); // best effort (Linux: the calling thread)
                    RefillLoop(networkId, pool);
                }
                catch (Exception ex)
                {
                    // Never let a refill take the daemon down (an exception on a thread of its own would).
                    lock (_lock)
                    {
                        pool.Disabled = true;
                        pool.Refill = null;
                    }
                    Log($"netns pool refill failed (pool switched off): {ex.Message}");
                }
                finally { done.SetResult(); }
            }, 256 * 1024) { IsBackground = true, Name = "gocker-netns-refill" };
            t.Start();
        }
    }

    const int PRIO_PROCESS = 0;

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    static extern int setpriority(int which, uint who, int prio);

    void RefillLoop(string networkId, Pool pool)
    {
        while (true)
        {
            NetworkRecord? net;
            PoolSlotRecord slot;
            lock (_lock)
            {
                if (!_networks.TryGetValue(networkId, out net) || pool.Disabled || pool.Ready.Count >= _o.NetnsPool)
                {
                    pool.Refill = null;
                    return;
                }
                var slotId = "pool-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));
                slot = new PoolSlotRecord
                {
                    SlotId = slotId, NetworkId = networkId, Endpoint = NewEndpoint(net, "eth0", []) with { CniContainerId = slotId },
                };
                _slotIds.Add(slotId);
            }
            PoolSlotRecord done;
            try { done = FillSlot(slot, net); }
            catch (Exception ex)
            {
                lock (_lock)
                {
                    pool.Disabled = true;
                    pool.Refill = null;
                }
                Log($"netns pool of network {net.Name} switched off (starts attach normally): {ex.Message}");
                return;
            }
            bool keep;
            lock (_lock)
            {
                // Network removed (or pool drained) meanwhile: this slot is dropped here, by its maker.
                // Full (slots taken back from exited containers meanwhile): dropped too, the pool stays bounded.
                keep = _networks.ContainsKey(networkId) && _pools.TryGetValue(networkId, out var p) && p == pool && !pool.Disabled
                    && pool.Ready.Count < _o.NetnsPool;
                if (keep) pool.Ready.Enqueue(done);
            }
            if (!keep)
            {
                try { DropSlot(done, net); } catch (Exception ex) { Log($"pool slot {done.SlotId}: {ex.Message}"); }
            }
        }
    }

    /// <summary>
    /// A container that took its namespace from the pool has exited: its namespace goes back to the
    /// pool as it is (same veth, IP and firewall rules, all made for the slot's CNI id) instead of a
    /// DEL now and a new namespace and ADD for the pool later — no plugin runs on either side, and
    /// `rm` does not wait for host-local's release and the veth's deletion. Why handing it to the
    /// next container is safe: every process of the exited container is gone (its PID namespace
    /// died with its init), so nothing of it is left in the namespace but kernel state no container
    /// can shape: it never has CAP_NET_ADMIN (Docker's default capabilities; no --cap-add or
    /// privileged mode), and /proc/sys is read-only in it, so its interfaces, addresses, routes and
    /// sysctls are still the ones the slot's ADD made (a container given CAP_NET_ADMIN or
    /// CAP_SYS_ADMIN, --privileged, or net.* sysctls is detached with mayRecycle false and never comes
    /// here). Only a plain pool endpoint qualifies (one
    /// endpoint, the slot's id, no published ports) and only while the pool has room; otherwise,
    /// or if a step fails, the normal DEL follows. False: not recycled, nothing changed (the caller
    /// DELs).
    /// </summary>
    bool TryRecycle(ContainerNetworkRecord rec)
    {
        if (rec.Endpoints is not [var ep] || ep.CniContainerId is not { } slotId || !slotId.StartsWith("pool-", StringComparison.Ordinal)
            || ep.Ports.Count > 0 || ep.IfName != "eth0" || string.IsNullOrEmpty(ep.Result)) return false;
        var pin = PinPath(rec.ContainerId);
        if (!NetnsPin.IsPinned(pin)) return false;
        Pool? pool;
        NetworkRecord? net;
        lock (_lock)
        {
            if (_poolsClosed || !_networks.TryGetValue(ep.NetworkId, out net) || !_pools.TryGetValue(ep.NetworkId, out pool)
                || pool.Disabled || pool.Ready.Count >= _o.NetnsPool || !_slotIds.Add(slotId)) return false;
        }
        var slot = new PoolSlotRecord { SlotId = slotId, NetworkId = ep.NetworkId, Endpoint = ep with { Aliases = null } };
        var slotPin = SlotPin(slotId);
        try
        {
            // The slot's record first: a crash from here on leaves it (and the container's record)
            // for CleanupStale, whose DELs by the same CNI id are idempotent.
            _store.Save(slot);
            NetnsPin.Move(pin, slotPin);
        }
        catch (Exception ex)
        {
            try
            {
                if (File.Exists(slotPin)) NetnsPin.Unpin(slotPin);
                _store.Delete(slot);
            }
            catch { /* CleanupStale */ }
            lock (_lock) _slotIds.Remove(slotId);
            Log($"pool slot {slotId} could not be taken back from {rec.ContainerId[..Math.Min(12, rec.ContainerId.Length)]} (DEL instead): {ex.Message}");
            return false;
        }
        // The namespace is the slot's now (its pin holds it): the container's record goes.
        lock (_lock)
        {
            _containers.Remove(rec.ContainerId);
            _store.Delete(rec);
        }
        bool keep;
        lock (_lock)
        {
            keep = !_poolsClosed && _pools.TryGetValue(ep.NetworkId, out var p) && p == pool && !pool.Disabled && pool.Ready.Count < _o.NetnsPool;
            if (keep)
            {
                pool.Ready.Enqueue(slot);
                pool.Recycled++;
            }
        }
        if (!keep)
        {
            try { DropSlot(slot, net); } catch (Exception ex) { Log($"pool slot {slot.SlotId}: {ex.Message}"); }
        }
        return true;
    }

    /// <summary>A new namespace, pinned, with the network's chain ADDed; recorded before the ADD.
    /// On failure nothing of it is left (or, if even the undo failed, a record for CleanupStale).</summary>
    PoolSlotRecord FillSlot(PoolSlotRecord slot, NetworkRecord net)
    {
        var pin = SlotPin(slot.SlotId);
        try
        {
            _store.Save(slot);
            NetnsFactory.Create(pin);
            var result = AddChain(net, slot.Endpoint, slot.SlotId, pin); // undoes itself on failure
            var done = slot with { Endpoint = Completed(slot.Endpoint, result) };
            _store.Save(done);
            return done;
        }
        catch
        {
            try
            {
                if (File.Exists(pin)) NetnsPin.Unpin(pin);
                _store.Delete(slot);
                lock (_lock) _slotIds.Remove(slot.SlotId);
            }
            catch { /* the record stays: CleanupStale */ }
            throw;
        }
    }

    /// <summary>DELs a slot and drops its namespace and record. As a container's detach: when the
    /// host veth is known, the pin goes first (nothing joined the namespace, so the kernel deletes
    /// the veth pair with it) and host-local's release runs meanwhile.</summary>
    void DropSlot(PoolSlotRecord slot, NetworkRecord? net)
    {
        var pin = SlotPin(slot.SlotId);
        var veths = net is null ? [] : Gocker.Network.Cni.CniResultDevices.HostVeths(slot.Endpoint.Result, net.Bridge);
        bool fast = veths.Count > 0 && veths.All(VethReaper.IsDeviceName);
        if (fast) NetnsPin.Unpin(pin);
        Exception? first = null;
        try { DelEndpoint(slot.Endpoint, slot.SlotId, pin, net); }
        catch (Exception ex) { first = ex; }
        if (fast)
        {
            try { VethReaper.AwaitGone(veths, VethReaper.KernelGrace); }
            catch (Exception ex) { first ??= ex; }
        }
        if (first is not null) throw first; // the record stays for the next CleanupStale
        if (File.Exists(pin)) NetnsPin.Unpin(pin);
        _store.Delete(slot);
        lock (_lock) _slotIds.Remove(slot.SlotId);
    }

    /// <summary>Graceful daemon stop (and tests): every pool is drained and no refill starts any
    /// more, so a stopped daemon leaves no veth or IP of its pools (a killed one leaves records
    /// that the next daemon's CleanupStale DELs).</summary>
    public void DrainPools()
    {
        List<NetworkRecord> nets;
        lock (_lock)
        {
            _poolsClosed = true;
            nets = _pools.Keys.Select(id => _networks.GetValueOrDefault(id)
                ?? new NetworkRecord { Id = id, Name = id, Bridge = "", Subnet = "0.0.0.0/32", Gateway = "" }).ToList();
        }
        foreach (var n in nets) DrainPool(n);
    }

    /// <summary>network rm: the pool's slots are DELed (after a refill in flight finished) before
    /// the bridge goes. A slot whose DEL fails keeps its record for the next CleanupStale.</summary>
    void DrainPool(NetworkRecord n)
    {
        Task? refill;
        List<PoolSlotRecord> ready;
        lock (_lock)
        {
            if (!_pools.Remove(n.Id, out var pool)) return;
            pool.Disabled = true;
            if (pool.Hits + pool.Misses > 0)
                Log($"netns pool of network {n.Name}: {pool.Hits} starts took a ready netns, {pool.Misses} found none, {pool.Recycled} taken back from exited containers");
            ready = [.. pool.Ready];
            pool.Ready.Clear();
            refill = pool.Refill;
        }
        try { refill?.Wait(); } catch { /* it logs its own failures */ }
        foreach (var slot in ready)
        {
            try { DropSlot(slot, n); }
            catch (Exception ex) { Log($"network {n.Name}: pool slot {slot.SlotId}: {ex.Message}"); }
        }
    }

    /// <summary>Daemon start: the slots a previous daemon left (its pool, or a crash mid-refill)
    /// are DELed, and stray pins or records in the pool dir dropped.</summary>
    void CleanupStaleSlots(List<string> errors)
    {
        List<PoolSlotRecord> stale;
        lock (_lock)
        {
            stale = [.. _staleSlots];
            _staleSlots.Clear();
        }
        var failed = new HashSet<string>();
        foreach (var slot in stale)
        {
            NetworkRecord? net;
            lock (_lock) net = _networks.GetValueOrDefault(slot.NetworkId);
            try { DropSlot(slot, net); }
            catch (Exception ex)
            {
                failed.Add(slot.SlotId); // record and pin stay: the next start tries again
                errors.Add($"pool slot {slot.SlotId}: {ex.Message}");
            }
        }
        foreach (var f in Directory.EnumerateFiles(_o.PoolDir))
        {
            var name = Path.GetFileName(f);
            var slotId = name.Split('.')[0];
            if (name.StartsWith('.') && name.EndsWith(".tmp", StringComparison.Ordinal)) { TryDelete(f); continue; }
            if (failed.Contains(slotId) || IsLiveSlot(slotId)) continue;
            try
            {
                if (name.EndsWith(".netns", StringComparison.Ordinal)) NetnsPin.Unpin(f);
                else File.Delete(f);
            }
            catch (Exception ex) { errors.Add($"{f}: {ex.Message}"); }
        }
    }

    static void TryDelete(string f)
    {
        try { File.Delete(f); } catch (IOException) { }
    }

    bool IsLiveSlot(string cniId)
    {
        lock (_lock) return _slotIds.Contains(cniId);
    }
}
