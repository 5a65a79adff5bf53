using System.Text;

namespace Gocker.Network;

/// <summary>The per-container /etc/hosts, /etc/hostname and /etc/resolv.conf (the init
/// bind-mounts them over the image's files).</summary>
public static class EtcFiles
{
    public const string Hosts = "hosts";
    public const string Hostname = "hostname";
    public const string ResolvConf = "resolv.conf";

    public sealed record HostEntry(string Ip, IReadOnlyList<string> Names);

    public static string HostsContent(IEnumerable<HostEntry> own, IEnumerable<HostEntry> peers) => HostsContent(own, peers, []);

    /// <summary>Docker's order: the loopback entries, then --add-host's (so that they win over the
    /// container's own and its peers' names), then the container's own addresses, then its peers'.</summary>
    public static string HostsContent(IEnumerable<HostEntry> own, IEnumerable<HostEntry> peers, IEnumerable<HostEntry> extra)
    {
        var sb = new StringBuilder();
        sb.Append("127.0.0.1\tlocalhost\n");
        sb.Append("::1\tlocalhost ip6-localhost ip6-loopback\n");
        sb.Append("fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n");
        foreach (var e in extra.Concat(own).Concat(peers))
            sb.Append(e.Ip).Append('\t').Append(string.Join(' ', e.Names.Where(n => n.Length > 0).Distinct())).Append('\n');
        return sb.ToString();
    }

    /// <summary>The host's resolv.conf without loopback nameservers: 127.0.0.53 and friends are the
    /// host's own stub resolver, unreachable from the container's network namespace. No public
    /// resolvers are substituted: with none left the container simply has no nameserver.</summary>
    public static string ResolvConfContent(string hostResolvConf) => ResolvConfContent(hostResolvConf, null);

    /// <summary>As Docker: --dns replaces the nameservers, --dns-search the search/domain lines
    /// ("." = none), --dns-option the options; what was not given comes from the host's file.</summary>
    public static string ResolvConfContent(string hostResolvConf, NameSettings? names, bool keepLoopback = false)
    {
        var host = HostResolvConf(hostResolvConf, keepLoopback);
        if (names is null || (names.Dns is null && names.DnsSearch is null && names.DnsOptions is null)) return host;
        var lines = host.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        bool Is(string line, params string[] keys) => keys.Any(k => line.StartsWith(k + " ", StringComparison.Ordinal));
        var sb = new StringBuilder();
        if (names.Dns is { } dns) foreach (var d in dns) sb.Append("nameserver ").Append(d).Append('\n');
        else foreach (var l in lines.Where(l => Is(l, "nameserver"))) sb.Append(l).Append('\n');
        if (names.DnsSearch is { } search) { if (search.Count > 0 && !search.Contains(".")) sb.Append("search ").Append(string.Join(' ', search)).Append('\n'); }
        else foreach (var l in lines.Where(l => Is(l, "search", "domain"))) sb.Append(l).Append('\n');
        if (names.DnsOptions is { Count: > 0 } options) sb.Append("options ").Append(string.Join(' ', options)).Append('\n');
        else foreach (var l in lines.Where(l => Is(l, "options"))) sb.Append(l).Append('\n');
        foreach (var l in lines.Where(l => Is(l, "sortlist"))) sb.Append(l).Append('\n');
        return sb.ToString();
    }

    static string HostResolvConf(string hostResolvConf, bool keepLoopback = false)
    {
        string[] lines;
        try { lines = File.ReadAllLines(hostResolvConf); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { lines = []; }
        var sb = new StringBuilder();
        foreach (var raw in lines)
        {
            var line = raw.Trim();
            var fields = line.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length == 0 || line.StartsWith('#') || line.StartsWith(';')) continue;
            switch (fields[0])
            {
                case "nameserver" when fields.Length > 1 && !keepLoopback && IsLoopback(fields[1]):
                    continue;
                case "nameserver" or "search" or "domain" or "options" or "sortlist":
                    sb.Append(string.Join(' ', fields)).Append('\n');
                    break;
            }
        }
        return sb.ToString();
    }

    static bool IsLoopback(string addr) =>
        addr.StartsWith("127.", StringComparison.Ordinal) || addr == "::1" ||
        (System.Net.IPAddress.TryParse(addr, out var ip) && System.Net.IPAddress.IsLoopback(ip));
}
