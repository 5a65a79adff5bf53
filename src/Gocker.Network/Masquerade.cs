using System.Diagnostics;
using Gocker.Network.Cni;

namespace Gocker.Network;

/// <summary>
/// One source-NAT rule per network, instead of the bridge plugin's ipMasq (which makes a chain and
/// about six iptables calls per container on every ADD and DEL: ~60 ms of a start and ~70 ms of a
/// removal on the project's machines). The rule is the same for every container of the network:
///   -t nat POSTROUTING -s SUBNET ! -o BRIDGE -m comment --comment "gocker-net ID12" -j MASQUERADE
/// It is added when the network is first used by this daemon (checked with -C first, so a daemon
/// restart does not duplicate it) and deleted with the network.
/// </summary>
public sealed class Masquerade
{
    readonly HashSet<string> _ensured = new(StringComparer.Ordinal);
    readonly object _lock = new();

    public static string Comment(NetworkRecord net) => "gocker-net " + net.Id[..12];

    static string[] Rule(NetworkRecord net) =>
        ["POSTROUTING", "-s", net.Subnet, "!", "-o", net.Bridge, "-m", "comment", "--comment", Comment(net), "-j", "MASQUERADE"];

    /// <summary>Makes sure the network's rule exists (once per daemon and network: later calls cost nothing).</summary>
    public void Ensure(NetworkRecord net)
    {
        lock (_lock)
        {
            if (_ensured.Contains(net.Id)) return;
            if (Iptables(["-C", .. Rule(net)]).Code != 0)
            {
                var (code, err) = Iptables(["-A", .. Rule(net)]);
                if (code != 0) throw new CniException("masquerade", "ADD", $"iptables -t nat -A POSTROUTING -s {net.Subnet}: {err.Trim()}");
            }
            _ensured.Add(net.Id);
        }
    }

    /// <summary>Deletes every copy of the network's rule; absent is fine.</summary>
    public void Remove(NetworkRecord net)
    {
        lock (_lock)
        {
            _ensured.Remove(net.Id);
            for (var i = 0; i < 16 && Iptables(["-D", .. Rule(net)]).Code == 0; i++) { }
        }
    }

    static (int Code, string Err) Iptables(string[] args)
    {
        var psi = new ProcessStartInfo("iptables", ["-w", "-t", "nat", .. args]) { RedirectStandardError = true, RedirectStandardOutput = true };
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
