using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Gocker.Tests.Integration;

/// <summary>
/// Network aliases and the generated name files (issue #18): --network-alias / EndpointsConfig.Aliases /
/// connect --alias resolve from the other containers of the same user network only, through the
/// hosts files the daemon rewrites as containers join and leave; --add-host (host-gateway too),
/// --dns, --dns-search, --dns-option and --domainname in /etc/hosts, /etc/resolv.conf and the UTS
/// namespace; bad values refused with a 400 naming the field. Through gocker, the raw API and the
/// docker CLI, against a real daemon.
/// </summary>
[Trait("Needs", "root")]
public sealed class NameResolutionTests(DaemonFixture daemon) : IClassFixture<DaemonFixture>, IDisposable
{
    public void Dispose() => daemon.AssertNoLeaks();

    static string Unique(string prefix) => prefix + Guid.NewGuid().ToString("N")[..8];

    string Ok(params string[] args)
    {
        var r = daemon.Gocker(args);
        Assert.True(r.ExitCode == 0, $"gocker {string.Join(' ', args)}: {r}\n{daemon.DaemonLog}");
        return r.Stdout.Trim();
    }

    JsonElement Inspect(string id) => JsonDocument.Parse(Ok("inspect", id)).RootElement[0];

    /// <summary>The address NAME resolves to in a fresh container on NETWORK (busybox ping resolves
    /// through /etc/hosts and prints it), or null when it does not resolve.</summary>
    string? ResolveFrom(string network, string name)
    {
        var r = daemon.Gocker("run", "--rm", "--network", network, "busybox", "ping", "-c1", "-W2", name);
        var m = Regex.Match(r.Stdout + r.Stderr, @"PING \S+ \((\d+\.\d+\.\d+\.\d+)\)");
        return m.Success ? m.Groups[1].Value : null;
    }

    static string IpOn(JsonElement inspect, string network) =>
        inspect.GetProperty("NetworkSettings").GetProperty("Networks").GetProperty(network).GetProperty("IPAddress").GetString()!;

    static List<string> AliasesOn(JsonElement inspect, string network) =>
        inspect.GetProperty("NetworkSettings").GetProperty("Networks").GetProperty(network).GetProperty("Aliases")
            .EnumerateArray().Select(a => a.GetString()!).ToList();

    [Fact]
    public void Aliases_resolve_only_on_their_own_network_and_follow_joins_and_leaves()
    {
        string n1 = Unique("rn1-"), n2 = Unique("rn2-"), db = Unique("db"), peer = Unique("peer");
        Ok("network", "create", n1);
        Ok("network", "create", n2);
        try
        {
            var id = Ok("run", "-d", "--name", db, "--network", n1, "--network-alias", "dbalias", "--network-alias", "second.alias", "busybox", "sleep", "600");
            var p = Ok("run", "-d", "--name", peer, "--network", n1, "busybox", "sleep", "600");
            var ins = Inspect(id);
            var ip1 = IpOn(ins, n1);
            // Docker's API 1.43: the given aliases, then the short id.
            Assert.Equal(["dbalias", "second.alias", id[..12]], AliasesOn(ins, n1));
            Assert.Equal(ip1, ResolveFrom(n1, "dbalias"));
            Assert.Equal(ip1, ResolveFrom(n1, "second.alias"));
            Assert.Equal(ip1, ResolveFrom(n1, db));
            Assert.Equal(ip1, ResolveFrom(n1, id[..12]));
            // The container answers to its own aliases too (Docker's embedded DNS does).
            Assert.Contains($"PING dbalias ({ip1})", Ok("exec", db, "ping", "-c1", "-W2", "dbalias"));
            // An alias is network-scoped: the other network does not know it, even once the container is on both.
            Ok("network", "connect", n2, db);
            Assert.Null(ResolveFrom(n2, "dbalias"));
            var ip2 = IpOn(Inspect(id), n2);
            Assert.Equal(ip2, ResolveFrom(n2, db));
            // Disconnected and connected again with an alias of n2's own (connect --alias).
            Ok("network", "disconnect", n2, db);
            Ok("network", "connect", "--alias", "only-on-n2", n2, db);
            ins = Inspect(id);
            ip2 = IpOn(ins, n2);
            Assert.Equal(["only-on-n2", id[..12]], AliasesOn(ins, n2));
            Assert.Equal(ip2, ResolveFrom(n2, "only-on-n2"));
            Assert.Null(ResolveFrom(n1, "only-on-n2"));
            Assert.Null(ResolveFrom(n2, "dbalias"));
            // The peer's hosts file was rewritten when db joined; it loses db's names when db leaves.
            Assert.Matches($@"(?m)^{Regex.Escape(ip1)}\t.*\bdbalias\b", Ok("exec", peer, "cat", "/etc/hosts"));
            Ok("rm", "-f", db);
            var hosts = Ok("exec", peer, "cat", "/etc/hosts");
            Assert.DoesNotContain("dbalias", hosts);
            Assert.DoesNotContain(db, hosts);
            Assert.Null(ResolveFrom(n1, "dbalias"));
            Ok("rm", "-f", p);
        }
        finally
        {
            daemon.Gocker("rm", "-f", db, peer);
            daemon.Gocker("network", "rm", n1, n2);
        }
    }

