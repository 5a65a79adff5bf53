using Gocker.Network;
using Gocker.Network.Cni;

namespace Gocker.Tests.Network;

/// <summary>Real network namespaces attached through the real CNI plugins; traffic stays on this
/// machine (container addresses, loopback, a test netns acting as a remote host).</summary>
[Trait("Needs", "root")]
public class AttachTests
{
    static AttachRequest Req(TestNetworks t, TestNetns ns, string name, string? network = null, params PortMapping[] ports)
    {
        var id = TestNetworks.NewId();
        return new AttachRequest(id, name, id[..12], ns.Path, network, ports, t.EtcDir(id));
    }

    [Fact]
    public void Two_containers_on_a_user_network_reach_each_other_by_ip_and_by_name()
    {
        using var t = new TestNetworks();
        var net = t.CreateUserNetwork("n" + Guid.NewGuid().ToString("N")[..8]);
        using var a = new TestNetns();
        using var b = new TestNetns();
        var aa = t.Manager.Attach(Req(t, a, "alpha", net.Name));
        var ba = t.Manager.Attach(Req(t, b, "beta", net.Name));

        Assert.True(Ipv4Cidr.Parse(net.Subnet).IsHostAddress(Ipv4Cidr.ParseAddress(aa.Primary!.Ip)));
        Assert.NotEqual(aa.Primary.Ip, ba.Primary!.Ip);
        Assert.Equal(net.Gateway, aa.Primary.Gateway);
        Assert.Contains(aa.Primary.Cidr, a.Exec("ip", "-4", "addr", "show", "eth0").Out);

        var r = a.Exec("/bin/busybox", "ping", "-c", "1", "-W", "5", ba.Primary.Ip);
        Assert.True(r.Code == 0, r.Out + r.Err);

        var www = Directory.CreateTempSubdirectory("gocker-www-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(www, "index.html"), "hello-from-beta");
            b.StartHttpd(www, 8080);
            var get = a.Exec("timeout", "10", "/bin/busybox", "wget", "-q", "-O", "-", $"http://{ba.Primary.Ip}:8080/index.html");
            Assert.True(get.Code == 0, get.Err);
            Assert.Equal("hello-from-beta", get.Out);
        }
        finally { Directory.Delete(www, true); }

        // Name resolution by hosts entries, both ways (alpha's file was rewritten when beta joined).
        var aHosts = File.ReadAllText(aa.HostsPath);
        var bHosts = File.ReadAllText(ba.HostsPath);
        Assert.Matches($@"(?m)^{ba.Primary.Ip.Replace(".", "\\.")}\tbeta\b", aHosts);
        Assert.Matches($@"(?m)^{aa.Primary.Ip.Replace(".", "\\.")}\talpha\b", bHosts);
        Assert.Contains("127.0.0.1\tlocalhost", aHosts);
        Assert.Equal(aa.ContainerId[..12] + "\n", File.ReadAllText(aa.HostnamePath));

        t.Manager.Detach(ba.ContainerId);
        Assert.DoesNotContain("beta", File.ReadAllText(aa.HostsPath));
        t.Manager.Detach(aa.ContainerId);
    }

    [Fact]
    public void Default_bridge_does_not_list_other_containers_in_hosts()
    {
        using var t = new TestNetworks();
        using var a = new TestNetns();
        using var b = new TestNetns();
        var aa = t.Manager.Attach(Req(t, a, "one"));
        var ba = t.Manager.Attach(Req(t, b, "two"));
        Assert.Equal("bridge", aa.Primary!.NetworkName);
        Assert.DoesNotContain("two", File.ReadAllText(aa.HostsPath));
        Assert.Contains($"{ba.Primary!.Ip}\t{ba.ContainerId[..12]} two", File.ReadAllText(ba.HostsPath));
        // Still reachable by IP on the default network.
        Assert.Equal(0, a.Exec("/bin/busybox", "ping", "-c", "1", "-W", "5", ba.Primary.Ip).Code);
    }

