using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Gocker.Network;

/// <summary>An IPv4 subnet (address masked to its prefix). Gocker's networks are IPv4 only.</summary>
public readonly record struct Ipv4Cidr(uint Network, int Prefix)
{
    public uint Mask => Prefix == 0 ? 0 : uint.MaxValue << (32 - Prefix);
    public uint Broadcast => Network | ~Mask;
    public ulong Size => 1UL << (32 - Prefix);

    public static Ipv4Cidr Parse(string text, string what = "subnet")
    {
        var slash = text.IndexOf('/');
        if (slash < 0 || !int.TryParse(text.AsSpan(slash + 1), out var prefix) || prefix is < 0 or > 32)
            throw new ArgumentException($"invalid {what} {text}: expected an IPv4 CIDR such as 172.30.0.0/16");
        var addr = ParseAddress(text[..slash], what);
        var c = new Ipv4Cidr(0, prefix);
        // Like Docker, "172.30.1.5/16" is refused rather than silently widened to 172.30.0.0/16.
        if ((addr & c.Mask) != addr)
            throw new ArgumentException($"invalid {what} {text}: host bits set (did you mean {Format(addr & c.Mask)}/{prefix}?)");
        if (prefix > 30)
            throw new ArgumentException($"invalid {what} {text}: a /{prefix} leaves no room for a gateway and containers (use /30 or wider)");
        return new Ipv4Cidr(addr, prefix);
    }

    public static uint ParseAddress(string text, string what = "address")
    {
        if (!IPAddress.TryParse(text, out var ip) || ip.AddressFamily != AddressFamily.InterNetwork || text.Count(ch => ch == '.') != 3)
            throw new ArgumentException($"invalid {what} {text}: expected an IPv4 address");
        return BinaryPrimitives.ReadUInt32BigEndian(ip.GetAddressBytes());
    }

    public static string Format(uint addr) =>
        $"{addr >> 24}.{(addr >> 16) & 255}.{(addr >> 8) & 255}.{addr & 255}";

    public bool Contains(uint addr) => (addr & Mask) == Network;
    public bool Overlaps(Ipv4Cidr other) =>
        Contains(other.Network) || other.Contains(Network);

    /// <summary>An address usable by a host: inside, neither the network nor the broadcast address.</summary>
    public bool IsHostAddress(uint addr) => Contains(addr) && addr != Network && addr != Broadcast;

    public override string ToString() => $"{Format(Network)}/{Prefix}";
}
