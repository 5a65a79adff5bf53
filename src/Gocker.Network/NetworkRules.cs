using System.Diagnostics;
using Gocker.Network.Cni;

namespace Gocker.Network;

/// <summary>
/// The host rules a network needs, one set per network rather than per container:
/// - NAT to the outside, instead of the bridge plugin's ipMasq (which makes a chain and about six
///   iptables calls per container on every ADD and DEL: ~60 ms of a start and ~70 ms of a removal):
///     -t nat POSTROUTING -s SUBNET ! -o BRIDGE -m comment --comment "gocker-net ID12" -j MASQUERADE
/// - Isolation between networks, as Docker's DOCKER-ISOLATION chains: traffic that leaves one Gocker
///   bridge for another is dropped (containers talk within their networks; a container on two
///   networks talks on both). Two shared chains, jumped to first from FORWARD:
///     GOCKER-ISOLATION-1:  -i BRIDGE ! -o BRIDGE -j GOCKER-ISOLATION-2   (leaves a Gocker bridge)
///     GOCKER-ISOLATION-2:  -o BRIDGE -j DROP                             (enters another one)
///   Host-originated traffic (OUTPUT) and traffic from the outside (published ports) never match.
/// Added at the network's first use by this daemon (checked with -C first, so a daemon restart does
/// not duplicate them), deleted with the network; like the bridge device they outlive the daemon.
/// The shared chains and FORWARD's jump stay (empty), like portmap's.
/// </summary>
public sealed class NetworkRules
{
    public const string Isolation1 = "GOCKER-ISOLATION-1";
    public const string Isolation2 = "GOCKER-ISOLATION-2";

    readonly HashSet<string> _ensured = new(StringComparer.Ordinal);
    readonly object _lock = new();

    public static string Comment(NetworkRecord net) => "gocker-net " + net.Id[..12];

    static (string Table, string[] Rule)[] Rules(NetworkRecord net) =>
    [
        ("nat", ["POSTROUTING", "-s", net.Subnet, "!", "-o", net.Bridge, "-m", "comment", "--comment", Comment(net), "-j", "MASQUERADE"]),
        ("filter", [Isolation1, "-i", net.Bridge, "!", "-o", net.Bridge, "-j", Isolation2]),
        ("filter", [Isolation2, "-o", net.Bridge, "-j", "DROP"]),
    ];

    /// <summary>Makes sure the network's rules exist (once per daemon and network: later calls cost nothing).</summary>
    public void Ensure(NetworkRecord net)
    {
        lock (_lock)
        {
            if (_ensured.Contains(net.Id)) return;
            EnsureChains();
            foreach (var (table, rule) in Rules(net))
            {
                if (Iptables(table, ["-C", .. rule]).Code == 0) continue;
                var (code, err) = Iptables(table, ["-A", .. rule]);
                if (code != 0) throw new CniException("host-rules", "ADD", $"iptables -t {table} -A {string.Join(' ', rule)}: {err.Trim()}");
            }
            _ensured.Add(net.Id);
        }
    }

    /// <summary>Deletes every copy of the network's rules; absent is fine.</summary>
    public void Remove(NetworkRecord net)
    {
        lock (_lock)
        {
            _ensured.Remove(net.Id);
            foreach (var (table, rule) in Rules(net))
                for (var i = 0; i < 16 && Iptables(table, ["-D", .. rule]).Code == 0; i++) { }
        }
    }

    static void EnsureChains()
    {
        foreach (var chain in new[] { Isolation1, Isolation2 })
            if (Iptables("filter", ["-n", "-L", chain]).Code != 0)
            {
                var (code, err) = Iptables("filter", ["-N", chain]);
                // Another daemon may have made it meanwhile.
                if (code != 0 && Iptables("filter", ["-n", "-L", chain]).Code != 0)
                    throw new CniException("host-rules", "ADD", $"iptables -N {chain}: {err.Trim()}");
            }
        if (Iptables("filter", ["-C", "FORWARD", "-j", Isolation1]).Code != 0)
        {
            var (code, err) = Iptables("filter", ["-I", "FORWARD", "1", "-j", Isolation1]);
            if (code != 0) throw new CniException("host-rules", "ADD", $"iptables -I FORWARD -j {Isolation1}: {err.Trim()}");
        }
    }

    static (int Code, string Err) Iptables(string table, string[] args)
    {
        var psi = new ProcessStartInfo("iptables", ["-w", "-t", table, .. args]) { RedirectStandardError = true, RedirectStandardOutput = true };
        try
        {
            using var p = Process.Start(psi)!;
            var err = p.StandardError.ReadToEndAsync();
            p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            return (p.ExitCode, err.Result);
        }
        catch (System.ComponentModel.Win32Exception ex) { return (127, "iptables: " + ex.Message); }
    }
}
