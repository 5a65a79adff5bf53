using Gocker.Api;

namespace Gocker.Cli;

/// <summary>
/// `ps --format`: the subset of Go templates docker users write — `{{.Field}}` placeholders, a
/// `table ` prefix for aligned columns with headers, and `\t` / `\n` escapes as docker expands them.
/// </summary>
public static class PsTemplate
{
    static readonly Dictionary<string, string> Headers = new(StringComparer.Ordinal)
    {
        ["ID"] = "CONTAINER ID", ["Names"] = "NAMES", ["Image"] = "IMAGE", ["Command"] = "COMMAND",
        ["CreatedAt"] = "CREATED AT", ["RunningFor"] = "CREATED", ["Status"] = "STATUS", ["State"] = "STATE",
        ["Ports"] = "PORTS", ["Labels"] = "LABELS", ["Mounts"] = "MOUNTS", ["Size"] = "SIZE", ["Networks"] = "NETWORKS",
    };

    public static void Write(TextWriter w, string format, IReadOnlyList<ContainerSummary> list, DateTimeOffset now, bool noTrunc)
    {
        format = format.Replace("\\t", "\t").Replace("\\n", "\n");
        if (format.StartsWith("table", StringComparison.Ordinal))
        {
            var body = format["table".Length..].TrimStart(' ');
            if (body.Length == 0) body = "{{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";
            var columns = body.Split('\t');
            var headers = columns.Select(c => Render(c, f => Headers.TryGetValue(f, out var h) ? h : f.ToUpperInvariant())).ToList();
            var rows = list.Select(c => (IReadOnlyList<string>)columns.Select(col => Render(col, f => Field(c, f, now, noTrunc))).ToList()).ToList();
            Format.Table(w, headers, rows);
            return;
        }
        foreach (var c in list) w.Write(Render(format, f => Field(c, f, now, noTrunc)) + "\n");
    }

    /// <summary>Replaces each {{.Name}} (spaces allowed inside the braces); an unknown field is an error, as in docker.</summary>
    public static string Render(string template, Func<string, string> field)
    {
        var sb = new System.Text.StringBuilder();
        var i = 0;
        while (i < template.Length)
        {
            var open = template.IndexOf("{{", i, StringComparison.Ordinal);
            if (open < 0) { sb.Append(template, i, template.Length - i); break; }
            var close = template.IndexOf("}}", open + 2, StringComparison.Ordinal);
            if (close < 0) throw new UsageException($"template: unclosed action in \"{template}\"");
            sb.Append(template, i, open - i);
            var expr = template[(open + 2)..close].Trim();
            if (!expr.StartsWith('.') || expr.Length < 2 || !expr[1..].All(char.IsAsciiLetterOrDigit))
                throw new UsageException($"template: unsupported expression \"{{{{{expr}}}}}\" (only {{{{.Field}}}} is supported)");
            sb.Append(field(expr[1..]));
            i = close + 2;
        }
        return sb.ToString();
    }

    public static string Field(ContainerSummary c, string name, DateTimeOffset now, bool noTrunc) => name switch
    {
        "ID" => noTrunc ? c.Id : Format.ShortId(c.Id),
        "Names" => string.Join(",", c.Names.Select(n => n.TrimStart('/'))),
        "Image" => c.Image,
        "Command" => Format.Quote(noTrunc ? c.Command : Format.Ellipsis(c.Command, 20)),
        "CreatedAt" => DateTimeOffset.FromUnixTimeSeconds(c.Created).ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss zzz"),
        "RunningFor" => Format.Ago(c.Created, now),
        "Status" => c.Status,
        "State" => c.State,
        "Ports" => Commands.ContainerCommands.PortsText(c),
        "Labels" => string.Join(",", (c.Labels ?? []).OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => l.Key + "=" + l.Value)),
        "Mounts" or "Size" or "Networks" => "",
        _ => throw new UsageException($"template: can't evaluate field {name} in type container.ContainerContext"),
    };

    /// <summary>docker's `--filter key=value` flags as the Engine API's filters JSON: {"key":["v1","v2"]}.</summary>
    public static string? FiltersJson(IEnumerable<string> filters)
    {
        var map = new SortedDictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var f in filters)
        {
            var eq = f.IndexOf('=');
            if (eq <= 0) throw new UsageException($"bad format of filter (expected name=value): {f}");
            var key = f[..eq].Trim().ToLowerInvariant();
            if (key is not ("status" or "name" or "id" or "label" or "ancestor")) throw new UsageException($"invalid filter '{key}' (supported: status, name, id, label, ancestor)");
            (map.TryGetValue(key, out var l) ? l : map[key] = []).Add(f[(eq + 1)..]);
        }
        if (map.Count == 0) return null;
        using var ms = new MemoryStream();
        using (var j = new System.Text.Json.Utf8JsonWriter(ms))
        {
            j.WriteStartObject();
            foreach (var (k, vs) in map)
            {
                j.WriteStartArray(k);
                foreach (var v in vs) j.WriteStringValue(v);
                j.WriteEndArray();
            }
            j.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(ms.ToArray());
    }
}
