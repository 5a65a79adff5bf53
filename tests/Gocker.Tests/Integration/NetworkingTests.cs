using System.Net.Http;
using System.Text.Json;

namespace Gocker.Tests.Integration;

/// <summary>Container networking end to end through the real console and daemon: the default
/// bridge, user networks (by IP and by name), published ports on 127.0.0.1, `none`, the network
/// life cycle while in use, and a clean failure when a CNI plugin fails. Only loopback and
/// container addresses are used.</summary>
[Trait("Needs", "root")]
public sealed class NetworkingTests(DaemonFixture daemon) : IClassFixture<DaemonFixture>, IDisposable
{
    public void Dispose() => daemon.AssertNoLeaks();

    string Ok(params string[] args)
    {
        var r = daemon.Gocker(args);
        Assert.True(r.ExitCode == 0, $"gocker {string.Join(' ', args)}: {r}\n{daemon.DaemonLog}");
        return r.Stdout.Trim();
    }

    static string Unique(string prefix) => prefix + Guid.NewGuid().ToString("N")[..8];

    JsonElement Inspect(string id) => JsonDocument.Parse(Ok("inspect", id)).RootElement[0];

    /// <summary>A detached busybox httpd serving one file; returns its id once it answers on its IP.</summary>
    (string Id, string Ip) StartHttpd(string name, string content, params string[] runArgs)
    {
        var www = Directory.CreateDirectory(Path.Combine(daemon.Root, "www-" + name)).FullName;
        File.WriteAllText(Path.Combine(www, "index.html"), content);
        var id = Ok(["run", "-d", "--name", name, "-v", www + ":/www:ro", .. runArgs, "busybox", "httpd", "-f", "-p", "80", "-h", "/www"]);
        var ip = Inspect(id).GetProperty("NetworkSettings").GetProperty("IPAddress").GetString()!;
        Assert.False(string.IsNullOrEmpty(ip), "no IP address in inspect");
        Assert.Equal(content, GetWithRetry($"http://{ip}/"));
        return (id, ip);
    }

