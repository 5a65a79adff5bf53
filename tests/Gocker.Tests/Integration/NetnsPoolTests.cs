using System.Text.Json;

namespace Gocker.Tests.Integration;

/// <summary>A daemon with a netns pool (gockerd --netns-pool 2): containers without published
/// ports start in a pre-attached namespace (its IP, its veth), the pool refills, removal and
/// `network rm` release everything, and the class's leak check (AssertNoLeaks) accounts for
/// exactly the pool's slots.</summary>
[Trait("Needs", "root")]
public sealed class NetnsPoolDaemon() : IDisposable
{
    public DaemonFixture D { get; } = new(null, netnsPool: 2);
    public void Dispose() => D.Dispose();
}

[Trait("Needs", "root")]
public sealed class NetnsPoolTests(NetnsPoolDaemon fixture) : IClassFixture<NetnsPoolDaemon>, IDisposable
{
    readonly DaemonFixture _d = fixture.D;

    public void Dispose() => _d.AssertNoLeaks();

    string Ok(params string[] args)
    {
        var r = _d.Gocker(args);
        Assert.True(r.ExitCode == 0, $"gocker {string.Join(' ', args)}: {r}\n{_d.DaemonLog}");
        return r.Stdout.Trim();
    }

    static string Unique(string prefix) => prefix + Guid.NewGuid().ToString("N")[..8];

    string NetworkId(string name) => JsonDocument.Parse(Ok("network", "inspect", name)).RootElement[0].GetProperty("Id").GetString()!;

    [Fact]
    public void A_pooled_container_has_the_slots_ip_reaches_a_peer_by_name_and_the_pool_refills()
    {
        var net = Unique("pnet");
        Ok("network", "create", net);
        var netId = NetworkId(net);
        var web = Unique("web");
        var client = Unique("cli");
        try
        {
            var www = Directory.CreateDirectory(Path.Combine(_d.Root, "www-" + web)).FullName;
            File.WriteAllText(Path.Combine(www, "index.html"), "pooled-hello");
            // The first start on a new network attaches normally; the network's pool fills after it.
            Ok("run", "-d", "--name", web, "-v", www + ":/www:ro", "--network", net, "busybox", "httpd", "-f", "-p", "80", "-h", "/www");
            var slots = TestPoolSlots.WaitFull(_d.NetworkState, 2, netId);
            var slotIps = slots.Select(s => s.Ip).ToHashSet();

            Ok("run", "-d", "--name", client, "--network", net, "busybox", "sh", "-c",
                $"ip -4 -o addr show eth0; for i in 1 2 3 4 5 6 7 8 9 10; do timeout 5 wget -q -O - http://{web}/ && break; sleep 0.3; done; echo; echo done; sleep 1000");
            var output = "";
            for (var deadline = DateTime.UtcNow.AddSeconds(60); !output.Contains("done\n") && DateTime.UtcNow < deadline; Thread.Sleep(100))
                output = Ok("logs", client);
            var ip = System.Text.RegularExpressions.Regex.Match(output, @"inet (\d+\.\d+\.\d+\.\d+)/").Groups[1].Value;
            Assert.True(slotIps.Contains(ip), $"eth0 has {ip}, the pool's slots had {string.Join(", ", slotIps)}:\n{output}");
            Assert.Contains("pooled-hello", output);
            // Its endpoint is the container's now: inspect shows the slot's address.
            var inspected = JsonDocument.Parse(Ok("inspect", client)).RootElement[0].GetProperty("NetworkSettings").GetProperty("Networks").GetProperty(net).GetProperty("IPAddress").GetString();
            Assert.Equal(ip, inspected);
            // The slot left the pool, and the pool is full again with a new slot.
            var refilled = TestPoolSlots.WaitFull(_d.NetworkState, 2, netId);
            Assert.DoesNotContain(refilled, s => s.Ip == ip);

            // rm releases the taken slot's endpoint by the slot's CNI id: IP file, veth and pin gone.
            var takenVeths = slots.Where(s => s.Ip == ip).SelectMany(s => s.HostVeths).ToList();
            Assert.Single(takenVeths);
            var clientId = JsonDocument.Parse(Ok("inspect", client)).RootElement[0].GetProperty("Id").GetString()!;
            var pin = Path.Combine(_d.NetworkState, "netns", clientId);
            Assert.True(File.Exists(pin), $"no pin {pin} while it runs");
            Ok("rm", "-f", client);
            Assert.False(File.Exists(pin), $"pin {pin} left");
            Assert.DoesNotContain(TestPoolSlots.IpAllocations(_d.NetworkState), a => a.Ip == ip);
            Assert.All(takenVeths, v => Assert.False(Directory.Exists("/sys/class/net/" + v), $"{v} left"));
        }
        finally
        {
            _d.Gocker("rm", "-f", client);
            _d.Gocker("rm", "-f", web);
        }
        // network rm drains the network's pool: no slot record, veth, IP or bridge of it is left.
        var bridge = JsonDocument.Parse(Ok("network", "inspect", net)).RootElement[0].GetProperty("GockerBridge").GetString()!;
        var before = TestPoolSlots.Read(_d.NetworkState).Where(s => s.NetworkId == netId).ToList();
        Assert.NotEmpty(before);
        Ok("network", "rm", net);
        Assert.DoesNotContain(TestPoolSlots.Read(_d.NetworkState), s => s.NetworkId == netId);
        Assert.All(before.SelectMany(s => s.HostVeths), v => Assert.False(Directory.Exists("/sys/class/net/" + v), $"{v} left"));
        Assert.All(before, s => Assert.False(File.Exists(s.Pin), $"{s.Pin} left"));
        Assert.False(Directory.Exists("/sys/class/net/" + bridge), $"bridge {bridge} left");
    }

