using System.Diagnostics;
using System.Text.Json;

namespace Gocker.Tests.Integration;

/// <summary>
/// The host's iptables rules and bridge devices of Gocker networks (NetworkRules, portmap's DNAT):
/// each rule exists exactly once however many daemon restarts (kill -9 and SIGTERM) and data roots
/// use the same bridge and subnet, goes with `network rm`, and a clean stop of the last daemon with
/// no container on the bridge leaves nothing behind. Counted in iptables-save, as a user would.
/// </summary>
[Trait("Needs", "root")]
public sealed class HostRulesTests : IDisposable
{
    readonly LifecycleDaemon _a = new();
    LifecycleDaemon? _b;
    readonly List<string> _userBridges = [];

    public void Dispose()
    {
        // A failed run may leave containers (and portmap's DNAT chains): removed through a daemon,
        // which DELs them, before the fixtures kill what is left.
        foreach (var d in new[] { _b, _a })
        {
            if (d is null) continue;
            try
            {
                if (!d.Ping()) d.Start();
                var ids = d.Gocker("ps", "-aq").Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
                if (ids.Length > 0) d.Gocker(["rm", "-f", .. ids]);
            }
            catch { /* the fixtures' Dispose still cleans up */ }
        }
        _b?.Dispose();
        _a.Dispose();
        foreach (var br in _userBridges)
        {
            try { TestNetworkSlot.DeleteBridge(br); } catch { }
        }
        try { TestNetworkSlot.DeleteBridgeRules(_userBridges); } catch { }
    }

