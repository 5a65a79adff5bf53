using System.Diagnostics;
using System.Net;
using System.Text.RegularExpressions;

namespace Gocker.Tests.Integration;

/// <summary>
/// A test daemon's own piece of the network: a bridge device name and a /21 of 10.0.0.0/8 that no
/// other test daemon (in this process) and no host route uses. The default network gets the first
/// /24, user networks the upper /22. Daemons side by side never share a bridge or an address.
/// </summary>
public sealed partial class TestNetworkSlot
{
    static readonly object Lock = new();
    static readonly HashSet<uint> Taken = [];
    static readonly List<TestNetworkSlot> All = [];

    /// <summary>A safety net for fixtures that could not clean up (a constructor or Dispose that
    /// threw): the per-network host rules of every slot this test run used go when it ends.</summary>
    static TestNetworkSlot() => AppDomain.CurrentDomain.ProcessExit += (_, _) =>
    {
        List<TestNetworkSlot> slots;
        lock (Lock) slots = [.. All];
        foreach (var s in slots)
        {
            try { s.DeleteNetworkRules(); } catch { }
        }
        try { DeleteBridgeRules(slots.Select(s => s.Bridge)); } catch { }
    };

    public string Bridge { get; }
    public uint Block { get; }
    public string Subnet => Format(Block) + "/24";
    public string AddressPool => Format(Block + 4 * 256) + "/22";

    /// <summary>gockerd --netns-pool: off unless a test wants the pool (the leak checks of classes
    /// that count veths and IPs then account for the pool's slots, see TestPoolSlots).</summary>
    public int NetnsPool { get; set; }

    public string[] DaemonArgs => ["--bridge", Bridge, "--bridge-subnet", Subnet, "--address-pool", AddressPool, "--netns-pool", NetnsPool.ToString()];

    public TestNetworkSlot(string tag)
    {
        Bridge = "gt" + tag[..10];
        var routes = HostRoutes();
        lock (Lock)
        {
            for (int attempt = 0; attempt < 1000; attempt++)
            {
                // 10.100.0.0 - 10.249.255.255, /21 aligned.
                uint block = (10u << 24) | ((uint)Random.Shared.Next(100, 250) << 16) | ((uint)Random.Shared.Next(0, 32) << 11);
                if (Taken.Contains(block) || routes.Any(r => Overlaps(r.Net, r.Prefix, block, 21))) continue;
                Taken.Add(block);
                Block = block;
                All.Add(this);
                return;
            }
        }
        throw new InvalidOperationException("no free /21 for a test daemon");
    }

    /// <summary>True when ip (dotted) lies in this slot's /21.</summary>
    public bool Contains(string ip) =>
        IPAddress.TryParse(ip, out var a) && a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork
        && (ToUint(a) & 0xFFFFF800u) == Block;

    /// <summary>iptables/nft rules that name an address of this slot (per-container rules: masquerade, DNAT).</summary>
    public List<string> RulesNamingSlot()
    {
        var text = Run("iptables-save") + (File.Exists("/usr/sbin/nft") ? Run("/usr/sbin/nft", "list", "ruleset") : "");
        return text.Split('\n').Where(l => Ipv4().Matches(l).Any(m => Contains(m.Value))).ToList();
    }

    /// <summary>Removes the per-network NAT rules (Gocker's NetworkRules) naming this slot's
    /// addresses: they live as long as their network, which outlives a killed daemon.</summary>
    public void DeleteNetworkRules()
    {
        foreach (var line in Run("iptables-save", "-t", "nat").Split('\n'))
        {
            if (!line.StartsWith("-A POSTROUTING", StringComparison.Ordinal) || !line.Contains("gocker-net ")) continue;
            if (!Ipv4().Matches(line).Any(m => Contains(m.Value))) continue;
            var m = System.Text.RegularExpressions.Regex.Match(line, "-s (\\S+) ! -o (\\S+) -m comment --comment \"([^\"]+)\" -j MASQUERADE");
            if (m.Success)
                Run("iptables", "-w", "-t", "nat", "-D", "POSTROUTING", "-s", m.Groups[1].Value, "!", "-o", m.Groups[2].Value,
                    "-m", "comment", "--comment", m.Groups[3].Value, "-j", "MASQUERADE");
        }
    }

    /// <summary>Removes the isolation rules (Gocker's NetworkRules, filter table) naming these bridges.</summary>
    public static void DeleteBridgeRules(IEnumerable<string> bridges)
    {
        var names = bridges.ToHashSet();
        foreach (var line in Run("iptables-save", "-t", "filter").Split('\n'))
        {
            if (!line.StartsWith("-A GOCKER-ISOLATION-", StringComparison.Ordinal)) continue;
            var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (!words.Any(names.Contains)) continue;
            Run("iptables", ["-w", "-t", "filter", "-D", .. words.Skip(1)]);
        }
    }

    /// <summary>The isolation rules naming <paramref name="bridge"/>.</summary>
    public static List<string> BridgeRules(string bridge) =>
        Run("iptables-save", "-t", "filter").Split('\n')
            .Where(l => l.StartsWith("-A GOCKER-ISOLATION-", StringComparison.Ordinal) && l.Split(' ').Contains(bridge)).ToList();

    /// <summary>Interfaces enslaved to the bridge (container veths).</summary>
    public static List<string> BridgeMembers(string bridge)
    {
        var dir = $"/sys/class/net/{bridge}/brif";
        return Directory.Exists(dir) ? Directory.GetFileSystemEntries(dir).Select(p => Path.GetFileName(p)).ToList() : [];
    }

    public static void DeleteBridge(string bridge)
    {
        if (Directory.Exists($"/sys/class/net/{bridge}")) Run("ip", "link", "del", bridge);
    }

    static List<(uint Net, int Prefix)> HostRoutes()
    {
        var list = new List<(uint, int)>();
        foreach (var line in Run("ip", "-4", "-o", "route", "show", "table", "all").Split('\n'))
        {
            var first = line.Split(' ', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault(w => w != "local" && w != "broadcast" && w != "unicast");
            if (first is null) continue;
            var parts = first.Split('/');
            if (!IPAddress.TryParse(parts[0], out var a) || a.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork) continue;
            var prefix = parts.Length == 2 && int.TryParse(parts[1], out var p) ? p : 32;
            if (prefix == 0) continue; // the default route overlaps everything and means nothing here
            list.Add((ToUint(a), prefix));
        }
        return list;
    }

    static bool Overlaps(uint a, int pa, uint b, int pb)
    {
        var p = Math.Min(pa, pb);
        uint mask = p == 0 ? 0 : 0xFFFFFFFFu << (32 - p);
        return (a & mask) == (b & mask);
    }

    static uint ToUint(IPAddress a)
    {
        var b = a.GetAddressBytes();
        return (uint)(b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3]);
    }

    static string Format(uint v) => $"{v >> 24}.{(v >> 16) & 255}.{(v >> 8) & 255}.{v & 255}";

    static string Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var o = p.StandardOutput.ReadToEndAsync();
        p.StandardError.ReadToEnd();
        p.WaitForExit();
        return o.Result;
    }

    [GeneratedRegex(@"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b")]
    private static partial Regex Ipv4();
}
