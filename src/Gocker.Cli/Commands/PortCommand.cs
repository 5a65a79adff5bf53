using System.CommandLine;
using System.Text.Json;

namespace Gocker.Cli.Commands;

/// <summary>`gocker port CONTAINER [PRIVATE_PORT[/PROTO]]`: the container's published ports from its
/// inspect answer (NetworkSettings.Ports), in docker's words and order.</summary>
public static class PortCommand
{
    public static Command Build(CliContext ctx, Func<ParseResult, Func<int>, int> guard)
    {
        var container = new Argument<string>("CONTAINER");
        var port = new Argument<string?>("PRIVATE_PORT[/PROTO]") { Arity = ArgumentArity.ZeroOrOne };
        var cmd = new Command("port", "List port mappings or a specific mapping for the container") { container, port };
        cmd.SetAction(pr => guard(pr, () => Run(ctx, pr.GetValue(container)!, pr.GetValue(port))));
        return cmd;
    }

    public static int Run(CliContext ctx, string container, string? privatePort)
    {
        string? wanted = null;
        if (privatePort is not null)
        {
            var slash = privatePort.IndexOf('/');
            var (num, proto) = slash < 0 ? (privatePort, "tcp") : (privatePort[..slash], privatePort[(slash + 1)..]);
            if (!ushort.TryParse(num, out var p) || p == 0 || proto is not ("tcp" or "udp" or "sctp"))
                throw new UsageException($"invalid port \"{privatePort}\": expected PORT[/tcp|udp|sctp]");
            wanted = $"{p}/{proto}";
        }
        using var doc = JsonDocument.Parse(ctx.Client.InspectRaw(container));
        var ports = doc.RootElement.TryGetProperty("NetworkSettings", out var ns) && ns.ValueKind == JsonValueKind.Object &&
                    ns.TryGetProperty("Ports", out var ps) && ps.ValueKind == JsonValueKind.Object ? ps : default;
        var lines = new List<string>();
        if (ports.ValueKind == JsonValueKind.Object)
        {
            foreach (var p in ports.EnumerateObject())
            {
                if (wanted is not null && p.Name != wanted) continue;
                if (p.Value.ValueKind != JsonValueKind.Array) continue;
                foreach (var b in p.Value.EnumerateArray())
                {
                    var hostPort = HostPort(b);
                    lines.Add(wanted is null ? $"{p.Name} -> {hostPort}" : hostPort);
                }
            }
        }
        if (wanted is not null && lines.Count == 0)
            throw new ApiException(404, $"No public port '{wanted}' published for {container}");
        // docker sorts the lines in natural order (numbers by value).
        lines.Sort(NaturalLess);
        foreach (var l in lines) ctx.IO.Out.Write(l + "\n");
        return 0;
    }

    /// <summary>net.JoinHostPort: an IPv6 address goes in brackets.</summary>
    static string HostPort(JsonElement binding)
    {
        var ip = binding.TryGetProperty("HostIp", out var i) ? i.GetString() ?? "" : "";
        var port = binding.TryGetProperty("HostPort", out var hp) ? hp.GetString() ?? "" : "";
        if (ip.Length == 0) ip = "0.0.0.0";
        return ip.Contains(':') ? $"[{ip}]:{port}" : $"{ip}:{port}";
    }

    /// <summary>sortorder.NaturalLess: digit runs compare by value, the rest by character.</summary>
    public static int NaturalLess(string a, string b)
    {
        int i = 0, j = 0;
        while (i < a.Length && j < b.Length)
        {
            if (char.IsAsciiDigit(a[i]) && char.IsAsciiDigit(b[j]))
            {
                int si = i, sj = j;
                while (i < a.Length && char.IsAsciiDigit(a[i])) i++;
                while (j < b.Length && char.IsAsciiDigit(b[j])) j++;
                var na = a[si..i].TrimStart('0');
                var nb = b[sj..j].TrimStart('0');
                if (na.Length != nb.Length) return na.Length.CompareTo(nb.Length);
                int c = string.CompareOrdinal(na, nb);
                if (c != 0) return c;
                continue;
            }
            if (a[i] != b[j]) return a[i].CompareTo(b[j]);
            i++;
            j++;
        }
        return (a.Length - i).CompareTo(b.Length - j);
    }
}