    [Fact]
    public void Published_port_is_reachable_from_127_0_0_1_and_from_a_remote_host()
    {
        using var t = new TestNetworks();
        using var c = new TestNetns();
        int hostPort = Random.Shared.Next(20000, 40000);
        var att = t.Manager.Attach(Req(t, c, "web", null, PortMapping.Parse($"{hostPort}:80")));
        var www = Directory.CreateTempSubdirectory("gocker-www-").FullName;
        using var remote = new RemoteHost();
        try
        {
            File.WriteAllText(Path.Combine(www, "index.html"), "published");
            c.StartHttpd(www, 80);

            var local = Sh.Run("timeout", "10", "/bin/busybox", "wget", "-q", "-O", "-", $"http://127.0.0.1:{hostPort}/index.html");
            Assert.True(local.Code == 0, "127.0.0.1: " + local.Err);
            Assert.Equal("published", local.Out);

            var far = remote.Netns.Exec("timeout", "10", "/bin/busybox", "wget", "-q", "-O", "-", $"http://{remote.HostAddress}:{hostPort}/index.html");
            Assert.True(far.Code == 0, "remote: " + far.Err);
            Assert.Equal("published", far.Out);
        }
        finally { Directory.Delete(www, true); }

        t.Manager.Detach(att.ContainerId);
        Assert.DoesNotContain(att.ContainerId, Sh.Ruleset());
        Assert.DoesNotContain($"dport {hostPort}", Sh.Ruleset());
        Assert.DoesNotContain($"--dport {hostPort}", Sh.Ruleset());
    }

    [Fact]
    public void Containers_reach_out_through_one_nat_rule_per_network_removed_with_the_network()
    {
        using var t = new TestNetworks();
        using var c = new TestNetns();
        using var remote = new RemoteHost();
        var net = t.CreateUserNetwork("out" + Guid.NewGuid().ToString("N")[..6]);
        var www = Directory.CreateTempSubdirectory("gocker-www-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(www, "index.html"), "outside");
            remote.Netns.StartHttpd(www, 80);
            var att = t.Manager.Attach(Req(t, c, "client", net.Name));
            // The remote host has no route back to the container's subnet: only the source NAT to
            // the host's address makes this answer come back.
            var r = c.Exec("timeout", "10", "/bin/busybox", "wget", "-q", "-O", "-", $"http://{remote.RemoteAddress}/index.html");
            Assert.True(r.Code == 0, "egress: " + r.Err);
            Assert.Equal("outside", r.Out);
            var comment = NetworkRules.Comment(net);
            Assert.Single(Sh.Run("iptables-save", "-t", "nat").Out.Split('\n'), l => l.Contains(comment));
            t.Manager.Detach(att.ContainerId);
            // Still there for the next container of the network; gone with the network.
            Assert.Contains(comment, Sh.Run("iptables-save", "-t", "nat").Out);
            t.Manager.Remove(net.Id);
            Assert.DoesNotContain(comment, Sh.Run("iptables-save", "-t", "nat").Out);
        }
        finally { Directory.Delete(www, true); }
    }

    [Fact]
    public void Networks_are_isolated_from_each_other_until_rm_removes_their_rules()
    {
        using var t = new TestNetworks();
        using var a = new TestNetns();
        using var b = new TestNetns();
        var n1 = t.CreateUserNetwork("iso1" + Guid.NewGuid().ToString("N")[..6]);
        var n2 = t.CreateUserNetwork("iso2" + Guid.NewGuid().ToString("N")[..6]);
        var aa = t.Manager.Attach(Req(t, a, "one", n1.Name));
        var ba = t.Manager.Attach(Req(t, b, "two", n2.Name));
        // Each reaches its own gateway, never the other network's container.
        Assert.Equal(0, a.Exec("/bin/busybox", "ping", "-c", "1", "-W", "5", aa.Primary!.Gateway).Code);
        Assert.Equal(0, b.Exec("/bin/busybox", "ping", "-c", "1", "-W", "5", ba.Primary!.Gateway).Code);
        Assert.NotEqual(0, a.Exec("/bin/busybox", "ping", "-c", "1", "-W", "2", ba.Primary.Ip).Code);
        t.Manager.Detach(aa.ContainerId);
        t.Manager.Detach(ba.ContainerId);
        t.Manager.Remove(n1.Id);
        t.Manager.Remove(n2.Id);
        var filter = Sh.Run("iptables-save", "-t", "filter").Out;
        Assert.DoesNotContain(n1.Bridge, filter);
        Assert.DoesNotContain(n2.Bridge, filter);
    }

