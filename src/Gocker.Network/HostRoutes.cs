using System.Globalization;

namespace Gocker.Network;

/// <summary>The host's IPv4 routes (/proc/net/route): a new network must not shadow a subnet the
/// host already reaches through another device (its LAN, a VPN, another engine's bridge).</summary>
internal static class HostRoutes
{
    public sealed record Route(string Device, Ipv4Cidr Destination);

    public static List<Route> Read(string path = "/proc/net/route")
    {
        var routes = new List<Route>();
        string[] lines;
        try { lines = File.ReadAllLines(path); }
        catch (IOException) { return routes; }
        foreach (var line in lines.Skip(1))
        {
            var f = line.Split('\t', StringSplitOptions.TrimEntries);
            if (f.Length < 8) continue;
            if (!uint.TryParse(f[1], NumberStyles.HexNumber, null, out var dst) || !uint.TryParse(f[7], NumberStyles.HexNumber, null, out var mask)) continue;
            // The kernel prints them in host (little-endian) byte order.
            dst = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(dst);
            mask = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(mask);
            int prefix = System.Numerics.BitOperations.PopCount(mask);
            if (prefix == 0) continue; // the default route overlaps everything by design
            routes.Add(new Route(f[0], new Ipv4Cidr(dst & mask, prefix)));
        }
        return routes;
    }
}
