using Gocker.Network;

namespace Gocker.Tests.Network;

public class ParsingTests
{
    [Theory]
    [InlineData("8080:80", "", 8080, 80, "tcp")]
    [InlineData("8080:80/udp", "", 8080, 80, "udp")]
    [InlineData("127.0.0.1:8080:80", "127.0.0.1", 8080, 80, "tcp")]
    [InlineData("0.0.0.0:53:53/UDP", "", 53, 53, "udp")]
    public void Port_specs(string spec, string ip, int host, int ctr, string proto) =>
        Assert.Equal(new PortMapping(ip, host, ctr, proto), PortMapping.Parse(spec));

    [Fact]
    public void Port_spec_without_host_port_gets_an_ephemeral_one()
    {
        var p = PortMapping.Parse("127.0.0.1::80");
        Assert.InRange(p.HostPort, 1024, 65535);
        Assert.Equal(80, p.ContainerPort);
        Assert.InRange(PortMapping.Parse("80").HostPort, 1024, 65535);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("8080:80/sctp", "protocol")]
    [InlineData("70000:80", "host port")]
    [InlineData("8080:0", "container port")]
    [InlineData("8080:http", "container port")]
    [InlineData("8000-8010:80", "ranges")]
    [InlineData("example.com:8080:80", "not an IPv4")]
    [InlineData("[::1]:8080:80", "IPv6")]
    [InlineData("1:2:3:4", "expected")]
    public void Bad_port_specs_name_the_problem(string spec, string why) =>
        Assert.Contains(why, Assert.Throws<ArgumentException>(() => PortMapping.Parse(spec)).Message);

    [Fact]
    public void Cidr_math()
    {
        var c = Ipv4Cidr.Parse("10.1.2.0/24");
        Assert.Equal("10.1.2.255", Ipv4Cidr.Format(c.Broadcast));
        Assert.False(c.IsHostAddress(c.Network));
        Assert.False(c.IsHostAddress(c.Broadcast));
        Assert.True(c.IsHostAddress(Ipv4Cidr.ParseAddress("10.1.2.1")));
        Assert.True(c.Overlaps(Ipv4Cidr.Parse("10.1.0.0/16")));
        Assert.False(c.Overlaps(Ipv4Cidr.Parse("10.1.3.0/24")));
        Assert.Throws<ArgumentException>(() => Ipv4Cidr.Parse("10.1.2.0/31"));
        Assert.Throws<ArgumentException>(() => Ipv4Cidr.Parse("10.1.2.0"));
        Assert.Throws<ArgumentException>(() => Ipv4Cidr.Parse("fd00::/64"));
    }

    [Fact]
    public void Resolv_conf_keeps_reachable_nameservers_and_search_drops_loopback_ones()
    {
        var f = Path.GetTempFileName();
        try
        {
            File.WriteAllText(f, "# generated\nnameserver 127.0.0.53\nnameserver 10.0.0.2\nnameserver ::1\nsearch example.internal\noptions edns0 trust-ad\n");
            Assert.Equal("nameserver 10.0.0.2\nsearch example.internal\noptions edns0 trust-ad\n", EtcFiles.ResolvConfContent(f));
            File.WriteAllText(f, "nameserver 127.0.0.1\n");
            Assert.Equal("", EtcFiles.ResolvConfContent(f)); // no public fallback
        }
        finally { File.Delete(f); }
    }
}
