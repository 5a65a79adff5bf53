using System.Text;
using System.Text.Json;

namespace Gocker.Network.Cni;

/// <summary>The plugin chain of a Gocker network, as CNI network configurations:
///   bridge (+ host-local IPAM): veth pair, bridge device, gateway address (NAT: one rule per
///     network, see NetworkRules, rather than the plugin's per-container ipMasq chains)
///   firewall (optional): accepts the container's traffic when the host's FORWARD policy drops
///   portmap (only when ports are published): DNAT from host ports, SNAT for hairpin and 127.0.0.1
/// </summary>
public static class CniConfig
{
    public const string Version = "1.0.0";
    /// <summary>The IPAM plugin of the bridge configuration below.</summary>
    public const string BridgeIpam = "host-local";

    public static List<string> Chain(bool firewall, bool ports)
    {
        var chain = new List<string> { "bridge" };
        if (firewall) chain.Add("firewall");
        if (ports) chain.Add("portmap");
        return chain;
    }

    public static string For(string plugin, NetworkRecord net, string ipamDir, IReadOnlyList<PortMapping> ports, string? prevResult)
    {
        var buf = new MemoryStream();
        using (var w = new Utf8JsonWriter(buf))
        {
            w.WriteStartObject();
            w.WriteString("cniVersion", Version);
            // The CNI network name keys host-local's allocations (ipamDir/NAME) and the comments on
            // the plugins' iptables rules; the network id is stable and unique per state dir.
            w.WriteString("name", CniName(net));
            w.WriteString("type", plugin);
            switch (plugin)
            {
                case "bridge":
                    w.WriteString("bridge", net.Bridge);
                    w.WriteBoolean("isGateway", true);
                    w.WriteBoolean("ipMasq", false);
                    // Lets a container reach its own published port through the host's address.
                    w.WriteBoolean("hairpinMode", true);
                    w.WriteStartObject("ipam");
                    w.WriteString("type", BridgeIpam);
                    w.WriteString("dataDir", ipamDir);
                    w.WriteStartArray("ranges");
                    w.WriteStartArray();
                    w.WriteStartObject();
                    w.WriteString("subnet", net.Subnet);
                    w.WriteString("gateway", net.Gateway);
                    w.WriteEndObject();
                    w.WriteEndArray();
                    w.WriteEndArray();
                    w.WriteStartArray("routes");
                    w.WriteStartObject();
                    w.WriteString("dst", "0.0.0.0/0");
                    w.WriteEndObject();
                    w.WriteEndArray();
                    w.WriteEndObject();
                    break;
                case "firewall":
                    w.WriteString("backend", "iptables");
                    break;
                case "portmap":
                    w.WriteStartObject("capabilities");
                    w.WriteBoolean("portMappings", true);
                    w.WriteEndObject();
                    // snat: masquerade hairpin and localhost-originated connections, and set
                    // route_localnet on the bridge, so 127.0.0.1:HOSTPORT reaches the container.
                    w.WriteBoolean("snat", true);
                    w.WriteStartObject("runtimeConfig");
                    w.WriteStartArray("portMappings");
                    foreach (var p in ports)
                    {
                        w.WriteStartObject();
                        w.WriteNumber("hostPort", p.HostPort);
                        w.WriteNumber("containerPort", p.ContainerPort);
                        w.WriteString("protocol", p.Protocol);
                        if (p.HostIp.Length > 0) w.WriteString("hostIP", p.HostIp);
                        w.WriteEndObject();
                    }
                    w.WriteEndArray();
                    w.WriteEndObject();
                    break;
                default:
                    throw new ArgumentException($"unknown CNI plugin {plugin}");
            }
            if (prevResult is not null)
            {
                w.WritePropertyName("prevResult");
                w.WriteRawValue(prevResult);
            }
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buf.GetBuffer(), 0, (int)buf.Length);
    }

    public static string CniName(NetworkRecord net) => "gocker-" + net.Id[..12];
}

/// <summary>The parts of a CNI (1.0.0) ADD result Gocker uses.</summary>
public sealed record CniResult(string Address, string Gateway, string Mac)
{
    public static CniResult Parse(string json, string ifName)
    {
        using var doc = JsonDocument.Parse(json);
        var r = doc.RootElement;
        var ifaces = r.TryGetProperty("interfaces", out var i) ? i.EnumerateArray().ToList() : [];
        if (!r.TryGetProperty("ips", out var ips) || ips.ValueKind != JsonValueKind.Array)
            throw new CniException("bridge", "ADD", $"the result has no ips for {ifName}");
        foreach (var ip in ips.EnumerateArray())
        {
            var addr = ip.GetProperty("address").GetString() ?? "";
            if (!addr.Contains('.')) continue;
            var gw = ip.TryGetProperty("gateway", out var g) ? g.GetString() ?? "" : "";
            var mac = "";
            if (ip.TryGetProperty("interface", out var idx) && idx.GetInt32() is var n && n >= 0 && n < ifaces.Count)
                mac = ifaces[n].TryGetProperty("mac", out var m) ? m.GetString() ?? "" : "";
            return new CniResult(addr, gw, mac);
        }
        throw new CniException("bridge", "ADD", $"the result has no IPv4 address for {ifName}");
    }
}

/// <summary>The host-side devices an ADD result names: interfaces outside the container's
/// namespace (no "sandbox") other than the bridge, i.e. the host end of the veth pair.</summary>
public static class CniResultDevices
{
    public static List<string> HostVeths(string? resultJson, string bridge)
    {
        var list = new List<string>();
        if (string.IsNullOrEmpty(resultJson)) return list;
        try
        {
            using var doc = JsonDocument.Parse(resultJson);
            if (!doc.RootElement.TryGetProperty("interfaces", out var ifaces) || ifaces.ValueKind != JsonValueKind.Array) return list;
            foreach (var i in ifaces.EnumerateArray())
            {
                if (i.TryGetProperty("sandbox", out var sb) && sb.GetString() is { Length: > 0 }) continue;
                if (i.TryGetProperty("name", out var n) && n.GetString() is { Length: > 0 } name && name != bridge) list.Add(name);
            }
        }
        catch (JsonException) { list.Clear(); }
        return list;
    }
}
