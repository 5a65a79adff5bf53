using System.Text.Json;
using Gocker.Api;

namespace Gocker.Cli.Commands;

/// <summary>ps, inspect, logs, stop, kill, wait, rm.</summary>
public static class ContainerCommands
{
    public static int Ps(CliContext ctx, bool all, bool quiet, bool noTrunc, string[]? filters = null, string? format = null, int limit = -1)
    {
        var filtersJson = PsTemplate.FiltersJson(filters ?? []);
        var list = filtersJson is null ? ctx.Client.List(all) : ctx.Client.List(all, filtersJson);
        // The daemon lists newest first: --last N keeps the first N.
        if (limit >= 0) list = list.OrderByDescending(c => c.Created).Take(limit).ToList();
        var w = ctx.IO.Out;
        if (!quiet && !string.IsNullOrEmpty(format))
        {
            PsTemplate.Write(w, format, list, ctx.Now, noTrunc);
            return 0;
        }
        if (quiet)
        {
            foreach (var c in list) w.Write((noTrunc ? c.Id : Format.ShortId(c.Id)) + "\n");
            return 0;
        }
        var now = ctx.Now;
        var rows = list.Select(c => (IReadOnlyList<string>)PsRow(c, now, noTrunc)).ToList();
        Format.Table(w, ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"], rows);
        return 0;
    }

    public static string[] PsRow(ContainerSummary c, DateTimeOffset now, bool noTrunc) =>
    [
        noTrunc ? c.Id : Format.ShortId(c.Id),
        c.Image.StartsWith("sha256:", StringComparison.Ordinal) && !noTrunc ? Format.ShortId(c.Image) : c.Image,
        Format.Quote(noTrunc ? c.Command : Format.Ellipsis(c.Command, 20)),
        Format.Ago(c.Created, now),
        c.Status.Length > 0 ? c.Status : Capitalize(c.State),
        PortsText(c),
        string.Join(",", c.Names.Select(n => n.TrimStart('/'))),
    ];

    /// <summary>Docker's PORTS column: "127.0.0.1:8080->80/tcp, 0.0.0.0:5353->53/udp".</summary>
    public static string PortsText(ContainerSummary c) =>
        string.Join(", ", (c.Ports ?? []).Select(p => p.PublicPort is { } pub
            ? $"{(string.IsNullOrEmpty(p.IP) ? "0.0.0.0" : p.IP)}:{pub}->{p.PrivatePort}/{p.Type}"
            : $"{p.PrivatePort}/{p.Type}"));

    private static string Capitalize(string s) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..];

    /// <summary>Prints the JSON array docker prints (4-space indent), keeping every field the daemon sent.</summary>
    public static int Inspect(CliContext ctx, string[] ids)
    {
        var found = new List<byte[]>();
        var errors = new List<string>();
        foreach (var id in ids)
        {
            try { found.Add(ctx.Client.InspectRaw(id)); }
            catch (ApiException e) when (e.StatusCode == 404) { errors.Add("Error: No such object: " + id); }
            catch (ApiException e) { errors.Add("Error response from daemon: " + e.Message); }
        }
        ctx.IO.Out.Flush();
        using (var json = new Utf8JsonWriter(ctx.IO.StdOut, new JsonWriterOptions { Indented = true, IndentSize = 4 }))
        {
            json.WriteStartArray();
            foreach (var raw in found)
            {
                using var doc = JsonDocument.Parse(raw);
                doc.RootElement.WriteTo(json);
            }
            json.WriteEndArray();
        }
        ctx.IO.StdOut.Write("\n"u8);
        ctx.IO.StdOut.Flush();
        foreach (var e in errors) ctx.IO.Error(e);
        return errors.Count == 0 ? 0 : 1;
    }

    /// <summary>--since/--until as the API takes them (Docker's CLI converts the same way): unix
    /// seconds with nine fraction digits, or "" when not given.</summary>
    static string UnixSeconds(string flag, string? value, DateTimeOffset now)
    {
        if (string.IsNullOrEmpty(value)) return "";
        if (!EventTimes.TryParseCli(value, now, out var t))
            throw new UsageException($"invalid value \"{value}\" for {flag}: use a duration (10m, 1h30m), unix seconds or an RFC3339 timestamp");
        var ns = (t.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) * 100;
        return $"{ns / 1_000_000_000}.{ns % 1_000_000_000:D9}";
    }

