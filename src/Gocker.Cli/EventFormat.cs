using System.Globalization;
using System.Text;
using System.Text.Json;
using Gocker.Api;

namespace Gocker.Cli;

/// <summary>How `gocker events` (and the console) print an event: docker's default line
/// "TIME TYPE ACTION ID (k=v, ...)", the raw JSON (--format json), or a Go-template subset:
/// {{.Type}} {{.Action}} {{.Status}} {{.ID}} {{.From}} {{.Scope}} {{.Time}} {{.TimeNano}}
/// {{.Actor.ID}} {{.Actor.Attributes.KEY}} {{index .Actor.Attributes "KEY"}} {{json .}}.</summary>
public static class EventFormat
{
    public static string Line(EventMessage m, string? format, string rawJson)
    {
        if (string.IsNullOrEmpty(format)) return Default(m);
        if (format == "json" || format == "{{json .}}") return rawJson;
        return Render(format.Replace("\\t", "\t").Replace("\\n", "\n"), m, rawJson);
    }

    public static string Default(EventMessage m)
    {
        var sb = new StringBuilder();
        sb.Append(EventTimes.Rfc3339Nano(EventTimes.FromUnixNanos(m.TimeNano))).Append(' ')
          .Append(m.Type).Append(' ').Append(m.Action).Append(' ').Append(m.Actor.ID);
        if (m.Actor.Attributes.Count > 0)
            sb.Append(" (").Append(string.Join(", ", m.Actor.Attributes.OrderBy(a => a.Key, StringComparer.Ordinal).Select(a => a.Key + "=" + a.Value))).Append(')');
        return sb.ToString();
    }

    /// <summary>Checks a template before any event arrives, so a typo fails at once (exit 125).</summary>
    public static void Validate(string? format)
    {
        if (string.IsNullOrEmpty(format) || format == "json") return;
        Line(new EventMessage(), format, "{}");
    }

    static string Render(string template, EventMessage m, string rawJson)
    {
        var sb = new StringBuilder();
        int i = 0;
        while (i < template.Length)
        {
            int open = template.IndexOf("{{", i, StringComparison.Ordinal);
            if (open < 0) { sb.Append(template, i, template.Length - i); break; }
            int close = template.IndexOf("}}", open + 2, StringComparison.Ordinal);
            if (close < 0) throw new UsageException($"template: unclosed action in \"{template}\"");
            sb.Append(template, i, open - i);
            sb.Append(Eval(template[(open + 2)..close].Trim(), m, rawJson));
            i = close + 2;
        }
        return sb.ToString();
    }

    static string Eval(string expr, EventMessage m, string rawJson)
    {
        if (expr == "json .") return rawJson;
        if (expr.StartsWith("index .Actor.Attributes ", StringComparison.Ordinal))
        {
            var key = expr["index .Actor.Attributes ".Length..].Trim();
            if (key.Length >= 2 && key[0] == '"' && key[^1] == '"')
                return m.Actor.Attributes.TryGetValue(key[1..^1], out var v) ? v : "";
        }
        if (expr.StartsWith(".Actor.Attributes.", StringComparison.Ordinal))
            return m.Actor.Attributes.TryGetValue(expr[".Actor.Attributes.".Length..], out var v) ? v : "<no value>";
        return expr switch
        {
            ".Type" => m.Type,
            ".Action" => m.Action,
            ".Status" => m.Status ?? "",
            ".ID" => m.Id ?? "",
            ".From" => m.From ?? "",
            ".Scope" => m.Scope,
            ".Time" => m.Time.ToString(CultureInfo.InvariantCulture),
            ".TimeNano" => m.TimeNano.ToString(CultureInfo.InvariantCulture),
            ".Actor.ID" => m.Actor.ID,
            ".Actor.Attributes" => "map[" + string.Join(" ", m.Actor.Attributes.OrderBy(a => a.Key, StringComparer.Ordinal).Select(a => a.Key + ":" + a.Value)) + "]",
            _ => throw new UsageException($"template: unsupported expression \"{{{{{expr}}}}}\" (use .Type .Action .Actor.ID .Actor.Attributes.KEY .Time .TimeNano, index .Actor.Attributes \"KEY\", json .)"),
        };
    }

    /// <summary>Parses one line of GET /events; null for a line that is not an event.</summary>
    public static EventMessage? Parse(string line)
    {
        try { return JsonSerializer.Deserialize(line, GockerEventJson.Default.EventMessage); }
        catch (JsonException) { return null; }
    }
}