    [Fact]
    public void A_created_container_shows_its_network_and_aliases_before_it_runs()
    {
        string net = Unique("rc-"), name = Unique("c");
        Ok("network", "create", net);
        try
        {
            var id = Ok("create", "--name", name, "--network", net, "--network-alias", "svc", "busybox", "true");
            // Compose reads this on a created container to decide whether it still has to connect it.
            var ins = Inspect(id);
            Assert.Equal(["svc", id[..12]], AliasesOn(ins, net));
            Assert.Equal("", IpOn(ins, net));
            Ok("rm", name);
        }
        finally { daemon.Gocker("network", "rm", net); }
    }

    [Fact]
    public void Aliases_on_the_default_network_are_refused_as_Docker_refuses_them()
    {
        var r = daemon.Gocker("run", "--rm", "--network-alias", "x", "busybox", "true");
        Assert.Equal(125, r.ExitCode);
        Assert.Contains("network-scoped alias is supported only for containers in user defined networks", r.Stderr);
        var (head, body) = RawHttp.Request(daemon.Socket, "POST", "/containers/create",
            """{"Image":"busybox","Cmd":["true"],"HostConfig":{"NetworkMode":"bridge"},"NetworkingConfig":{"EndpointsConfig":{"bridge":{"Aliases":["x"]}}}}""");
        Assert.StartsWith("HTTP/1.1 400", head);
        Assert.Contains("network-scoped alias is supported only for containers in user defined networks", Encoding.UTF8.GetString(body));
        // connect --alias to the default network, for a running container on a user network.
        string net = Unique("rd-"), name = Unique("c");
        Ok("network", "create", net);
        try
        {
            Ok("run", "-d", "--name", name, "--network", net, "busybox", "sleep", "600");
            var defaultNet = DefaultNetworkName();
            (head, body) = RawHttp.Request(daemon.Socket, "POST", $"/networks/{defaultNet}/connect",
                $$$"""{"Container":"{{{name}}}","EndpointConfig":{"Aliases":["x"]}}""");
            Assert.StartsWith("HTTP/1.1 400", head);
            Assert.Contains("network-scoped alias is supported only for containers in user defined networks", Encoding.UTF8.GetString(body));
            Assert.Equal([net], Inspect(name).GetProperty("NetworkSettings").GetProperty("Networks").EnumerateObject().Select(p => p.Name).ToList());
            Ok("rm", "-f", name);
        }
        finally
        {
            daemon.Gocker("rm", "-f", name);
            daemon.Gocker("network", "rm", net);
        }
    }

    JsonElement DefaultNetwork() =>
        JsonDocument.Parse(RawHttp.Request(daemon.Socket, "GET", "/networks").Body).RootElement.EnumerateArray()
            .Single(n => n.GetProperty("Labels").TryGetProperty("io.gocker.network.default", out _));

    string DefaultNetworkName() => DefaultNetwork().GetProperty("Name").GetString()!;