    public static int Logs(CliContext ctx, string id, bool follow, string tail, bool timestamps, string? since = null, string? until = null)
    {
        if (tail != "all" && !(int.TryParse(tail, out int n) && n >= 0))
            throw new UsageException($"invalid --tail value '{tail}': expected a number of lines or \"all\"");
        var now = DateTimeOffset.UtcNow;
        using var r = ctx.Client.Logs(id, follow, tail, timestamps, UnixSeconds("--since", since, now), UnixSeconds("--until", until, now));
        ctx.IO.Flush();
        if (r.ContentType?.StartsWith(GockerClient.MultiplexedContentType, StringComparison.OrdinalIgnoreCase) ?? true)
            MultiplexPump.Pump(r.Body, ctx.IO.StdOut, ctx.IO.StdErr);
        else
            MultiplexPump.PumpRaw(r.Body, ctx.IO.StdOut);
        return 0;
    }

    public static int Stop(CliContext ctx, string[] ids, int? seconds) =>
        ForEach(ctx, ids, id => ctx.Client.Stop(id, seconds));

    public static int Kill(CliContext ctx, string[] ids, string signal) =>
        ForEach(ctx, ids, id => ctx.Client.Kill(id, signal));

    public static int Pause(CliContext ctx, string[] ids) => ForEach(ctx, ids, id => ctx.Client.Pause(id));
    public static int Unpause(CliContext ctx, string[] ids) => ForEach(ctx, ids, id => ctx.Client.Unpause(id));
    public static int Restart(CliContext ctx, string[] ids, int? seconds) => ForEach(ctx, ids, id => ctx.Client.Restart(id, seconds));

    /// <summary>Docker's top table: the titles and rows the daemon sends, aligned.</summary>
    public static int Top(CliContext ctx, string id)
    {
        using var doc = ctx.Client.Top(id);
        var titles = doc.RootElement.GetProperty("Titles").EnumerateArray().Select(t => t.GetString() ?? "").ToList();
        var rows = doc.RootElement.GetProperty("Processes").EnumerateArray()
            .Select(r => (IReadOnlyList<string>)r.EnumerateArray().Select(v => v.GetString() ?? "").ToList()).ToList();
        Format.Table(ctx.IO.Out, titles, rows);
        return 0;
    }