    [Fact]
    public void Published_port_bound_to_127_0_0_1_only()
    {
        using var t = new TestNetworks();
        using var c = new TestNetns();
        int hostPort = Random.Shared.Next(20000, 40000);
        t.Manager.Attach(Req(t, c, "web", null, PortMapping.Parse($"127.0.0.1:{hostPort}:80/tcp")));
        var www = Directory.CreateTempSubdirectory("gocker-www-").FullName;
        using var remote = new RemoteHost();
        try
        {
            File.WriteAllText(Path.Combine(www, "index.html"), "lo-only");
            c.StartHttpd(www, 80);
            Assert.Equal("lo-only", Sh.Run("timeout", "10", "/bin/busybox", "wget", "-q", "-O", "-", $"http://127.0.0.1:{hostPort}/index.html").Out);
            var far = remote.Netns.Exec("timeout", "3", "/bin/busybox", "wget", "-q", "-O", "-", $"http://{remote.HostAddress}:{hostPort}/index.html");
            Assert.NotEqual(0, far.Code);
        }
        finally { Directory.Delete(www, true); }
    }

    [Fact]
    public void A_plugin_failure_fails_the_attach_cleanly_with_the_plugins_message()
    {
        using var t = new TestNetworks();
        // A non-bridge device squatting the bridge's name makes the bridge plugin fail.
        Sh.Ok("ip", "link", "add", t.Bridge, "type", "veth", "peer", "name", t.Bridge + "p");
        try
        {
            using var c = new TestNetns();
            var req = Req(t, c, "doomed");
            var ex = Assert.Throws<CniException>(() => t.Manager.Attach(req));
            Assert.Contains(t.Bridge, ex.Message);
            Assert.Null(t.Manager.Get(req.ContainerId));
            Assert.DoesNotContain(req.ContainerId, Sh.Ruleset());
            Assert.Empty(IpamAllocations(t));
            Assert.DoesNotContain("eth0", c.Exec("ip", "-br", "link").Out);
            Assert.Empty(Directory.GetFiles(Path.Combine(t.StateDir, "netns")));
            Assert.Empty(Directory.GetFiles(Path.Combine(t.StateDir, "endpoints")));
        }
        finally { Sh.Run("ip", "link", "del", t.Bridge); }
    }

    [Fact]
    public void Detach_after_a_daemon_restart_and_after_the_netns_is_gone_releases_everything()
    {
        using var t = new TestNetworks();
        string id;
        string veth;
        using (var c = new TestNetns())
        {
            var att = t.Manager.Attach(Req(t, c, "survivor", null, PortMapping.Parse($"{Random.Shared.Next(20000, 40000)}:80")));
            id = att.ContainerId;
            veth = Assert.Single(Directory.GetFileSystemEntries($"/sys/class/net/{t.Bridge}/brif"));
        }
        // The test netns is deleted, as a container's would be when it exits; the pin keeps it.
        var m2 = t.Reopen();
        Assert.NotNull(m2.Get(id));
        m2.Detach(id);
        m2.Detach(id); // idempotent
        Assert.Null(m2.Get(id));
        Assert.Empty(Directory.GetFileSystemEntries($"/sys/class/net/{t.Bridge}/brif"));
        Assert.DoesNotContain(id, Sh.Ruleset());
        Assert.Empty(IpamAllocations(t));
    }