    [Fact]
    public void Add_host_dns_and_domainname_are_written_into_the_generated_files()
    {
        var gateway = DefaultNetwork().GetProperty("IPAM").GetProperty("Config")[0].GetProperty("Gateway").GetString()!;
        var r = daemon.Gocker("run", "--rm", "--hostname", "box", "--domainname", "example.test",
            "--add-host", "extra.one:10.9.8.7", "--add-host", "v6host:fd00::7", "--add-host", "gw=host-gateway",
            "--dns", "192.0.2.53", "--dns", "192.0.2.54", "--dns-search", "a.example", "--dns-search", "b.example", "--dns-option", "ndots:3",
            "busybox", "sh", "-c", "cat /etc/hosts; echo ---; cat /etc/resolv.conf; echo ---; cat /proc/sys/kernel/domainname; ping -c1 -W1 extra.one | head -1");
        Assert.True(r.ExitCode == 0, r.ToString());
        var parts = r.Stdout.Split("---\n");
        Assert.Contains("10.9.8.7\textra.one\n", parts[0]);
        Assert.Contains("fd00::7\tv6host\n", parts[0]);
        Assert.Contains($"{gateway}\tgw\n", parts[0]);
        Assert.Matches(@"(?m)^\d+\.\d+\.\d+\.\d+\tbox\.example\.test box ", parts[0]);
        Assert.Equal("nameserver 192.0.2.53\nnameserver 192.0.2.54\nsearch a.example b.example\noptions ndots:3\n", parts[1]);
        Assert.StartsWith("example.test\n", parts[2]);
        Assert.Contains("PING extra.one (10.9.8.7)", parts[2]);

        // Only what was given replaces the host's: --dns-search alone keeps the host's nameservers.
        r = daemon.Gocker("run", "--rm", "--dns-search", "only.example", "busybox", "cat", "/etc/resolv.conf");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("search only.example\n", r.Stdout);
        Assert.DoesNotContain("192.0.2.53", r.Stdout);

        var id = Ok("create", "--add-host", "h:1.2.3.4", "--dns", "192.0.2.9", "--dns-search", "s.example", "--dns-option", "rotate", "--domainname", "d.example", "busybox", "true");
        try
        {
            var ins = Inspect(id);
            var hc = ins.GetProperty("HostConfig");
            static string[] Strings(JsonElement e) => e.EnumerateArray().Select(x => x.GetString()!).ToArray();
            Assert.Equal(["h:1.2.3.4"], Strings(hc.GetProperty("ExtraHosts")));
            Assert.Equal(["192.0.2.9"], Strings(hc.GetProperty("Dns")));
            Assert.Equal(["s.example"], Strings(hc.GetProperty("DnsSearch")));
            Assert.Equal(["rotate"], Strings(hc.GetProperty("DnsOptions")));
            Assert.Equal("d.example", ins.GetProperty("Config").GetProperty("Domainname").GetString());
        }
        finally { daemon.Gocker("rm", "-f", id); }
    }

    [Fact]
    public void Add_host_and_dns_apply_to_a_host_network_container_too()
    {
        var r = daemon.Gocker("run", "--rm", "--network", "host", "--add-host", "hn-extra:10.1.2.3", "--dns", "192.0.2.77",
            "busybox", "sh", "-c", "cat /etc/hosts; echo ---; cat /etc/resolv.conf");
        Assert.True(r.ExitCode == 0, r.ToString());
        var parts = r.Stdout.Split("---\n");
        Assert.EndsWith("10.1.2.3\thn-extra\n", parts[0]);
        Assert.Contains("nameserver 192.0.2.77\n", parts[1]);
        Assert.DoesNotContain("nameserver", parts[1].Replace("nameserver 192.0.2.77\n", ""));
    }

    [Theory]
    [InlineData("""{"HostConfig":{"ExtraHosts":["nocolon"]}}""", "HostConfig.ExtraHosts")]
    [InlineData("""{"HostConfig":{"ExtraHosts":["bad name:1.2.3.4"]}}""", "HostConfig.ExtraHosts")]
    [InlineData("""{"HostConfig":{"ExtraHosts":["evil:1.2.3.4\n6.6.6.6 victim"]}}""", "HostConfig.ExtraHosts")]
    [InlineData("""{"HostConfig":{"ExtraHosts":["h:1.2.3"]}}""", "HostConfig.ExtraHosts")]
    [InlineData("""{"HostConfig":{"Dns":["1.2.3"]}}""", "HostConfig.Dns")]
    [InlineData("""{"HostConfig":{"Dns":["dns.example"]}}""", "HostConfig.Dns")]
    [InlineData("""{"HostConfig":{"DnsSearch":["bad domain"]}}""", "HostConfig.DnsSearch")]
    [InlineData("""{"HostConfig":{"DnsOptions":["ndots:1\nnameserver 6.6.6.6"]}}""", "HostConfig.DnsOptions")]
    [InlineData("""{"Domainname":"bad_domain!"}""", "Domainname")]
    [InlineData("""{"HostConfig":{"NetworkMode":"none","ExtraHosts":["h:1.2.3.4"]}}""", "--network none")]
    [InlineData("""{"HostConfig":{"NetworkMode":"mynet"},"NetworkingConfig":{"EndpointsConfig":{"mynet":{"Aliases":["a\nb"]}}}}""", "NetworkingConfig.EndpointsConfig.mynet.Aliases")]
    [InlineData("""{"HostConfig":{"NetworkMode":"mynet"},"NetworkingConfig":{"EndpointsConfig":{"mynet":{"IPAMConfig":{"IPv4Address":"10.0.0.9"}}}}}""", "NetworkingConfig.EndpointsConfig.mynet.IPAMConfig.IPv4Address")]
    [InlineData("""{"HostConfig":{"NetworkMode":"mynet"},"NetworkingConfig":{"EndpointsConfig":{"other":{"Aliases":["a"]}}}}""", "NetworkingConfig.EndpointsConfig.other")]
    public void Bad_values_are_refused_with_a_400_naming_the_field(string fields, string named)
    {
        // The request's own fields merged over a valid create.
        var body = JsonDocument.Parse(fields).RootElement;
        var json = new StringBuilder("{\"Image\":\"busybox\",\"Cmd\":[\"true\"]");
        foreach (var p in body.EnumerateObject()) json.Append(',').Append(JsonSerializer.Serialize(p.Name)).Append(':').Append(p.Value.GetRawText());
        json.Append('}');
        var (head, answer) = RawHttp.Request(daemon.Socket, "POST", "/containers/create", json.ToString());
        var text = Encoding.UTF8.GetString(answer);
        Assert.True(head.StartsWith("HTTP/1.1 400"), $"{json}: {head}\n{text}");
        Assert.Contains(named, text);
    }

