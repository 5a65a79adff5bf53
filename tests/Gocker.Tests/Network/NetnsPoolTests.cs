using System.Text.Json;
using Gocker.Network;

namespace Gocker.Tests.Network;

/// <summary>The netns pool on the real kernel and CNI plugins, through NetworkManager: a claim
/// hands out a pre-attached namespace whose eth0 has the slot's IP, detach DELs it by the slot's
/// CNI id, the pool refills, a "crash" with a full pool leaks nothing after CleanupStale, network
/// rm drains, and a pool whose ADD fails switches itself off.</summary>
[Trait("Needs", "root")]
public class NetnsPoolTests
{
    static List<(string Id, string NetworkId, string Ip)> Slots(TestNetworks t)
    {
        var list = new List<(string, string, string)>();
        foreach (var f in Directory.GetFiles(Path.Combine(t.StateDir, "pool"), "*.json"))
        {
            var r = JsonDocument.Parse(File.ReadAllText(f)).RootElement;
            var addr = r.GetProperty("Endpoint").TryGetProperty("Address", out var a) ? a.GetString() ?? "" : "";
            list.Add((r.GetProperty("SlotId").GetString()!, r.GetProperty("NetworkId").GetString()!, addr.Split('/')[0]));
        }
        return list;
    }

    /// <summary>IP allocation files of host-local: (ip, owner = CNI_CONTAINERID).</summary>
    static List<(string Ip, string Owner)> Allocations(TestNetworks t) =>
        Directory.GetFiles(Path.Combine(t.StateDir, "ipam"), "*", SearchOption.AllDirectories)
            .Where(f => Path.GetFileName(f).Count(c => c == '.') == 3 && System.Net.IPAddress.TryParse(Path.GetFileName(f), out _))
            .Select(f => (Path.GetFileName(f), File.ReadAllText(f).Split('\n')[0].Trim())).ToList();

    static List<string> Members(string bridge) =>
        Directory.Exists($"/sys/class/net/{bridge}/brif")
            ? Directory.GetFileSystemEntries($"/sys/class/net/{bridge}/brif").Select(p => Path.GetFileName(p)!).ToList()
            : [];

