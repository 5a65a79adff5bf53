using System.CommandLine;
using System.Text;
using Gocker.Api;
using Gocker.Cli.Http;

namespace Gocker.Cli.Commands;

/// <summary>`gocker events [--since X] [--until Y] [--filter k=v]... [--format F]`: docker's
/// command over GET /events. Without --until it streams until interrupted.</summary>
public static class EventCommands
{
    static readonly string[] FilterKeys = ["container", "event", "type", "image", "network", "volume", "group"];

    public static Command Build(CliContext ctx, Func<ParseResult, Func<int>, int> guard)
    {
        var since = new Option<string?>("--since") { Description = "Show events since a timestamp (RFC3339, unix seconds) or a duration back from now (10m, 1h30m)", HelpName = "string" };
        var until = new Option<string?>("--until") { Description = "Stream events until this timestamp or duration back from now", HelpName = "string" };
        var filter = new Option<string[]>("--filter", "-f") { Description = "Filter output: container=NAME|ID, event=ACTION, type=container|network|image|group, image=, network=", AllowMultipleArgumentsPerToken = false };
        var format = new Option<string?>("--format") { Description = "Format output: json, or a template ('{{.Action}} {{.Actor.Attributes.name}}')", HelpName = "string" };
        var cmd = new Command("events", "Get real time events from the server") { since, until, filter, format };
        cmd.SetAction(pr => guard(pr, () => Run(ctx, pr.GetValue(since), pr.GetValue(until), pr.GetValue(filter) ?? [], pr.GetValue(format))));
        return cmd;
    }

    public static int Run(CliContext ctx, string? since, string? until, string[] filters, string? format)
    {
        EventFormat.Validate(format);
        var now = ctx.Now;
        var end = Time("--until", until, now);
        var query = Query(Time("--since", since, now), end, FiltersJson(filters));
        using var r = Open(ctx.Client, query);
        // Live lines are flushed one by one; a dump of past events (until <= now) only at the end.
        bool live = end is null || end > now;
        Pump(r, line => { ctx.IO.Out.Write(line + "\n"); if (live) ctx.IO.Out.Flush(); }, format);
        ctx.IO.Out.Flush();
        return 0;
    }

    /// <summary>Reads event lines until the daemon ends the stream; each is formatted and handed over.</summary>
    public static void Pump(HttpResponse r, Action<string> print, string? format, Func<EventMessage, bool>? accept = null)
    {
        using var reader = new StreamReader(r.Body, Encoding.UTF8, false, 4096);
        while (reader.ReadLine() is { } line)
        {
            if (line.Length == 0) continue;
            if (EventFormat.Parse(line) is { } m && (accept is null || accept(m))) print(EventFormat.Line(m, format, line));
        }
    }

    public static HttpResponse Open(GockerClient client, string query)
    {
        var r = client.Http.Send("GET", "/events" + query);
        try { GockerClient.EnsureSuccess(r); return r; }
        catch { r.Dispose(); throw; }
    }

    public static string Query(DateTimeOffset? since, DateTimeOffset? until, string? filtersJson)
    {
        var parts = new List<string>();
        if (since is { } s) parts.Add("since=" + EventTimes.ToWire(s));
        if (until is { } u) parts.Add("until=" + EventTimes.ToWire(u));
        if (filtersJson is not null) parts.Add("filters=" + Uri.EscapeDataString(filtersJson));
        return parts.Count == 0 ? "" : "?" + string.Join('&', parts);
    }

    static DateTimeOffset? Time(string flag, string? value, DateTimeOffset now)
    {
        if (string.IsNullOrEmpty(value)) return null;
        return EventTimes.TryParseCli(value, now, out var t) ? t
            : throw new UsageException($"invalid value \"{value}\" for {flag}: use a duration (10m, 1h30m), unix seconds or an RFC3339 timestamp");
    }

    /// <summary>`--filter key=value` flags as {"key":["v1","v2"]}.</summary>
    public static string? FiltersJson(IEnumerable<string> filters)
    {
        var map = new SortedDictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var f in filters)
        {
            var eq = f.IndexOf('=');
            if (eq <= 0) throw new UsageException($"bad format of filter (expected name=value): {f}");
            var key = f[..eq].Trim().ToLowerInvariant();
            if (!FilterKeys.Contains(key)) throw new UsageException($"invalid filter '{key}' (supported: {string.Join(", ", FilterKeys)})");
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
        return Encoding.UTF8.GetString(ms.ToArray());
    }
}
