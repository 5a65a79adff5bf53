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

    public static string HostsContent(IEnumerable<HostEntry> own, IEnumerable<HostEntry> peers)
    {
        var sb = new StringBuilder();
        sb.Append("127.0.0.1\tlocalhost\n");
        sb.Append("::1\tlocalhost ip6-localhost ip6-loopback\n");
        sb.Append("fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n");
        foreach (var e in own.Concat(peers))
            sb.Append(e.Ip).Append('\t').Append(string.Join(' ', e.Names.Where(n => n.Length > 0).Distinct())).Append('\n');
        return sb.ToString();
    }

    /// <summary>The host's resolv.conf without loopback nameservers: 127.0.0.53 and friends are the
    /// host's own stub resolver, unreachable from the container's network namespace. No public
    /// resolvers are substituted: with none left the container simply has no nameserver.</summary>
    public static string ResolvConfContent(string hostResolvConf)
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
                case "nameserver" when fields.Length > 1 && IsLoopback(fields[1]):
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
