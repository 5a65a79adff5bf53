using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Gocker.Tests.Integration;

/// <summary>
/// `network connect` / `disconnect` of created and stopped containers (issue #18): the endpoint is
/// kept in the container's config, shown by inspect without an address, joined at the next start
/// (its alias resolving from a peer), and kept across a daemon restart; a running container's connect
/// survives its stop and start. Plus the inspect and API leftovers: DNSNames, Driver, labels in Go's
/// order, `volume=` events, network prune and rename against peers. Through gocker, the docker CLI and
/// raw HTTP, against a real daemon.
/// </summary>
public sealed class NetworkConnectTests(DaemonFixture daemon) : IClassFixture<DaemonFixture>, IDisposable
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

    static JsonElement Networks(JsonElement inspect) => inspect.GetProperty("NetworkSettings").GetProperty("Networks");

    static List<string> NetworkNames(JsonElement inspect) => Networks(inspect).EnumerateObject().Select(p => p.Name).Order().ToList();

    static string IpOn(JsonElement inspect, string network) => Networks(inspect).GetProperty(network).GetProperty("IPAddress").GetString()!;

    static List<string> Strings(JsonElement array) => array.EnumerateArray().Select(a => a.GetString()!).ToList();

    /// <summary>The address NAME resolves to from a fresh container on NETWORK (busybox ping prints
    /// it), or null when it does not resolve there.</summary>
    internal static string? ResolveFrom(Func<string[], CliResult> gocker, string network, string name)
    {
        var r = gocker(["run", "--rm", "--network", network, "busybox", "ping", "-c1", "-W2", name]);
        var m = Regex.Match(r.Stdout + r.Stderr, @"PING \S+ \((\d+\.\d+\.\d+\.\d+)\)");
        return m.Success ? m.Groups[1].Value : null;
    }

    string? ResolveFrom(string network, string name) => ResolveFrom(daemon.Gocker, network, name);

    /// <summary>The container's interfaces other than lo, from inside.</summary>
    string Interfaces(string name) => string.Join(' ', Ok("exec", name, "ls", "/sys/class/net").Split((char[])['\n', ' ', '\t'], StringSplitOptions.RemoveEmptyEntries).Where(i => i != "lo").Order());

    [Fact]
    public void A_created_container_connected_to_a_second_network_joins_it_at_start_with_its_alias()
    {
        string n1 = Unique("cn1-"), n2 = Unique("cn2-"), c = Unique("c");
        Ok("network", "create", n1);
        Ok("network", "create", n2);
        try
        {
            var id = Ok("create", "--name", c, "--network", n1, "busybox", "sleep", "600");
            Ok("network", "connect", "--alias", "second-name", n2, c);
            // Recorded, not attached: inspect shows both networks, n2 with its alias and no address yet.
            var ins = Inspect(id);
            Assert.Equal(new[] { n1, n2 }.Order().ToList(), NetworkNames(ins));
            Assert.Equal("", IpOn(ins, n2));
            Assert.Equal(["second-name", id[..12]], Strings(Networks(ins).GetProperty(n2).GetProperty("Aliases")));
            Assert.Equal(JsonDocument.Parse(Ok("network", "inspect", n2)).RootElement[0].GetProperty("Id").GetString(),
                Networks(ins).GetProperty(n2).GetProperty("NetworkID").GetString());
            // Connecting it again is refused (as Docker: the endpoint exists), so is its NetworkMode's network.
            foreach (var again in new[] { n2, n1 })
            {
                var r = daemon.Gocker("network", "connect", again, c);
                Assert.NotEqual(0, r.ExitCode);
                Assert.Contains($"already exists in network {again}", r.Stderr);
            }

            Ok("start", c);
            ins = Inspect(id);
            var ip1 = IpOn(ins, n1);
            var ip2 = IpOn(ins, n2);
            Assert.NotEqual("", ip1);
            Assert.NotEqual("", ip2);
            Assert.Equal("eth0 eth1", Interfaces(c));
            Assert.Equal(ip2, ResolveFrom(n2, "second-name"));
            Assert.Equal(ip2, ResolveFrom(n2, c));
            Assert.Null(ResolveFrom(n1, "second-name")); // network-scoped
            Assert.Equal(ip1, ResolveFrom(n1, c));

            // Disconnected while stopped: the record goes, the next start joins n1 only.
            Ok("stop", "-t", "0", c);
            Ok("network", "disconnect", n2, c);
            Assert.Equal([n1], NetworkNames(Inspect(id)));
            var gone = daemon.Gocker("network", "disconnect", n2, c);
            Assert.NotEqual(0, gone.ExitCode);
            Assert.Contains($"is not connected to network {n2}", gone.Stderr);
            Ok("start", c);
            Assert.Equal([n1], NetworkNames(Inspect(id)));
            Assert.Equal("eth0", Interfaces(c));
            Assert.Null(ResolveFrom(n2, "second-name"));
            Ok("rm", "-f", c);
        }
        finally
        {
            daemon.Gocker("rm", "-f", c);
            daemon.Gocker("network", "rm", n1, n2);
        }
    }

    [Fact]
    public void A_running_containers_connect_survives_its_stop_and_start()
    {
        string n1 = Unique("rn1-"), n2 = Unique("rn2-"), c = Unique("c");
        Ok("network", "create", n1);
        Ok("network", "create", n2);
        try
        {
            var id = Ok("run", "-d", "--name", c, "--network", n1, "busybox", "sleep", "600");
            Ok("network", "connect", "--alias", "kept", n2, c);
            Assert.Equal("eth0 eth1", Interfaces(c));
            Ok("stop", "-t", "0", c);
            var stopped = Inspect(id);
            Assert.Equal(new[] { n1, n2 }.Order().ToList(), NetworkNames(stopped));
            Assert.Equal("", IpOn(stopped, n2));
            Ok("start", c);
            var ip2 = IpOn(Inspect(id), n2);
            Assert.NotEqual("", ip2);
            Assert.Equal(ip2, ResolveFrom(n2, "kept"));
            // A running container's disconnect is kept too: the next start does not join n2.
            Ok("network", "disconnect", n2, c);
            Ok("restart", "-t", "0", c);
            Assert.Equal([n1], NetworkNames(Inspect(id)));
            Assert.Equal("eth0", Interfaces(c));
            Ok("rm", "-f", c);
        }
        finally
        {
            daemon.Gocker("rm", "-f", c);
            daemon.Gocker("network", "rm", n1, n2);
        }
    }

    [Fact]
    public void Connect_refusals_name_what_they_refuse()
    {
        string n1 = Unique("fn1-"), c = Unique("c"), none = Unique("none");
        Ok("network", "create", n1);
        try
        {
            Ok("create", "--name", c, "--network", n1, "busybox", "true");
            Ok("create", "--name", none, "--network", "none", "busybox", "true");
            // A stopped container's NetworkMode network: gocker starts a container on it.
            var (head, body) = RawHttp.Request(daemon.Socket, "POST", $"/networks/{n1}/disconnect", $$"""{"Container":"{{c}}"}""");
            Assert.StartsWith("HTTP/1.1 409", head);
            Assert.Contains($"primary network {n1}", Encoding.UTF8.GetString(body));
            (head, body) = RawHttp.Request(daemon.Socket, "POST", $"/networks/{n1}/connect", $$"""{"Container":"{{none}}"}""");
            Assert.StartsWith("HTTP/1.1 400", head);
            Assert.Contains("private (none) mode", Encoding.UTF8.GetString(body));
            // Aliases on the default network and fields Gocker does not implement: refused for a stopped container too.
            var defaultNet = JsonDocument.Parse(RawHttp.Request(daemon.Socket, "GET", "/networks").Body).RootElement.EnumerateArray()
                .Single(n => n.GetProperty("Labels").TryGetProperty("io.gocker.network.default", out _)).GetProperty("Name").GetString();
            (head, body) = RawHttp.Request(daemon.Socket, "POST", $"/networks/{defaultNet}/connect", $$$"""{"Container":"{{{c}}}","EndpointConfig":{"Aliases":["x"]}}""");
            Assert.StartsWith("HTTP/1.1 400", head);
            Assert.Contains("network-scoped alias", Encoding.UTF8.GetString(body));
            (head, body) = RawHttp.Request(daemon.Socket, "POST", $"/networks/{n1}/connect",
                $$$$"""{"Container":"{{{{c}}}}","EndpointConfig":{"IPAMConfig":{"IPv4Address":"10.99.0.5"}}}""");
            Assert.StartsWith("HTTP/1.1 400", head);
            Assert.Contains("IPAMConfig", Encoding.UTF8.GetString(body));
            (head, _) = RawHttp.Request(daemon.Socket, "POST", "/networks/no-such-net-x/connect", $$"""{"Container":"{{c}}"}""");
            Assert.StartsWith("HTTP/1.1 404", head);
            Assert.Equal([n1], NetworkNames(Inspect(c)));
            Ok("rm", c, none);
        }
        finally
        {
            daemon.Gocker("rm", "-f", c, none);
            daemon.Gocker("network", "rm", n1);
        }
    }

    [DockerCliFact]
    public void Docker_network_connect_of_a_stopped_container_then_start_puts_it_on_both_networks()
    {
        string n1 = Unique("dn1-"), n2 = Unique("dn2-"), c = Unique("c"), peer = Unique("p");
        (int Code, string Out, string Err) Docker(params string[] args) => DockerCliFactAttribute.Run(daemon.Socket, daemon.Root, null, args);
        string DockerOk(params string[] args)
        {
            var r = Docker(args);
            Assert.True(r.Code == 0, $"docker {string.Join(' ', args)}: {r.Out}{r.Err}");
            return r.Out.Trim();
        }
        DockerOk("network", "create", n1);
        DockerOk("network", "create", n2);
        try
        {
            var id = DockerOk("run", "-d", "--name", c, "--network", n1, "busybox", "sleep", "600");
            DockerOk("stop", "-t", "0", c);
            DockerOk("network", "connect", "--alias", "via-docker", n2, c);
            Assert.Equal("", DockerOk("inspect", "-f", "{{(index .NetworkSettings.Networks \"" + n2 + "\").IPAddress}}", c));
            DockerOk("start", c);
            var ip2 = DockerOk("inspect", "-f", "{{(index .NetworkSettings.Networks \"" + n2 + "\").IPAddress}}", c);
            Assert.Matches(@"^\d+\.\d+\.\d+\.\d+$", ip2);
            Assert.Matches(@"^\d+\.\d+\.\d+\.\d+$", DockerOk("inspect", "-f", "{{(index .NetworkSettings.Networks \"" + n1 + "\").IPAddress}}", c));
            // A peer on n2 resolves the alias (and the name) to the address on n2.
            DockerOk("run", "-d", "--name", peer, "--network", n2, "busybox", "sleep", "600");
            Assert.Contains($"PING via-docker ({ip2})", DockerOk("exec", peer, "ping", "-c1", "-W2", "via-docker"));
            Assert.Contains($"PING {c} ({ip2})", DockerOk("exec", peer, "ping", "-c1", "-W2", c));
            // Docker 25+'s DNSNames: name, aliases, short id, hostname (the hostname is the short id here).
            Assert.Equal($"[\"{c}\",\"via-docker\",\"{id[..12]}\"]",
                DockerOk("inspect", "-f", "{{json (index .NetworkSettings.Networks \"" + n2 + "\").DNSNames}}", c));
            DockerOk("rm", "-f", c, peer);
        }
        finally
        {
            daemon.Gocker("rm", "-f", c, peer);
            daemon.Gocker("network", "rm", n1, n2);
        }
    }

    [Fact]
    public void Network_prune_keeps_a_network_a_stopped_container_was_connected_to()
    {
        string n1 = Unique("pn1-"), kept = Unique("pk-"), unused = Unique("pu-"), c = Unique("c");
        Ok("network", "create", n1);
        Ok("network", "create", kept);
        Ok("network", "create", unused);
        try
        {
            Ok("create", "--name", c, "--network", n1, "busybox", "true");
            Ok("network", "connect", kept, c);
            var pruned = Ok("network", "prune", "-f");
            Assert.Contains(unused, pruned);
            Assert.DoesNotContain(kept, pruned);
            Assert.DoesNotContain(n1, pruned);
            Assert.Equal(kept, Ok("network", "ls", "--filter", "name=^" + kept + "$", "--format", "{{.Name}}"));
            Ok("rm", c);
            Assert.Contains(kept, Ok("network", "prune", "-f"));
        }
        finally
        {
            daemon.Gocker("rm", "-f", c);
            daemon.Gocker("network", "rm", n1, kept, unused);
        }
    }

    [Fact]
    public void A_renamed_running_container_is_resolved_by_its_new_name_at_once()
    {
        string net = Unique("mn-"), c = Unique("old"), renamed = Unique("new"), peer = Unique("p");
        Ok("network", "create", net);
        try
        {
            var id = Ok("run", "-d", "--name", c, "--network", net, "busybox", "sleep", "600");
            Ok("run", "-d", "--name", peer, "--network", net, "busybox", "sleep", "600");
            var ip = IpOn(Inspect(id), net);
            Assert.Contains($"PING {c} ({ip})", Ok("exec", peer, "ping", "-c1", "-W2", c));
            Ok("rename", c, renamed);
            // The peer's hosts file is rewritten by the rename itself: no restart, no new container.
            Assert.Contains($"PING {renamed} ({ip})", Ok("exec", peer, "ping", "-c1", "-W2", renamed));
            Assert.DoesNotMatch($@"\b{Regex.Escape(c)}\b", Ok("exec", peer, "cat", "/etc/hosts"));
            // Its own file names it by the new name too.
            Assert.Matches($@"(?m)^{Regex.Escape(ip)}\t.*\b{Regex.Escape(renamed)}\b", Ok("exec", renamed, "cat", "/etc/hosts"));
            Assert.Equal(ip, ResolveFrom(net, renamed));
            Ok("rm", "-f", renamed, peer);
        }
        finally
        {
            daemon.Gocker("rm", "-f", c, renamed, peer);
            daemon.Gocker("network", "rm", net);
        }
    }

    [Fact]
    public void Inspect_shows_the_driver_and_labels_in_gos_order_and_dns_names_only_when_attached()
    {
        string net = Unique("ln-"), c = Unique("c");
        Ok("network", "create", "--label", "zeta=1", "--label", "alpha=2", net);
        try
        {
            var id = Ok("create", "--name", c, "--network", net, "--network-alias", "al", "--label", "zz=last", "--label", "aa=first", "--label", "mm=mid", "busybox", "sleep", "600");
            // The raw bytes: Go writes a map's keys sorted (clients hashing the text see one order).
            var raw = Encoding.UTF8.GetString(RawHttp.Request(daemon.Socket, "GET", $"/v1.43/containers/{id}/json").Body);
            Assert.Contains("\"Labels\":{\"aa\":\"first\",\"mm\":\"mid\",\"zz\":\"last\"}", raw);
            Assert.Contains("\"Driver\":\"overlay\"", raw);
            var list = Encoding.UTF8.GetString(RawHttp.Request(daemon.Socket, "GET", "/v1.43/containers/json?all=1&filters=" + Uri.EscapeDataString($$"""{"name":["{{c}}"]}""")).Body);
            Assert.Contains("\"Labels\":{\"aa\":\"first\",\"mm\":\"mid\",\"zz\":\"last\"}", list);
            var netRaw = Encoding.UTF8.GetString(RawHttp.Request(daemon.Socket, "GET", $"/v1.43/networks/{net}").Body);
            Assert.Contains("\"Labels\":{\"alpha\":\"2\",\"zeta\":\"1\"}", netRaw);
            // Docker sets DNSNames when the endpoint is made (at start), not on a created container.
            Assert.False(Networks(Inspect(id)).GetProperty(net).TryGetProperty("DNSNames", out var none) && none.ValueKind != JsonValueKind.Null);
            Ok("start", c);
            var ins = Inspect(id);
            Assert.Equal([c, "al", id[..12]], Strings(Networks(ins).GetProperty(net).GetProperty("DNSNames")));
            Assert.Equal("overlay", ins.GetProperty("Driver").GetString());
            Ok("rm", "-f", c);
        }
        finally
        {
            daemon.Gocker("rm", "-f", c);
            daemon.Gocker("network", "rm", net);
        }
    }

    [Fact]
    public void Events_filter_by_volume_name()
    {
        string v1 = Unique("ev1-"), v2 = Unique("ev2-");
        var since = DateTimeOffset.UtcNow.AddSeconds(-1).ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        try
        {
            Ok("volume", "create", v1);
            Ok("volume", "create", v2);
            Ok("volume", "rm", v1);
            var lines = Ok("events", "--since", since, "--until", "0s", "--filter", "volume=" + v1, "--format", "{{.Type}} {{.Action}} {{.Actor.ID}}")
                .Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal([$"volume create {v1}", $"volume destroy {v1}"], lines);
            // Through the API as Docker's clients send it, and an unknown key is still refused.
            var (head, body) = RawHttp.Request(daemon.Socket, "GET", $"/v1.43/events?since={since}&until={DateTimeOffset.UtcNow.AddSeconds(1).ToUnixTimeSeconds()}&filters="
                + Uri.EscapeDataString($$$"""{"volume":{"{{{v2}}}":true}}"""));
            Assert.StartsWith("HTTP/1.1 200", head);
            var events = Encoding.UTF8.GetString(body).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
            Assert.Single(events);
            Assert.Equal(v2, events[0].GetProperty("Actor").GetProperty("ID").GetString());
            (head, _) = RawHttp.Request(daemon.Socket, "GET", "/v1.43/events?until=0&filters=" + Uri.EscapeDataString("""{"volumes":["x"]}"""));
            Assert.StartsWith("HTTP/1.1 400", head);
        }
        finally { daemon.Gocker("volume", "rm", "-f", v1, v2); }
    }
}

