using System.Net;

namespace Gocker.Network;

/// <summary>What a container asked for in its generated /etc/hosts and /etc/resolv.conf (Docker's
/// --network-alias, --domainname, --add-host, --dns, --dns-search, --dns-option). Gocker has no
/// embedded DNS server: names resolve through the hosts files, which are rewritten whenever a
/// container joins or leaves a user network.</summary>
public sealed record NameSettings
{
    /// <summary>Network-scoped aliases on the container's first network (only a user network).</summary>
    public List<string> Aliases { get; init; } = [];
    public string Domainname { get; init; } = "";
    /// <summary>"NAME:IP" as given; IP may be "host-gateway" (the default network's gateway, as Docker's default bridge).</summary>
    public List<string> ExtraHosts { get; init; } = [];
    /// <summary>Null: the host's values (without loopback nameservers); else these replace them.</summary>
    public List<string>? Dns { get; init; }
    public List<string>? DnsSearch { get; init; }
    public List<string>? DnsOptions { get; init; }

    public static readonly NameSettings None = new();

    public const string HostGateway = "host-gateway";

    /// <summary>A host name or alias as it may appear in a hosts file: letters, digits, '.', '-' and '_',
    /// at most 255. Anything else is refused, in particular white space, '#' and new lines: an alias is
    /// written into the hosts files of every other container on the network, and a name holding
    /// "\n1.2.3.4 victim" would otherwise plant entries in them (hosts-file injection).</summary>
    public static void ValidateName(string name, string what)
    {
        if (string.IsNullOrEmpty(name) || name.Length > 255 || name.StartsWith('-') || name.StartsWith('.') ||
            !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_'))
            throw new ArgumentException($"invalid {what} \"{Shown(name)}\": use letters, digits, '.', '-' and '_' (at most 255)");
    }

    /// <summary>"NAME:IP" (IPv4, IPv6 or host-gateway); returns the parts.</summary>
    public static (string Name, string Ip) ParseExtraHost(string entry)
    {
        var colon = entry.IndexOf(':');
        if (colon <= 0) throw new ArgumentException($"invalid --add-host \"{Shown(entry)}\": expected NAME:IP");
        var (name, ip) = (entry[..colon], entry[(colon + 1)..]);
        ValidateName(name, "--add-host host name");
        // Docker's CLI accepts "[::1]" for IPv6.
        if (ip.StartsWith('[') && ip.EndsWith(']')) ip = ip[1..^1];
        if (ip != HostGateway && !IsIp(ip))
            throw new ArgumentException($"invalid --add-host \"{Shown(entry)}\": \"{Shown(ip)}\" is not an IP address (or host-gateway)");
        return (name, ip);
    }

    public static void ValidateDns(string server)
    {
        if (!IsIp(server))
            throw new ArgumentException($"invalid --dns \"{Shown(server)}\": not an IP address");
    }

    public static void ValidateDnsSearch(string domain)
    {
        // "." alone: no search domains (Docker's meaning).
        if (domain == ".") return;
        if (domain.Length > 253 || domain.StartsWith('.') || domain.StartsWith('-')) throw new ArgumentException($"invalid --dns-search \"{Shown(domain)}\": not a domain name");
        ValidateName(domain.TrimEnd('.'), "--dns-search domain");
    }

    public static void ValidateDnsOption(string option)
    {
        // resolv.conf(5) options are single words (ndots:2, timeout:1, rotate, edns0...): one line, no spaces.
        if (string.IsNullOrEmpty(option) || option.Length > 64 || !option.All(c => char.IsAsciiLetterOrDigit(c) || c is ':' or '-' or '_' or '.'))
            throw new ArgumentException($"invalid --dns-option \"{Shown(option)}\": one word such as ndots:2");
    }

    /// <summary>A literal IPv4 (four decimal parts: IPAddress.TryParse also takes "1.2.3" and "0x7f.1")
    /// or IPv6 address.</summary>
    public static bool IsIp(string s) => s.Contains(':')
        ? IPAddress.TryParse(s, out var v6) && v6.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
        : s.Split('.') is { Length: 4 } parts && parts.All(p => p.Length is > 0 and <= 3 && p.All(char.IsAsciiDigit) && int.Parse(p) <= 255);

    static string Shown(string s) => s.Length <= 80 ? s.Replace("\n", "\\n") : s[..77].Replace("\n", "\\n") + "...";
}