    /// <summary>`stats`: a table of one sample per container; CPU % compares the sample with the
    /// daemon's previous one (precpu_stats), as docker does. Without --no-stream the table is
    /// redrawn every second (in place on a terminal) until Ctrl-C, or until none of the named
    /// containers runs any more; without names it follows whatever is running.</summary>
    public static int Stats(CliContext ctx, string[] ids, bool all, bool noStream)
    {
        if (noStream)
        {
            PrintStats(ctx, Sample(ctx, ids, all, dropStopped: false, out var rc));
            return rc;
        }
        var tty = !Console.IsOutputRedirected;
        using var stop = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; stop.Cancel(); };
        Console.CancelKeyPress += onCancel;
        try
        {
            while (!stop.IsCancellationRequested)
            {
                var started = DateTime.UtcNow;
                var rows = Sample(ctx, ids, all, dropStopped: !all, out _);
                if (tty) ctx.IO.Out.Write("\u001b[2J\u001b[H"); // clear and home, as docker redraws
                PrintStats(ctx, rows);
                ctx.IO.Flush();
                if (ids.Length > 0 && rows.Count == 0) return 0; // every named container stopped
                var wait = TimeSpan.FromSeconds(1) - (DateTime.UtcNow - started);
                if (wait > TimeSpan.Zero) stop.Token.WaitHandle.WaitOne(wait);
            }
            return 0;
        }
        finally { Console.CancelKeyPress -= onCancel; }
    }

    static void PrintStats(CliContext ctx, List<IReadOnlyList<string>> rows) =>
        Format.Table(ctx.IO.Out, ["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "PIDS"], rows);

    /// <summary>One row per running container of <paramref name="ids"/> (all running, or all with
    /// <paramref name="all"/>, when none are named). A named container that is missing is an error
    /// (rc 1); with <paramref name="dropStopped"/> one that is not running has no row.</summary>
    static List<IReadOnlyList<string>> Sample(CliContext ctx, string[] ids, bool all, bool dropStopped, out int rc)
    {
        var running = ctx.Client.List(false).Select(c => c.Id).ToHashSet(StringComparer.Ordinal);
        if (ids.Length == 0) ids = all ? ctx.Client.List(true).Select(c => c.Id).ToArray() : [.. running];
        var rows = new List<IReadOnlyList<string>>();
        rc = 0;
        foreach (var id in ids)
        {
            try
            {
                using var doc = ctx.Client.Stats(id);
                var s = doc.RootElement;
                long L(JsonElement e, params string[] path)
                {
                    foreach (var p in path) if (!e.TryGetProperty(p, out e)) return 0;
                    return e.ValueKind == JsonValueKind.Number ? e.GetInt64() : 0;
                }
                var usage = L(s, "memory_stats", "usage");
                var limit = L(s, "memory_stats", "limit");
                var cpu = L(s, "cpu_stats", "cpu_usage", "total_usage") - L(s, "precpu_stats", "cpu_usage", "total_usage");
                var sys = L(s, "cpu_stats", "system_cpu_usage") - L(s, "precpu_stats", "system_cpu_usage");
                var ncpu = Math.Max(1, L(s, "cpu_stats", "online_cpus"));
                var cpuPct = sys > 0 && cpu > 0 ? (double)cpu / sys * ncpu * 100 : 0;
                var memPct = limit > 0 ? (double)usage / limit * 100 : 0;
                var name = s.TryGetProperty("name", out var n) ? (n.GetString() ?? "").TrimStart('/') : "";
                var fullId = s.TryGetProperty("id", out var i) ? i.GetString() ?? id : id;
                var pids = L(s, "pids_stats", "current");
                if (dropStopped && !running.Contains(fullId)) continue;
                rows.Add([Format.ShortId(fullId), name, $"{cpuPct:0.00}%",
                    $"{BytesSize(usage)} / {(limit > 0 ? BytesSize(limit) : "unlimited")}", $"{memPct:0.00}%",
                    pids.ToString()]);
            }
            catch (ApiException e)
            {
                ctx.IO.Error("Error response from daemon: " + e.Message);
                rc = 1;
            }
        }
        return rows;
    }

    /// <summary>docker stats' binary sizes (go-units BytesSize): "1.5MiB", "64MiB".</summary>
    public static string BytesSize(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
        double v = bytes;
        var i = 0;
        while (v >= 1024 && i < units.Length - 1) { v /= 1024; i++; }
        return $"{v.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)}{units[i]}";
    }

    public static int Remove(CliContext ctx, string[] ids, bool force) =>
        ForEach(ctx, ids, id => ctx.Client.Remove(id, force));

    public static int Wait(CliContext ctx, string[] ids)
    {
        int rc = 0;
        foreach (var id in ids)
        {
            try
            {
                var w = ctx.Client.Wait(id);
                ctx.IO.Out.Write(w.StatusCode + "\n");
                ctx.IO.Out.Flush();
            }
            catch (ApiException e)
            {
                ctx.IO.Error("Error response from daemon: " + e.Message);
                rc = 1;
            }
        }
        return rc;
    }

    /// <summary>Docker's multi-id pattern: print each id done, report each failure, go on, exit 1 if any failed.</summary>
    /// <summary>The verb on every id, up to <see cref="Parallelism"/> at once as docker's CLI does
    /// (`rm -f` of 50 bridged containers: each waits for its own network teardown, so one after the
    /// other took ~35 ms each); the ids and errors are printed in the order given.</summary>
    private static int ForEach(CliContext ctx, string[] ids, Action<string> act)
    {
        if (ids.Length == 1) return Report(ctx, ids[0], Try(act, ids[0]));
        using var gate = new SemaphoreSlim(Parallelism);
        var results = ids.Select(id => Task.Run(async () =>
        {
            await gate.WaitAsync();
            try { return Try(act, id); }
            finally { gate.Release(); }
        })).ToArray();
        int rc = 0;
        for (var i = 0; i < ids.Length; i++) rc |= Report(ctx, ids[i], results[i].GetAwaiter().GetResult());
        return rc;
    }

    const int Parallelism = 50;

    static ApiException? Try(Action<string> act, string id)
    {
        try { act(id); return null; }
        catch (ApiException e) { return e; }
    }

    static int Report(CliContext ctx, string id, ApiException? error)
    {
        if (error is not null)
        {
            ctx.IO.Error("Error response from daemon: " + error.Message);
            return 1;
        }
        ctx.IO.Out.Write(id + "\n");
        ctx.IO.Out.Flush();
        return 0;
    }
}