    /// <summary>Every rule (all tables) that names an address of the test's slot (the default
    /// subnet, user network subnets, container IPs) or one of its bridges, as iptables-save prints it.</summary>
    List<string> Rules()
    {
        var bridges = _userBridges.Append(_a.Net.Bridge).ToHashSet();
        var naming = _a.Net.RulesNamingSlot().ToHashSet();
        return Run("iptables-save").Split('\n')
            .Where(l => l.StartsWith("-A ", StringComparison.Ordinal))
            .Where(l => naming.Contains(l) || l.Split(' ').Any(bridges.Contains))
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    static void AssertNoDuplicates(List<string> rules, string when)
    {
        var dups = rules.GroupBy(r => r).Where(g => g.Count() > 1).Select(g => $"{g.Count()}x {g.Key}").ToList();
        Assert.True(dups.Count == 0, $"{when}: duplicated rules:\n{string.Join('\n', dups)}");
    }

    static void AssertSame(List<string> expected, List<string> actual, string when) =>
        Assert.True(expected.SequenceEqual(actual),
            $"{when}: rules differ\n--- expected\n{string.Join('\n', expected)}\n--- actual\n{string.Join('\n', actual)}");

    static int Masquerades(List<string> rules, string subnet) =>
        rules.Count(r => r.StartsWith("-A POSTROUTING ", StringComparison.Ordinal) && r.Contains($"-s {subnet} ") && r.EndsWith("-j MASQUERADE", StringComparison.Ordinal));

    static bool BridgeExists(string bridge) => Directory.Exists("/sys/class/net/" + bridge);

    [Fact]
    public void Rules_exist_once_across_restarts_and_data_roots_and_nothing_is_left_after_a_clean_stop()
    {
        var net = _a.Net;
        Assert.Empty(Rules()); // a daemon adds them at a network's first use, not before

        // A published port on the default network, and a user network with a container.
        var tag = Guid.NewGuid().ToString("N")[..6];
        var web = _a.Ok("run", "-d", "--name", "hr-web-" + tag, "-p", "80", "busybox", "sleep", "1000");
        var rn = "hr-net-" + tag;
        _a.Ok("network", "create", rn);
        var info = JsonDocument.Parse(_a.Ok("network", "inspect", rn)).RootElement[0];
        var rnBridge = info.GetProperty("GockerBridge").GetString()!;
        var rnSubnet = info.GetProperty("IPAM").GetProperty("Config")[0].GetProperty("Subnet").GetString()!;
        _userBridges.Add(rnBridge);
        Assert.True(net.Contains(rnSubnet.Split('/')[0]), $"user network subnet {rnSubnet} outside the test's slot");
        var onRn = _a.Ok("run", "-d", "--network", rn, "--name", "hr-rn-" + tag, "busybox", "sleep", "1000");
        var webIp = JsonDocument.Parse(_a.Ok("inspect", web)).RootElement[0].GetProperty("NetworkSettings").GetProperty("IPAddress").GetString()!;

        var s1 = Rules();
        AssertNoDuplicates(s1, "after starts");
        Assert.Equal(1, Masquerades(s1, net.Subnet));
        Assert.Equal(1, Masquerades(s1, rnSubnet));
        Assert.Equal(2, TestNetworkSlot.BridgeRules(net.Bridge).Count);
        Assert.Equal(2, TestNetworkSlot.BridgeRules(rnBridge).Count);
        Assert.Single(s1, r => r.Contains("DNAT") && r.Contains($"--to-destination {webIp}:80"));

        // Three restarts of each kind while the containers run; every network used again after each.
        for (int i = 0; i < 3; i++)
        {
            foreach (var how in new[] { "kill -9", "SIGTERM" })
            {
                if (how == "kill -9") _a.Kill9(); else _a.Stop();
                // Containers run on: the bridges keep their veths, so even a clean stop keeps their rules.
                AssertSame(s1, Rules(), $"after {how} #{i + 1} (daemon down)");
                Assert.True(BridgeExists(net.Bridge) && BridgeExists(rnBridge), $"a bridge in use went with {how}");
                _a.Start();
                _a.Ok("run", "--rm", "busybox", "true");
                _a.Ok("run", "--rm", "--network", rn, "busybox", "true");
                AssertSame(s1, Rules(), $"after {how} restart #{i + 1}");
            }
        }

        // An older daemon's rule in the per-network-id form (one per data root that used the bridge,
        // 30 of them on a long-used host) is recognised as the same rule and dropped.
        Run("iptables", "-w", "-t", "nat", "-A", "POSTROUTING", "-s", net.Subnet, "!", "-o", net.Bridge,
            "-m", "comment", "--comment", "gocker-net 0123456789ab", "-j", "MASQUERADE");
        Assert.Equal(2, Masquerades(Rules(), net.Subnet));

        // A second daemon with its own data root on the same bridge and subnet, while the first runs.
        _b = new LifecycleDaemon(sharedNet: net);
        _b.Ok("run", "--rm", "busybox", "true");
        AssertSame(s1, Rules(), "after a second data root used the same subnet");
        // Its clean stop leaves the rules and bridge that the first daemon's containers still use.
        _b.Stop();
        AssertSame(s1, Rules(), "after the second daemon's clean stop");
        Assert.True(BridgeExists(net.Bridge), "the shared bridge went while containers of another daemon are on it");
        _b.Start();

        // network rm: its rules and bridge go, the others stay.
        _a.Ok("rm", "-f", onRn);
        _a.Ok("network", "rm", rn);
        var afterRm = Rules();
        Assert.DoesNotContain(afterRm, r => r.Contains(rnSubnet) || r.Split(' ').Contains(rnBridge));
        Assert.False(BridgeExists(rnBridge), $"bridge {rnBridge} left after network rm");
        AssertSame(s1.Where(r => !r.Contains(rnSubnet) && !r.Split(' ').Contains(rnBridge)).ToList(), afterRm, "after network rm");

        // rm of the published container: its DNAT goes; the network's own three rules stay.
        _a.Ok("rm", "-f", web);
        var networkOnly = Rules();
        Assert.DoesNotContain(networkOnly, r => r.Contains(webIp));
        Assert.Equal(3, networkOnly.Count);
        Assert.Equal(1, Masquerades(networkOnly, net.Subnet));

        // A clean stop with no container on the bridge (the other daemon has none): nothing left.
        _a.Stop();
        Assert.Empty(Rules());
        Assert.False(BridgeExists(net.Bridge), $"bridge {net.Bridge} left after a clean stop");

        // The second daemon had its rules checked before (cached); finding the bridge gone, it adds them back, once.
        var late = _b.Ok("run", "-d", "busybox", "sleep", "1000");
        var back = Rules();
        AssertNoDuplicates(back, "after the second daemon's next start");
        Assert.Equal(1, Masquerades(back, net.Subnet));
        Assert.Equal(2, TestNetworkSlot.BridgeRules(net.Bridge).Count);
        _b.Ok("rm", "-f", late);
        _b.Stop();
        Assert.Empty(Rules());
        Assert.False(BridgeExists(net.Bridge), $"bridge {net.Bridge} left after the last clean stop");
    }

    static string Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{file} {string.Join(' ', args)}: exit {p.ExitCode}: {e}");
        return o.Result;
    }
}
