using Gocker.Api;
using Gocker.Cli.Templates;

namespace Gocker.Cli;

/// <summary>
/// `ps --format`: Go templates (see <see cref="GoTemplate"/>) over docker's ContainerContext fields
/// (.ID .Image .Command .CreatedAt .RunningFor .Ports .State .Status .Size .Names .Labels
/// .Label "k" .Mounts .LocalVolumes .Networks), a `table ` prefix for aligned columns with headers,
/// `json` for {{json .}}, and `\t` / `\n` escapes as docker expands them.
/// </summary>
public static class PsTemplate
{
    static readonly Dictionary<string, string> Headers = new(StringComparer.Ordinal)
    {
        ["ID"] = "CONTAINER ID", ["Names"] = "NAMES", ["Image"] = "IMAGE", ["Command"] = "COMMAND",
        ["CreatedAt"] = "CREATED AT", ["RunningFor"] = "CREATED", ["Status"] = "STATUS", ["State"] = "STATE",
        ["Ports"] = "PORTS", ["Labels"] = "LABELS", ["Label"] = "LABEL", ["Mounts"] = "MOUNTS", ["Size"] = "SIZE",
        ["Networks"] = "NETWORKS", ["LocalVolumes"] = "LOCAL VOLUMES",
    };

    public const string DefaultTable = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";

    public static void Write(TextWriter w, string format, IReadOnlyList<ContainerSummary> list, DateTimeOffset now, bool noTrunc) =>
        FormatOutput.WriteList(w, format, list.Select(c => Context(c, now, noTrunc)), Headers, DefaultTable, FormatErrors.Ps);

    /// <summary>docker's formatter.ContainerContext for one container.</summary>
    public static ITemplateObject Context(ContainerSummary c, DateTimeOffset now, bool noTrunc) =>
        new FieldContext("*formatter.ContainerContext")
            .Add("Command", () => Format.Quote(noTrunc ? c.Command : Format.Ellipsis(c.Command, 20)))
            .Add("CreatedAt", () => GoTime(DateTimeOffset.FromUnixTimeSeconds(c.Created)))
            .Add("ID", () => noTrunc ? c.Id : Format.ShortId(c.Id))
            .Add("Image", () => c.Image.StartsWith("sha256:", StringComparison.Ordinal) && !noTrunc ? Format.ShortId(c.Image) : c.Image)
            .Add("Labels", () => string.Join(",", (c.Labels ?? []).OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => l.Key + "=" + l.Value)))
            .Add("LocalVolumes", () => "0")
            .Add("Mounts", () => "")
            .Add("Names", () => string.Join(",", c.Names.Select(n => n.TrimStart('/')).Where(n => noTrunc || !n.Contains('/'))))
            .Add("Networks", () => "")
            .Add("Ports", () => Commands.ContainerCommands.PortsText(c))
            .Add("RunningFor", () => Format.Ago(c.Created, now))
            .Add("Size", () => c.SizeRw is { } rw ? $"{Format.HumanSize(rw)} (virtual {Format.HumanSize(c.SizeRootFs ?? 0)})" : "0B")
            .Add("State", () => c.State)
            .Add("Status", () => c.Status)
            .Method("Label", a => a.Count == 1 && a[0] is string k
                ? (c.Labels ?? []).GetValueOrDefault(k, "")
                : throw new UsageException("Label takes one string argument"));

    /// <summary>Go's time.Time.String() for a local time: "2006-01-02 15:04:05 -0700 MST" (UTC on UTC hosts).</summary>
    public static string GoTime(DateTimeOffset t)
    {
        var local = t.ToLocalTime();
        var off = local.Offset;
        var sign = off < TimeSpan.Zero ? "-" : "+";
        var hhmm = $"{Math.Abs(off.Hours):00}{Math.Abs(off.Minutes):00}";
        var zone = off == TimeSpan.Zero ? "UTC" : sign + (off.Minutes == 0 ? $"{Math.Abs(off.Hours):00}" : hhmm);
        return local.ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture) + " " + sign + hhmm + " " + zone;
    }

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