    /// <summary>GET from the host, retried until the server is up (bounded: 10 s, 2 s per try).</summary>
    static string GetWithRetry(string url)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            try { return http.GetStringAsync(url).GetAwaiter().GetResult(); }
            catch (Exception) when (DateTime.UtcNow < deadline) { Thread.Sleep(100); }
        }
    }

    [Fact]
    public void Default_bridge_gives_eth0_an_address_of_the_daemons_subnet_and_etc_files()
    {
        var name = Unique("dflt");
        var r = daemon.Gocker("run", "--rm", "--name", name, "--hostname", "box1", "busybox", "sh", "-c",
            "ls /sys/class/net; ip -4 -o addr show eth0; cat /etc/hostname; grep box1 /etc/hosts; ip route | grep default");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains("eth0", r.Stdout);
        var addr = System.Text.RegularExpressions.Regex.Match(r.Stdout, @"inet (\d+\.\d+\.\d+\.\d+)/24").Groups[1].Value;
        Assert.True(daemon.Net.Contains(addr), $"address {addr} not in the daemon's subnet {daemon.Net.Subnet}:\n{r.Stdout}");
        Assert.Contains("box1\n", r.Stdout);
        Assert.Contains($"{addr}\tbox1 {name}", r.Stdout);
        Assert.Contains("default via", r.Stdout);
    }

    [Fact]
    public void Network_none_has_only_lo_and_refuses_published_ports()
    {
        var r = daemon.Gocker("run", "--rm", "--network", "none", "busybox", "ls", "/sys/class/net");
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("lo", r.Stdout.Trim());
        r = daemon.Gocker("run", "--rm", "--network", "none", "-p", "8080:80", "busybox", "true");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("conflicting options", r.Stderr);
    }

    [Fact]
    public void Unknown_network_is_refused_at_create()
    {
        var r = daemon.Gocker("run", "--rm", "--network", "no-such-net-x", "busybox", "true");
        Assert.Equal(125, r.ExitCode);
        Assert.Contains("network no-such-net-x not found", r.Stderr);
    }

    [Fact]
    public void Network_host_shares_the_hosts_network_namespace_and_nothing_else()
    {
        var hostNet = new FileInfo("/proc/self/ns/net").LinkTarget;
        var hostUts = new FileInfo("/proc/self/ns/uts").LinkTarget;
        var r = daemon.Gocker("run", "--rm", "--network", "host", "-p", "8080:80", "busybox", "sh", "-c",
            "readlink /proc/self/ns/net; readlink /proc/self/ns/uts; hostname; cat /etc/resolv.conf | wc -l");
        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(hostNet, lines[0]);
        Assert.NotEqual(hostUts, lines[1]);
        // Docker's defaults for host mode: the host's name, the host's resolver configuration.
        Assert.Equal(File.ReadAllText("/proc/sys/kernel/hostname").Trim(), lines[2]);
        var resolvLines = File.Exists("/etc/resolv.conf") ? File.ReadAllLines("/etc/resolv.conf").Length : 0;
        Assert.Equal(resolvLines.ToString(), lines[3].Trim());
        // No veth, no CNI state: the leak check in Dispose also covers the bridge.
        Assert.Empty(TestNetworkSlot.BridgeMembers(daemon.Net.Bridge));
    }

    [Fact]
    public void Publish_all_maps_every_exposed_port_to_an_ephemeral_host_port_reachable_on_127_0_0_1()
    {
        var web = Unique("pall");
        try
        {
            var (id, _) = StartHttpd(web, "published-all", "--expose", "80", "--expose", "9999/udp", "-P");
            var ports = Inspect(id).GetProperty("NetworkSettings").GetProperty("Ports");
            var tcp = ports.GetProperty("80/tcp")[0].GetProperty("HostPort").GetString()!;
            var udp = ports.GetProperty("9999/udp")[0].GetProperty("HostPort").GetString()!;
            Assert.True(int.Parse(tcp) > 0 && int.Parse(udp) > 0, ports.ToString());
            Assert.Equal("published-all", GetWithRetry($"http://127.0.0.1:{tcp}/"));
        }
        finally
        {
            daemon.Gocker("rm", "-f", web);
        }
        var bad = daemon.Gocker("run", "--rm", "--expose", "99999", "-P", "busybox", "true");
        Assert.Equal(125, bad.ExitCode);
        Assert.Contains("--expose", bad.Stderr);
    }

    [Fact]
    public void Two_containers_on_a_user_network_reach_each_other_by_ip_and_by_name()
    {
        var net = Unique("unet");
        Ok("network", "create", net);
        var web = Unique("web");
        try
        {
            var (id, ip) = StartHttpd(web, "hello-by-net", "--network", net);
            Assert.True(daemon.Net.Contains(ip), $"{ip} not in the daemon's address pool {daemon.Net.AddressPool}");
            // busybox's wget -T crashes in this static build: the console's own timeout bounds it.
            var r = daemon.Gocker("run", "--rm", "--network", net, "busybox", "sh", "-c",
                $"timeout 10 wget -q -O - http://{ip}/; echo; timeout 10 wget -q -O - http://{web}/; echo; grep -w {web} /etc/hosts");
            Assert.True(r.ExitCode == 0, r.ToString());
            var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal("hello-by-net", lines[0]);
            Assert.Equal("hello-by-net", lines[1]);
            Assert.StartsWith(ip + "\t", lines[2]);

            // In use: refused, and the network is still there.
            var rm = daemon.Gocker("network", "rm", net);
            Assert.NotEqual(0, rm.ExitCode);
            Assert.Contains("active endpoints", rm.Stderr);
            Assert.Contains(net, Ok("network", "ls"));
        }
        finally
        {
            daemon.Gocker("rm", "-f", web);
        }
        var bridge = JsonDocument.Parse(Ok("network", "inspect", net)).RootElement[0].GetProperty("GockerBridge").GetString()!;
        Assert.Equal(2, TestNetworkSlot.BridgeRules(bridge).Count);
        // One NAT rule per network (not per container), there while the network is.
        // Named by its bridge (not the id): every daemon using that bridge and subnet finds the same rule.
        Assert.Single(daemon.Net.RulesNamingSlot(), r => r.StartsWith("-A POSTROUTING") && r.Contains("gocker-net " + bridge));
        Ok("network", "rm", net);
        Assert.DoesNotContain(net, Ok("network", "ls"));
        Assert.DoesNotContain(daemon.Net.RulesNamingSlot(), r => r.Contains("gocker-net " + bridge));
        Assert.False(Directory.Exists("/sys/class/net/" + bridge), $"bridge {bridge} left after network rm");
        Assert.Empty(TestNetworkSlot.BridgeRules(bridge));
    }

    [Fact]
    public void Connect_and_disconnect_a_running_container()
    {
        var net = Unique("cnet");
        Ok("network", "create", net);
        var web = Unique("cweb");
        var client = Unique("ccli");
        try
        {
            var (_, ip) = StartHttpd(web, "joined", "--network", net);
            Ok("run", "-d", "--name", client, "busybox", "sleep", "1000");
            // On the default bridge only: networks are isolated from each other, as in Docker.
            Assert.DoesNotContain("eth1", Ok("exec", client, "ls", "/sys/class/net"));
            Assert.NotEqual(0, daemon.Gocker("exec", client, "timeout", "3", "wget", "-q", "-O", "-", $"http://{ip}/").ExitCode);

            Ok("network", "connect", net, client);
            Assert.Contains("eth1", Ok("exec", client, "ls", "/sys/class/net"));
            Assert.Equal("joined", Ok("exec", client, "timeout", "10", "wget", "-q", "-O", "-", $"http://{ip}/"));
            Assert.Equal("joined", Ok("exec", client, "timeout", "10", "wget", "-q", "-O", "-", $"http://{web}/"));
            var networks = Inspect(client).GetProperty("NetworkSettings").GetProperty("Networks");
            Assert.True(networks.TryGetProperty(net, out _), networks.ToString());

            Ok("network", "disconnect", net, client);
            Assert.DoesNotContain("eth1", Ok("exec", client, "ls", "/sys/class/net"));
            Assert.False(Inspect(client).GetProperty("NetworkSettings").GetProperty("Networks").TryGetProperty(net, out _));
            Assert.NotEqual(0, daemon.Gocker("exec", client, "timeout", "3", "wget", "-q", "-O", "-", $"http://{ip}/").ExitCode);
            Assert.Contains("is not connected", daemon.Gocker("network", "disconnect", net, client).Stderr);
        }
        finally
        {
            daemon.Gocker("rm", "-f", web, client);
        }
        Ok("network", "rm", net);
    }

    [Fact]
    public void A_published_port_is_reachable_on_127_0_0_1_from_the_host()
    {
        var port = FreePort();
        var web = Unique("pub");
        try
        {
            var (id, _) = StartHttpd(web, "published!", "-p", $"127.0.0.1:{port}:80");
            Assert.Equal("published!", GetWithRetry($"http://127.0.0.1:{port}/"));
            var ports = Inspect(id).GetProperty("NetworkSettings").GetProperty("Ports").GetProperty("80/tcp")[0];
            Assert.Equal(port.ToString(), ports.GetProperty("HostPort").GetString());
            Assert.Contains($"127.0.0.1:{port}->80/tcp", Ok("ps", "--filter", "name=" + web));
        }
        finally
        {
            daemon.Gocker("rm", "-f", web);
        }
        // The DNAT rule went with the container.
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        Assert.ThrowsAny<Exception>(() => http.GetStringAsync($"http://127.0.0.1:{port}/").GetAwaiter().GetResult());
    }

    [Fact]
    public void Restart_of_a_stopped_container_attaches_it_again()
    {
        var name = Unique("again");
        var id = Ok("run", "-d", "--name", name, "busybox", "sleep", "1000");
        try
        {
            string Ip() => Inspect(id).GetProperty("NetworkSettings").GetProperty("IPAddress").GetString()!;
            Assert.True(daemon.Net.Contains(Ip()), Ip());
            Ok("stop", "-t", "0", id);
            Assert.Equal("", Ip());
            Ok("start", id);
            Assert.True(daemon.Net.Contains(Ip()), Ip());
            Ok("restart", "-t", "0", id);
            Assert.True(daemon.Net.Contains(Ip()), Ip());
        }
        finally { Ok("rm", "-f", id); }
    }

    [Fact]
    public void A_failing_cni_plugin_fails_the_start_cleanly_with_its_message()
    {
        var net = Unique("bad");
        Ok("network", "create", net);
        var netId = JsonDocument.Parse(Ok("network", "inspect", net)).RootElement[0].GetProperty("Id").GetString()!;
        var bridge = "gk-" + netId[..12];
        // A device of that name that is not a bridge: the bridge plugin's ADD fails.
        var peer = "gkp" + Guid.NewGuid().ToString("N")[..10];
        var made = Network.Sh.Run("ip", "link", "add", bridge, "type", "veth", "peer", "name", peer);
        Assert.True(made.Code == 0, made.Err);
        try
        {
            var r = daemon.Gocker("run", "--rm", "--network", net, "busybox", "true");
            Assert.Equal(125, r.ExitCode);
            Assert.Contains("bridge", r.Stderr);
            Assert.Contains(bridge, r.Stderr);
        }
        finally
        {
            Network.Sh.Run("ip", "link", "del", bridge);
        }
        Ok("network", "rm", net);
    }

    static int FreePort()
    {
        using var s = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        s.Start();
        return ((System.Net.IPEndPoint)s.LocalEndpoint).Port;
    }
}