    static void WaitReady(NetworkManager m, string network, int count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!(m.PoolReady().TryGetValue(network, out var n) && n >= count))
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"pool of {network} did not reach {count}");
            Thread.Sleep(20);
        }
    }

    static AttachRequest Request(TestNetworks t, string id, string? network = null) =>
        new(id, "c" + id[..6], "h" + id[..6], "", network, [], t.EtcDir(id));

    [Fact]
    public void Claim_hands_out_a_preattached_netns_and_detach_releases_the_slots_ip()
    {
        using var t = new TestNetworks(netnsPool: 2);
        var m = t.Manager;
        m.CleanupStale(new HashSet<string>()); // the daemon's start: the default network's pool fills
        WaitReady(m, "bridge", 2);
        var before = Slots(t);
        Assert.Equal(2, before.Count);
        Assert.Equal(2, Members(t.Bridge).Count);

        var id = TestNetworks.NewId();
        var pin = m.ClaimNetns(Request(t, id));
        Assert.NotNull(pin);
        var ep = m.Get(id)!.Primary!;
        var slot = Assert.Single(before, s => s.Ip == ep.Ip);
        // The namespace behind the container's pin is the slot's: eth0 with the slot's address.
        var inside = Sh.Ok("nsenter", "--net=" + pin, "ip", "-4", "-o", "addr", "show", "eth0");
        Assert.Contains("inet " + ep.Ip + "/", inside);
        Assert.Contains(ep.Ip, File.ReadAllText(Path.Combine(t.EtcDir(id), "hosts")));
        // The slot is no longer in the pool (record and pin gone); the IP is still the slot id's.
        Assert.DoesNotContain(Slots(t), s => s.Id == slot.Id);
        Assert.False(File.Exists(Path.Combine(t.StateDir, "pool", slot.Id + ".netns")));
        Assert.Contains(Allocations(t), a => a.Ip == ep.Ip && a.Owner == slot.Id);
        // A second claim never gets the same namespace.
        var id2 = TestNetworks.NewId();
        var pin2 = m.ClaimNetns(Request(t, id2));
        if (pin2 is not null) Assert.NotEqual(ep.Ip, m.Get(id2)!.Primary!.Ip);

        // Refilled in the background.
        WaitReady(m, "bridge", 2);

        m.Detach(id, containerGone: true);
        if (pin2 is not null) m.Detach(id2, containerGone: true);
        Assert.DoesNotContain(Allocations(t), a => a.Ip == ep.Ip);
        Assert.False(File.Exists(pin));
        Assert.Empty(Directory.GetFiles(Path.Combine(t.StateDir, "netns")));
        Assert.Equal(2, Members(t.Bridge).Count); // the pool's two, nothing of the containers

        m.DrainPools();
        Assert.Empty(Members(t.Bridge));
        Assert.Empty(Allocations(t));
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(t.StateDir, "pool")));
        Assert.Null(m.ClaimNetns(Request(t, TestNetworks.NewId()))); // drained for good
    }

    /// <summary>A CNI dir whose plugins are the real ones, except that an ADD waits while the gate
    /// file exists: the test holds the pool's refill back without racing it.</summary>
    sealed class GatedCni : IDisposable
    {
        public string Dir { get; } = Directory.CreateTempSubdirectory("gocker-gatedcni-").FullName;
        public string Gate => Path.Combine(Dir, "gate");

        public GatedCni()
        {
            foreach (var plugin in Directory.GetFiles("/usr/lib/cni"))
            {
                var wrapper = Path.Combine(Dir, Path.GetFileName(plugin));
                File.WriteAllText(wrapper,
                    $"#!/bin/sh\nif [ \"$CNI_COMMAND\" = ADD ]; then while [ -e '{Gate}' ]; do sleep 0.01; done; fi\nexec '{plugin}' \"$@\"\n");
                File.SetUnixFileMode(wrapper, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
        }

        public void Close() => File.WriteAllText(Gate, "");
        public void Open() => File.Delete(Gate);
        public void Dispose()
        {
            Open();
            Directory.Delete(Dir, true);
        }
    }

    [Fact]
    public void An_exited_containers_pooled_netns_goes_back_to_the_pool_and_serves_the_next_claim()
    {
        using var cni = new GatedCni();
        using var t = new TestNetworks(netnsPool: 2, cniPath: cni.Dir);
        try { Recycles(t, cni); }
        finally { cni.Open(); } // before t's Dispose, which waits for the refill
    }

    static void Recycles(TestNetworks t, GatedCni cni)
    {
        var m = t.Manager;
        m.CleanupStale(new HashSet<string>());
        WaitReady(m, "bridge", 2);
        var full = Slots(t);
        cni.Close(); // the refill started by the claims below waits in its ADD

        var a = TestNetworks.NewId();
        var b = TestNetworks.NewId();
        Assert.NotNull(m.ClaimNetns(Request(t, a)));
        Assert.NotNull(m.ClaimNetns(Request(t, b)));
        var aIp = m.Get(a)!.Primary!.Ip;
        var aSlot = Assert.Single(full, s => s.Ip == aIp);
        var veths = Members(t.Bridge);

        // a exits: its namespace returns as the slot it was, nothing DELed (veth, IP owner, rules stay).
        m.Detach(a, containerGone: true);
        Assert.Null(m.Get(a));
        Assert.False(File.Exists(Path.Combine(t.StateDir, "netns", a)), "container pin left");
        Assert.False(File.Exists(Path.Combine(t.StateDir, "endpoints", a + ".json")), "container record left");
        Assert.Contains(Slots(t), s => s.Id == aSlot.Id && s.Ip == aIp);
        Assert.True(File.Exists(Path.Combine(t.StateDir, "pool", aSlot.Id + ".netns")), "slot pin missing");
        Assert.Contains(Allocations(t), x => x.Ip == aIp && x.Owner == aSlot.Id);
        Assert.True(veths.Order().SequenceEqual(Members(t.Bridge).Order()), "bridge members changed: " + string.Join(", ", Members(t.Bridge)));
        Assert.Equal(1, m.PoolReady()["bridge"]);

        // The next claim gets it: eth0 up with the same address, a default route, the peer reachable.
        var c = TestNetworks.NewId();
        var pin = m.ClaimNetns(Request(t, c));
        Assert.NotNull(pin);
        Assert.Equal(aIp, m.Get(c)!.Primary!.Ip);
        Assert.Contains("inet " + aIp + "/", Sh.Ok("nsenter", "--net=" + pin, "ip", "-4", "-o", "addr", "show", "eth0"));
        Assert.Contains("default", Sh.Ok("nsenter", "--net=" + pin, "ip", "route"));
        var bIp = m.Get(b)!.Primary!.Ip;
        Assert.Equal(0, Sh.Run("nsenter", "--net=" + pin, "busybox", "ping", "-c", "1", "-W", "2", bIp).Code);

        // Not recycled when the pool is full: the normal DEL (IP released, veth gone).
        cni.Open();
        WaitReady(m, "bridge", 2);
        m.Detach(b, containerGone: true);
        Assert.DoesNotContain(Allocations(t), x => x.Ip == bIp);
        m.Detach(c, containerGone: true);
        m.DrainPools();
        Assert.Empty(Members(t.Bridge));
        Assert.Empty(Allocations(t));
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(t.StateDir, "pool")));
        Assert.Empty(Directory.GetFiles(Path.Combine(t.StateDir, "netns")));
    }

    [Fact]
    public void A_crash_with_a_full_pool_leaks_nothing_after_CleanupStale()
    {
        using var t = new TestNetworks(netnsPool: 2);
        t.Manager.CleanupStale(new HashSet<string>());
        WaitReady(t.Manager, "bridge", 2);
        // A claimed container that dies with the daemon, too.
        var id = TestNetworks.NewId();
        Assert.NotNull(t.Manager.ClaimNetns(Request(t, id)));
        WaitReady(t.Manager, "bridge", 2);
        var oldVeths = Members(t.Bridge);
        Assert.Equal(3, oldVeths.Count);

        // "kill -9": a new manager over the same state (the old one's pins still hold its namespaces).
        var m = t.Reopen();
        m.CleanupStale(new HashSet<string>());
        Assert.All(oldVeths, v => Assert.False(Directory.Exists("/sys/class/net/" + v), $"{v} left"));
        WaitReady(m, "bridge", 2);
        var slots = Slots(t);
        Assert.Equal(2, slots.Count);
        Assert.True(Allocations(t).Select(a => a.Owner).Order().SequenceEqual(slots.Select(s => s.Id).Order()),
            "allocations: " + string.Join(", ", Allocations(t)));
        Assert.Empty(Directory.GetFiles(Path.Combine(t.StateDir, "netns")));
        Assert.Empty(Directory.GetFiles(Path.Combine(t.StateDir, "endpoints")));
    }

    [Fact]
    public void Network_rm_drains_the_pool_of_that_network()
    {
        using var t = new TestNetworks(netnsPool: 2);
        var n = t.CreateUserNetwork("pn" + Guid.NewGuid().ToString("N")[..8]);
        // A claim on a network without ready slots answers none and starts its pool.
        var id = TestNetworks.NewId();
        Assert.Null(t.Manager.ClaimNetns(Request(t, id, n.Name)));
        WaitReady(t.Manager, n.Name, 2);
        Assert.Equal(2, Members(n.Bridge).Count);
        t.Manager.Remove(n.Name);
        Assert.DoesNotContain(Slots(t), s => s.NetworkId == n.Id);
        Assert.False(Directory.Exists("/sys/class/net/" + n.Bridge));
        Assert.DoesNotContain(Allocations(t), a => true);
    }

    [Fact]
    public void A_pool_whose_ADD_fails_switches_off_and_starts_fall_back_to_the_normal_path()
    {
        var empty = Directory.CreateTempSubdirectory("gocker-nocni-").FullName;
        try
        {
            using var t = new TestNetworks(netnsPool: 2, cniPath: empty);
            t.Manager.CleanupStale(new HashSet<string>());
            var id = TestNetworks.NewId();
            // Once the failing refill has run: the pool is off, and no slot, pin or record is left.
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (t.Manager.GetPoolStatus("bridge") is not { Off: true, Refilling: false })
            {
                Assert.True(DateTime.UtcNow < deadline, $"pool not switched off: {t.Manager.GetPoolStatus("bridge")}");
                Thread.Sleep(20);
            }
            Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(t.StateDir, "pool")));
            Assert.Null(t.Manager.ClaimNetns(Request(t, id)));
            Assert.Empty(Members(t.Bridge));
            // The normal path reports the plugin's error, as without a pool.
            using var ns = new TestNetns();
            var ex = Assert.ThrowsAny<Exception>(() => t.Manager.Attach(Request(t, id) with { NetnsPath = ns.Path }));
            Assert.Contains("plugin not found", ex.Message);
        }
        finally { Directory.Delete(empty, true); }
    }
}