    [Fact]
    public void CleanupStale_detaches_containers_that_are_not_live()
    {
        using var t = new TestNetworks();
        using var a = new TestNetns();
        using var b = new TestNetns();
        var live = t.Manager.Attach(Req(t, a, "live"));
        var dead = t.Manager.Attach(Req(t, b, "dead"));
        t.Reopen().CleanupStale(new HashSet<string> { live.ContainerId });
        Assert.NotNull(t.Manager.Get(live.ContainerId));
        Assert.Null(t.Manager.Get(dead.ContainerId));
        Assert.DoesNotContain(dead.ContainerId, Sh.Ruleset());
        Assert.Single(IpamAllocations(t));
    }

    [Fact]
    public void Connect_and_disconnect_a_running_container()
    {
        using var t = new TestNetworks();
        var net = t.CreateUserNetwork("c" + Guid.NewGuid().ToString("N")[..8]);
        using var a = new TestNetns();
        using var b = new TestNetns();
        var aa = t.Manager.Attach(Req(t, a, "first"));
        var ba = t.Manager.Attach(Req(t, b, "second", net.Name));

        var connected = t.Manager.Connect(aa.ContainerId, net.Name);
        var eth1 = Assert.Single(connected.Endpoints, e => e.NetworkId == net.Id);
        Assert.Equal("eth1", eth1.IfName);
        Assert.Equal(0, a.Exec("/bin/busybox", "ping", "-c", "1", "-W", "5", ba.Primary!.Ip).Code);
        Assert.Contains("second", File.ReadAllText(aa.HostsPath));
        Assert.Contains("first", File.ReadAllText(ba.HostsPath));
        Assert.Throws<NetworkConflictException>(() => t.Manager.Remove(net.Name));

        t.Manager.Disconnect(aa.ContainerId, net.Name);
        Assert.DoesNotContain("eth1", a.Exec("ip", "-br", "link").Out);
        Assert.DoesNotContain("first", File.ReadAllText(ba.HostsPath));
        Assert.Throws<NetworkConflictException>(() => t.Manager.Disconnect(aa.ContainerId, net.Name));
    }

    internal static string[] IpamAllocations(TestNetworks t) =>
        Directory.GetDirectories(Path.Combine(t.StateDir, "ipam"))
            .SelectMany(Directory.GetFiles)
            .Where(f => Path.GetFileName(f) is var n && n != "lock" && !n.StartsWith("last_reserved_ip"))
            .ToArray();
}

/// <summary>A network namespace wired to the host by a veth pair on a private /30: another machine
/// as far as the host's netfilter is concerned (traffic arrives on a non-loopback interface).</summary>
[Trait("Needs", "root")]
internal sealed class RemoteHost : IDisposable
{
    public TestNetns Netns { get; } = new();
    public string HostAddress { get; }
    public string RemoteAddress { get; }
    readonly string _hostIf = "gtr" + Guid.NewGuid().ToString("N")[..8];

    public RemoteHost()
    {
        // 198.18.0.0/15 is reserved for benchmarking: never a real destination.
        uint baseAddr = (198u << 24) | (18u << 16) | ((uint)Random.Shared.Next(0, 512) << 8) | ((uint)Random.Shared.Next(0, 64) << 2);
        HostAddress = Ipv4Cidr.Format(baseAddr + 1);
        var remoteAddr = RemoteAddress = Ipv4Cidr.Format(baseAddr + 2);
        Sh.Ok("ip", "link", "add", _hostIf, "type", "veth", "peer", "name", "eth0", "netns", Netns.Name);
        Sh.Ok("ip", "addr", "add", HostAddress + "/30", "dev", _hostIf);
        Sh.Ok("ip", "link", "set", _hostIf, "up");
        Netns.Exec("ip", "addr", "add", remoteAddr + "/30", "dev", "eth0");
        Netns.Exec("ip", "link", "set", "eth0", "up");
    }

    public void Dispose()
    {
        Sh.Run("ip", "link", "del", _hostIf);
        Netns.Dispose();
    }
}