/// <summary>The exit path lets the container's netns go and the kernel delete its veth: `rm`
/// (and `run --rm`) still returns only when no veth and no IP allocation is left, also when
/// something outside the container holds its network namespace.</summary>
[Trait("Needs", "root")]
public sealed class NetworkingTeardownTests(DaemonFixture daemon) : IClassFixture<DaemonFixture>, IDisposable
{
    public void Dispose() => daemon.AssertNoLeaks();

    string[] IpamAllocations() =>
        Directory.GetDirectories(Path.Combine(daemon.DataRoot, "network", "ipam"))
            .SelectMany(Directory.GetFiles)
            .Where(f => Path.GetFileName(f) is var n && n != "lock" && !n.StartsWith("last_reserved_ip", StringComparison.Ordinal))
            .ToArray();

    [Fact]
    public void Run_rm_returns_with_no_veth_and_no_ip_left()
    {
        for (int i = 0; i < 10; i++)
        {
            var r = daemon.Gocker("run", "--rm", "busybox", "true");
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Empty(TestNetworkSlot.BridgeMembers(daemon.Net.Bridge));
            Assert.Empty(IpamAllocations());
        }
        // rm right after the exit of a detached container.
        var id = daemon.Gocker("run", "-d", "busybox", "true").Stdout.Trim();
        Assert.Equal(0, daemon.Gocker("wait", id).ExitCode);
        Assert.Equal(0, daemon.Gocker("rm", id).ExitCode);
        Assert.Empty(TestNetworkSlot.BridgeMembers(daemon.Net.Bridge));
        Assert.Empty(IpamAllocations());
    }