    [DockerCliFact]
    public void The_docker_CLI_sets_aliases_add_host_and_dns_and_reads_them_back()
    {
        string net = Unique("rk-"), name = Unique("dk");
        var (code, o, e) = DockerCliFactAttribute.Run(daemon.Socket, daemon.Root, null, "network", "create", net);
        Assert.True(code == 0, o + e);
        try
        {
            (code, o, e) = DockerCliFactAttribute.Run(daemon.Socket, daemon.Root, null, "run", "-d", "--name", name, "--network", net,
                "--network-alias", "dkalias", "--add-host", "dk-extra:10.4.5.6", "--dns", "192.0.2.66", "--dns-search", "dk.example", "--dns-option", "ndots:2",
                "busybox", "sleep", "600");
            Assert.True(code == 0, o + e);
            var id = o.Trim();
            (code, o, e) = DockerCliFactAttribute.Run(daemon.Socket, daemon.Root, null, "inspect", "-f",
                $"{{{{json (index .NetworkSettings.Networks \"{net}\").Aliases}}}} {{{{json .HostConfig.ExtraHosts}}}} {{{{json .HostConfig.Dns}}}}", name);
            Assert.True(code == 0, o + e);
            Assert.Equal($"[\"dkalias\",\"{id[..12]}\"] [\"dk-extra:10.4.5.6\"] [\"192.0.2.66\"]", o.Trim());
            (code, o, e) = DockerCliFactAttribute.Run(daemon.Socket, daemon.Root, null, "exec", name, "sh", "-c", "cat /etc/resolv.conf; grep dk-extra /etc/hosts");
            Assert.True(code == 0, o + e);
            Assert.Equal("nameserver 192.0.2.66\nsearch dk.example\noptions ndots:2\n10.4.5.6\tdk-extra\n", o);
            var ip = IpOn(Inspect(name), net);
            Assert.Equal(ip, ResolveFrom(net, "dkalias"));
            // docker network connect --alias: a second network, its own alias.
            var net2 = Unique("rk2-");
            Assert.Equal(0, DockerCliFactAttribute.Run(daemon.Socket, daemon.Root, null, "network", "create", net2).Code);
            try
            {
                (code, o, e) = DockerCliFactAttribute.Run(daemon.Socket, daemon.Root, null, "network", "connect", "--alias", "dk2", net2, name);
                Assert.True(code == 0, o + e);
                Assert.Equal(IpOn(Inspect(name), net2), ResolveFrom(net2, "dk2"));
                (code, o, e) = DockerCliFactAttribute.Run(daemon.Socket, daemon.Root, null, "run", "--rm", "--network-alias", "x", "busybox", "true");
                // docker's CLI refuses it itself ("network-scoped aliases are only supported for user-defined networks").
                Assert.Equal(125, code);
                Assert.Contains("network-scoped alias", e);
            }
            finally
            {
                DockerCliFactAttribute.Run(daemon.Socket, daemon.Root, null, "rm", "-f", name);
                DockerCliFactAttribute.Run(daemon.Socket, daemon.Root, null, "network", "rm", net2);
            }
        }
        finally
        {
            DockerCliFactAttribute.Run(daemon.Socket, daemon.Root, null, "rm", "-f", name);
            DockerCliFactAttribute.Run(daemon.Socket, daemon.Root, null, "network", "rm", net);
        }
    }
}