/// <summary>A connect recorded while the container is stopped outlives a daemon restart (the
/// container's state record keeps it): a daemon of its own.</summary>
public sealed class NetworkConnectDaemonTests
{
    [Fact]
    public void A_connect_of_a_stopped_container_survives_a_daemon_restart()
    {
        using var d = new LifecycleDaemon();
        string n1 = "sn1-" + Guid.NewGuid().ToString("N")[..8], n2 = "sn2-" + Guid.NewGuid().ToString("N")[..8], c = "c" + Guid.NewGuid().ToString("N")[..8];
        d.Ok("network", "create", n1);
        d.Ok("network", "create", n2);
        var id = d.Ok("create", "--name", c, "--network", n1, "busybox", "sleep", "600");
        d.Ok("network", "connect", "--alias", "after-restart", n2, c);
        d.Stop();
        d.Start();
        var nets = JsonDocument.Parse(d.Ok("inspect", c)).RootElement[0].GetProperty("NetworkSettings").GetProperty("Networks");
        Assert.Equal(new[] { n1, n2 }.Order().ToList(), nets.EnumerateObject().Select(p => p.Name).Order().ToList());
        d.Ok("start", c);
        var ip2 = JsonDocument.Parse(d.Ok("inspect", c)).RootElement[0].GetProperty("NetworkSettings").GetProperty("Networks")
            .GetProperty(n2).GetProperty("IPAddress").GetString();
        Assert.Equal(ip2, NetworkConnectTests.ResolveFrom(d.Gocker, n2, "after-restart"));
        d.Ok("rm", "-f", id);
        d.Ok("network", "rm", n1, n2);
        d.AssertNoLeaks();
    }
}