    [Fact]
    public void Rm_removes_the_veth_of_a_netns_that_an_outside_process_still_holds()
    {
        var id = daemon.Gocker("run", "-d", "busybox", "sleep", "100").Stdout.Trim();
        var pid = JsonDocument.Parse(daemon.Gocker("inspect", id).Stdout).RootElement[0].GetProperty("State").GetProperty("Pid").GetInt32();
        Assert.NotEmpty(TestNetworkSlot.BridgeMembers(daemon.Net.Bridge));
        // A process outside the container's cgroup and PID namespace joins its network namespace.
        using var holder = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(
            "nsenter", [$"--net=/proc/{pid}/ns/net", "/bin/busybox", "sleep", "100"]))!;
        try
        {
            // The raw link text ("net:[INODE]") names the namespace.
            var own = new FileInfo($"/proc/{pid}/ns/net").LinkTarget;
            Assert.StartsWith("net:[", own);
            for (int i = 0; i < 400 && new FileInfo($"/proc/{holder.Id}/ns/net").LinkTarget != own; i++) Thread.Sleep(5);
            Assert.Equal(own, new FileInfo($"/proc/{holder.Id}/ns/net").LinkTarget);
            Assert.Equal(0, daemon.Gocker("rm", "-f", id).ExitCode);
            Assert.Empty(TestNetworkSlot.BridgeMembers(daemon.Net.Bridge));
            Assert.Empty(IpamAllocations());
        }
        finally
        {
            holder.Kill();
            holder.WaitForExit();
            daemon.Gocker("rm", "-f", id);
        }
    }
}

/// <summary>Many run/rm cycles on the default bridge and a user network leave no veth, rule, IP
/// allocation or endpoint record; a second daemon side by side works on its own bridge.</summary>
[Trait("Needs", "root")]
public sealed class NetworkLeakTests(DaemonFixture daemon) : IClassFixture<DaemonFixture>, IDisposable
{
    public void Dispose() => daemon.AssertNoLeaks();

