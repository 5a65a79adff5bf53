using System.Net;
using System.Net.Sockets;

namespace Gocker.Network;

/// <summary>A published port: HostIp:HostPort on the host forwards to ContainerPort in the
/// container (portmap plugin). HostIp "" = every host address.</summary>
public sealed record PortMapping(string HostIp, int HostPort, int ContainerPort, string Protocol)
{
    public override string ToString() =>
        $"{(HostIp.Length > 0 ? HostIp + ":" : "")}{HostPort}->{ContainerPort}/{Protocol}";

    /// <summary>Parses docker's -p forms: CTR, HOST:CTR, IP:HOST:CTR, IP::CTR, each with an optional
    /// /tcp or /udp. A missing host port gets a free ephemeral port of the host.</summary>
    public static PortMapping Parse(string spec)
    {
        string Bad(string why) => throw new ArgumentException($"invalid port spec \"{spec}\": {why}");
        if (string.IsNullOrWhiteSpace(spec)) Bad("empty");
        var proto = "tcp";
        var body = spec;
        var slash = spec.LastIndexOf('/');
        if (slash >= 0)
        {
            proto = spec[(slash + 1)..].ToLowerInvariant();
            body = spec[..slash];
            if (proto is not ("tcp" or "udp")) Bad($"protocol {spec[(slash + 1)..]} (use tcp or udp)");
        }
        string hostIp = "", hostPort = "", ctrPort;
        // The host IP may be a bracketed IPv6 literal; Gocker networks are IPv4, so refuse those clearly.
        if (body.StartsWith('[')) Bad("IPv6 host addresses are not supported");
        var parts = body.Split(':');
        switch (parts.Length)
        {
            case 1: ctrPort = parts[0]; break;
            case 2: hostPort = parts[0]; ctrPort = parts[1]; break;
            case 3: hostIp = parts[0]; hostPort = parts[1]; ctrPort = parts[2]; break;
            default: Bad("expected [[IP:]HOSTPORT:]CONTAINERPORT[/PROTOCOL]"); return null!;
        }
        if (ctrPort.Contains('-') || hostPort.Contains('-')) Bad("port ranges are not supported");
        int ctr = Port(ctrPort, "container port", Bad);
        if (hostIp.Length > 0)
        {
            if (!IPAddress.TryParse(hostIp, out var ip) || ip.AddressFamily != AddressFamily.InterNetwork)
                Bad($"host IP {hostIp} is not an IPv4 address");
            if (hostIp == "0.0.0.0") hostIp = "";
        }
        int host = hostPort.Length == 0 ? FreePort(proto) : Port(hostPort, "host port", Bad);
        return new PortMapping(hostIp, host, ctr, proto);
    }

    static int Port(string text, string what, Func<string, string> bad)
    {
        if (!int.TryParse(text, System.Globalization.NumberStyles.None, null, out var p) || p is < 1 or > 65535)
            bad($"{what} \"{text}\" is not a number in 1-65535");
        return p;
    }

    /// <summary>Docker picks an ephemeral host port when none is given; so do we (the kernel's choice).</summary>
    static int FreePort(string proto)
    {
        using var s = proto == "udp"
            ? new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp)
            : new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Bind(new IPEndPoint(IPAddress.Any, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }
}