    [Fact]
    public void Run_rm_on_the_default_bridge_takes_slots_and_leaves_only_the_pool()
    {
        TestPoolSlots.WaitFull(_d.NetworkState, 2, null);
        for (int i = 0; i < 6; i++)
        {
            var r = _d.Gocker("run", "--rm", "busybox", "sh", "-c", "ip -4 -o addr show eth0 | grep -q inet && ip route | grep -q default");
            Assert.True(r.ExitCode == 0, r + "\n" + _d.DaemonLog);
        }
        // A container with published ports takes the normal path (and works).
        var p = _d.Gocker("run", "--rm", "-p", "127.0.0.1::80", "busybox", "sh", "-c", "ip -4 -o addr show eth0 | grep -q inet");
        Assert.True(p.ExitCode == 0, p.ToString());
        // The leak check (Dispose) then allows exactly the pool's settled slots.
    }
}

/// <summary>kill -9 of a daemon with a full pool, then a restart: the old slots are DELed (no
/// veth, IP, pin or record of them left) and the new daemon fills its own pool.</summary>
[Trait("Needs", "root")]
public sealed class NetnsPoolRestartTests : IDisposable
{
    readonly LifecycleDaemon _d = new(netnsPool: 2);
    string NetworkState => Path.Combine(_d.DataRoot, "network");

    public void Dispose() => _d.Dispose();

    [Fact]
    public void Kill9_with_a_full_pool_and_restart_leaks_nothing()
    {
        var old = TestPoolSlots.WaitFull(NetworkState, 2);
        Assert.Equal(2, old.Count);
        Assert.All(old, s => Assert.True(s.HostVeths.Count == 1 && Directory.Exists("/sys/class/net/" + s.HostVeths[0])));
        _d.Kill9();
        _d.Start();
        var fresh = TestPoolSlots.WaitFull(NetworkState, 2);
        var settled = TestPoolSlots.Settled(NetworkState);
        Assert.Equal(2, settled.Count);
        Assert.Empty(settled.Select(s => s.Id).Intersect(old.Select(s => s.Id)));
        Assert.All(old.SelectMany(s => s.HostVeths), v => Assert.False(Directory.Exists("/sys/class/net/" + v), $"old slot veth {v} left"));
        Assert.All(old, s => Assert.False(File.Exists(s.Pin), $"old pin {s.Pin} left"));
        var owners = TestPoolSlots.IpAllocations(NetworkState).Select(a => a.Owner).ToList();
        Assert.True(owners.Order().SequenceEqual(settled.Select(s => s.Id).Order()), "IP allocations: " + string.Join(", ", owners));
        var members = TestNetworkSlot.BridgeMembers(_d.Net.Bridge);
        Assert.True(members.Order().SequenceEqual(settled.SelectMany(s => s.HostVeths).Order()), "bridge members: " + string.Join(", ", members));
        var mounts = File.ReadAllLines("/proc/self/mountinfo").Where(l => l.Contains(_d.Root)).ToList();
        Assert.Equal(2, mounts.Count);

        // A graceful stop drains the pool: nothing of it is left.
        _d.Stop();
        Assert.Empty(TestPoolSlots.Read(NetworkState));
        Assert.Empty(TestPoolSlots.IpAllocations(NetworkState));
        Assert.Empty(TestNetworkSlot.BridgeMembers(_d.Net.Bridge));
        Assert.DoesNotContain(File.ReadAllLines("/proc/self/mountinfo"), l => l.Contains(_d.Root));
    }
}
