using Gocker.Network;

namespace Gocker.Tests.Network;

/// <summary>The generated name files' pure parts: --dns* replacing only their own lines of the host's
/// resolv.conf, --add-host lines ahead of the container's own, and the checks that keep every name
/// one word of one line.</summary>
public class NameSettingsTests
{
    [Fact]
    public void Each_dns_option_replaces_only_its_own_lines_of_the_hosts_resolv_conf()
    {
        var f = Path.GetTempFileName();
        try
        {
            File.WriteAllText(f, "nameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch host.example\noptions edns0\n");
            Assert.Equal("nameserver 192.0.2.1\nsearch host.example\noptions edns0\n",
                EtcFiles.ResolvConfContent(f, new NameSettings { Dns = ["192.0.2.1"] }));
            Assert.Equal("nameserver 10.0.0.2\nsearch a.example b.example\noptions ndots:2 rotate\n",
                EtcFiles.ResolvConfContent(f, new NameSettings { DnsSearch = ["a.example", "b.example"], DnsOptions = ["ndots:2", "rotate"] }));
            // "." is Docker's "no search domains".
            Assert.Equal("nameserver 10.0.0.2\noptions edns0\n", EtcFiles.ResolvConfContent(f, new NameSettings { DnsSearch = ["."] }));
            // --network host: the host's loopback resolver is reachable, and kept.
            Assert.Equal("nameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch x.example\noptions edns0\n",
                EtcFiles.ResolvConfContent(f, new NameSettings { DnsSearch = ["x.example"] }, keepLoopback: true));
            Assert.Equal(EtcFiles.ResolvConfContent(f), EtcFiles.ResolvConfContent(f, new NameSettings { ExtraHosts = ["a:1.2.3.4"] }));
        }
        finally { File.Delete(f); }
    }

    [Fact]
    public void Extra_hosts_come_before_the_containers_own_and_its_peers_lines()
    {
        var text = EtcFiles.HostsContent([new("10.0.0.2", ["box", "ctr", "alias1"])], [new("10.0.0.3", ["peer", "", "abc"])], [new("1.2.3.4", ["extra"])]);
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("1.2.3.4\textra", lines[^3]);
        Assert.Equal("10.0.0.2\tbox ctr alias1", lines[^2]);
        Assert.Equal("10.0.0.3\tpeer abc", lines[^1]);
    }

    [Theory]
    [InlineData("db", true)]
    [InlineData("my_db.svc-1", true)]
    [InlineData("", false)]
    [InlineData("two words", false)]
    [InlineData("evil\n6.6.6.6 victim", false)]
    [InlineData("a#comment", false)]
    [InlineData("-flag", false)]
    public void Names_are_one_word_of_a_hosts_file(string name, bool ok)
    {
        var ex = Record.Exception(() => NameSettings.ValidateName(name, "network alias"));
        Assert.Equal(ok, ex is null);
        if (!ok) Assert.Contains("network alias", ex!.Message);
    }

    [Theory]
    [InlineData("h:1.2.3.4", "h", "1.2.3.4")]
    [InlineData("h:fd00::1", "h", "fd00::1")]
    [InlineData("h:[fd00::1]", "h", "fd00::1")]
    [InlineData("gw:host-gateway", "gw", "host-gateway")]
    public void Extra_hosts_parse(string entry, string name, string ip) =>
        Assert.Equal((name, ip), NameSettings.ParseExtraHost(entry));

    [Theory]
    [InlineData("nocolon")]
    [InlineData(":1.2.3.4")]
    [InlineData("h:1.2.3")]
    [InlineData("h:0x7f.0.0.1")]
    [InlineData("h:999.1.1.1")]
    [InlineData("h:example.com")]
    public void Bad_extra_hosts_are_refused(string entry) =>
        Assert.Throws<ArgumentException>(() => NameSettings.ParseExtraHost(entry));

    [Fact]
    public void Dns_servers_and_options_are_checked()
    {
        NameSettings.ValidateDns("192.0.2.1");
        NameSettings.ValidateDns("2001:db8::1");
        Assert.Throws<ArgumentException>(() => NameSettings.ValidateDns("1.2.3"));
        Assert.Throws<ArgumentException>(() => NameSettings.ValidateDns("dns.example"));
        NameSettings.ValidateDnsOption("ndots:2");
        Assert.Throws<ArgumentException>(() => NameSettings.ValidateDnsOption("ndots:1\nnameserver 6.6.6.6"));
        NameSettings.ValidateDnsSearch("example.com");
        NameSettings.ValidateDnsSearch(".");
        Assert.Throws<ArgumentException>(() => NameSettings.ValidateDnsSearch("bad domain"));
    }
}
