using Gocker.Network;

namespace Gocker.Tests.Network;

[Trait("Needs", "root")]
public class NetworkLifecycleTests
{
    [Fact]
    public void Create_inspect_list_remove_and_the_records_survive_a_restart()
    {
        using var t = new TestNetworks();
        var name = "life" + Guid.NewGuid().ToString("N")[..6];
        var subnet = TestNetworks.RandomSubnet(24);
        var c = Ipv4Cidr.Parse(subnet);
        var gw = Ipv4Cidr.Format(c.Network + 10);
        NetworkRecord n;
        try { n = t.Manager.Create(name, subnet, gw); }
        catch (NetworkConflictException) { n = t.CreateUserNetwork(name); gw = null!; }
        if (gw is not null) Assert.Equal(gw, n.Gateway);
        Assert.Equal(64, n.Id.Length);
        Assert.StartsWith("gk-", n.Bridge);

        Assert.Equal(["bridge", name], t.Manager.List().Select(i => i.Network.Name));
        Assert.Equal(n.Id, t.Manager.Inspect(name).Network.Id);
        Assert.Equal(n.Id, t.Manager.Inspect(n.Id[..8]).Network.Id);
        Assert.Throws<NetworkConflictException>(() => t.Manager.Create(name, TestNetworks.RandomSubnet(24)));

        var reopened = t.Reopen();
        Assert.Equal(n, reopened.Inspect(name).Network);
        Assert.Equal(t.Subnet, reopened.Inspect("bridge").Network.Subnet);

        reopened.Remove(name);
        Assert.Throws<NetworkNotFoundException>(() => reopened.Inspect(name));
        Assert.Throws<NetworkNotFoundException>(() => reopened.Remove(name));
        Assert.Single(t.Reopen().List());
    }

    [Fact]
    public void Overlapping_subnets_are_refused_with_a_clear_error()
    {
        using var t = new TestNetworks();
        var def = Ipv4Cidr.Parse(t.Subnet);
        var inside = new Ipv4Cidr(def.Network, 25).ToString();
        var e = Assert.Throws<NetworkConflictException>(() => t.Manager.Create("x" + Guid.NewGuid().ToString("N")[..6], inside));
        Assert.Contains($"overlaps network bridge ({t.Subnet})", e.Message);

        var wider = new Ipv4Cidr(def.Network & 0xFFFF0000, 16).ToString();
        Assert.Throws<NetworkConflictException>(() => t.Manager.Create("y" + Guid.NewGuid().ToString("N")[..6], wider));

        // A host route on another device (here: loopback's 127.0.0.0/8 is local, use the host's own routes).
        var hostRoute = HostRoutes.Read().FirstOrDefault(r => !r.Device.StartsWith("gt") && !r.Device.StartsWith("gk-"));
        if (hostRoute is not null)
            Assert.Contains("overlaps the host's route", Assert.Throws<NetworkConflictException>(() =>
                t.Manager.Create("z" + Guid.NewGuid().ToString("N")[..6], hostRoute.Destination.ToString())).Message);
    }

    [Fact]
    public void Bad_input_is_refused_with_errors_naming_it()
    {
        using var t = new TestNetworks();
        Assert.Contains("invalid network name", Assert.Throws<ArgumentException>(() => t.Manager.Create("-bad")).Message);
        Assert.Contains("host bits set", Assert.Throws<ArgumentException>(() => t.Manager.Create("ok1", "10.200.0.5/24")).Message);
        Assert.Contains("not a host address", Assert.Throws<ArgumentException>(() => t.Manager.Create("ok2", TestNetworks.RandomSubnet(24), "192.0.2.1")).Message);
        Assert.Contains("pre-defined", Assert.Throws<NetworkConflictException>(() => t.Manager.Remove("bridge")).Message);
        Assert.Throws<NetworkConflictException>(() => t.Manager.Create("bridge"));
        Assert.Throws<NetworkConflictException>(() => t.Manager.Create("none"));
    }

    [Fact]
    public void A_network_without_subnet_gets_a_free_24_from_the_pool()
    {
        using var t = new TestNetworks();
        // The pool given by the fixture is 10.255.255.0/24: exactly one /24, then exhausted.
        var n = t.Manager.Create("p" + Guid.NewGuid().ToString("N")[..6]);
        Assert.Equal("10.255.255.0/24", n.Subnet);
        Assert.Equal("10.255.255.1", n.Gateway);
        Assert.Contains("no free /24", Assert.Throws<NetworkConflictException>(() => t.Manager.Create("q" + Guid.NewGuid().ToString("N")[..6])).Message);
    }

    [Fact]
    public void Remove_is_refused_while_a_container_uses_the_network()
    {
        using var t = new TestNetworks();
        var net = t.CreateUserNetwork("busy" + Guid.NewGuid().ToString("N")[..6]);
        using var ns = new TestNetns();
        var id = TestNetworks.NewId();
        t.Manager.Attach(new AttachRequest(id, "user", "user", ns.Path, net.Name, [], t.EtcDir(id)));
        var e = Assert.Throws<NetworkConflictException>(() => t.Manager.Remove(net.Name));
        Assert.Contains("has active endpoints (user)", e.Message);
        Assert.Single(t.Manager.Inspect(net.Name).Members);
        t.Manager.Detach(id);
        t.Manager.Remove(net.Name);
        Assert.False(Directory.Exists("/sys/class/net/" + net.Bridge));
    }
}