    [Fact]
    public void Hundred_run_rm_cycles_leave_no_veth_rule_or_ip()
    {
        var net = "leak" + Guid.NewGuid().ToString("N")[..8];
        Assert.Equal(0, daemon.Gocker("network", "create", net).ExitCode);
        for (int i = 0; i < 100; i++)
        {
            string[] args = (i % 4) switch
            {
                0 => ["run", "--rm", "busybox", "true"],
                1 => ["run", "--rm", "--network", net, "-p", "127.0.0.1::80", "busybox", "true"],
                2 => ["run", "--rm", "busybox", "no-such-command"], // start fails after the ADD
                _ => ["run", "--rm", "--network", net, "busybox", "true"],
            };
            var r = daemon.Gocker(args);
            Assert.True(r.ExitCode == (i % 4 == 2 ? 127 : 0), $"cycle {i}: {r}");
        }
        // Detached and force-removed while running.
        for (int i = 0; i < 5; i++)
        {
            var id = daemon.Gocker("run", "-d", "-p", "127.0.0.1::80", "busybox", "sleep", "100").Stdout.Trim();
            Assert.Equal(0, daemon.Gocker("rm", "-f", id).ExitCode);
        }
        daemon.AssertNoNetworkLeaks();
        Assert.Equal(0, daemon.Gocker("network", "rm", net).ExitCode);
    }

    [Fact]
    public void Two_daemons_side_by_side_each_use_their_own_bridge_and_subnet()
    {
        using var other = new DaemonFixture();
        Assert.NotEqual(daemon.Net.Bridge, other.Net.Bridge);
        string Addr(DaemonFixture d)
        {
            var r = d.Gocker("run", "--rm", "busybox", "sh", "-c", "ip -4 -o addr show eth0");
            Assert.True(r.ExitCode == 0, r.ToString());
            return System.Text.RegularExpressions.Regex.Match(r.Stdout, @"inet (\d+\.\d+\.\d+\.\d+)/").Groups[1].Value;
        }
        Assert.True(daemon.Net.Contains(Addr(daemon)));
        Assert.True(other.Net.Contains(Addr(other)));
        other.AssertNoLeaks();
    }
}

/// <summary>Networking across a daemon crash: a running container keeps its address and published
/// port (re-adopted), and one that exits while the daemon is down has its endpoint released at the
/// next start (CleanupStale / re-adoption teardown).</summary>
[Trait("Needs", "root")]
public sealed class NetworkRestartTests : IDisposable
{
    readonly LifecycleDaemon _d = new();

    public void Dispose() => _d.Dispose();

    [Fact]
    public async Task Endpoints_survive_a_daemon_kill_and_dead_containers_are_released_at_restart()
    {
        var www = Directory.CreateDirectory(Path.Combine(_d.Root, "www")).FullName;
        File.WriteAllText(Path.Combine(www, "index.html"), "still here");
        using var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        l.Start();
        var port = ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        var web = _d.Ok("run", "-d", "-p", $"127.0.0.1:{port}:80", "-v", www + ":/www:ro", "busybox", "httpd", "-f", "-p", "80", "-h", "/www");
        var shortLived = _d.Ok("run", "-d", "busybox", "sleep", "2");
        var pinDir = Path.Combine(_d.DataRoot, "network", "netns");
        Assert.Equal(2, Directory.GetFileSystemEntries(pinDir).Length);

        _d.Kill9();
        // The short-lived container exits while no daemon runs.
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (IsAlive(shortLived) && DateTime.UtcNow < deadline) Thread.Sleep(100);
        Assert.False(IsAlive(shortLived), "the short-lived container did not exit");
        _d.Start();

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        Assert.Equal("still here", await http.GetStringAsync($"http://127.0.0.1:{port}/"));
        // Only the live container keeps a pin (its endpoint); the dead one's was released.
        var until = DateTime.UtcNow.AddSeconds(20);
        while (Directory.GetFileSystemEntries(pinDir).Length != 1 && DateTime.UtcNow < until) Thread.Sleep(100);
        Assert.Equal([web], Directory.GetFileSystemEntries(pinDir).Select(p => Path.GetFileName(p)!).ToArray());

        _d.Ok("rm", "-f", web, shortLived);
        Assert.Empty(Directory.GetFileSystemEntries(pinDir));
        Assert.Empty(TestNetworkSlot.BridgeMembers(_d.Net.Bridge));
        // The network's own NAT rule (it names the subnet) stays while the network does.
        Assert.DoesNotContain(_d.Net.RulesNamingSlot(), r => !r.Contains(_d.Net.Subnet));
        _d.AssertNoLeaks();
    }

    bool IsAlive(string id)
    {
        var json = File.ReadAllText(Path.Combine(_d.DataRoot, "containers", id, "state.json"));
        var pid = System.Text.Json.JsonDocument.Parse(json).RootElement.GetProperty("Pid").GetInt32();
        return ProcState.Alive(pid);
    }
}
