using System.Globalization;
using System.Text.Json;
using Gocker.Actors.Containers;
using Gocker.Actors.Engine;
using Gocker.Api;
using static Gocker.Host.EngineAsk;
using static Gocker.Host.ErrorMapping;

namespace Gocker.Host;

/// <summary>top and stats: a container's processes and resource use, read from its cgroup (through
/// its actor) and /proc.</summary>
public static class ContainerTopStatsRoutes
{
    public static void Map(RouteGroupBuilder c)
    {
        c.MapGet("/{id}/top", Top);
        c.MapGet("/{id}/stats", Stats);
    }

    static Task<IResult> Top(HttpContext ctx, string id) => Guard(async () =>
    {
        var list = await AskContainer<CgroupActor.ProcessList>(ctx, id, new ContainerActor.Top());
        // `top CONTAINER [ps OPTIONS]`: the host's ps, rows of the container's processes only (Docker's way).
        if (ctx.Request.Query["ps_args"].ToString() is { Length: > 0 } psArgs) return await PsTop(list.Pids, psArgs);
        var ticks = 100.0; // USER_HZ on Linux
        var boot = BootTime();
        using var ms = new MemoryStream();
        using (var j = new Utf8JsonWriter(ms))
        {
            j.WriteStartObject();
            j.WriteStartArray("Titles");
            foreach (var t in new[] { "UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD" }) j.WriteStringValue(t);
            j.WriteEndArray();
            j.WriteStartArray("Processes");
            foreach (var pid in list.Pids.OrderBy(p => p))
            {
                var stat = ReadStatFields(pid);
                if (stat is null) continue; // exited meanwhile
                var cmd = ReadCmdline(pid) ?? $"[{stat.Value.Comm}]";
                var cpu = TimeSpan.FromSeconds((stat.Value.Utime + stat.Value.Stime) / ticks);
                var start = boot.AddSeconds(stat.Value.StartTicks / ticks).ToLocalTime();
                j.WriteStartArray();
                j.WriteStringValue(Uid(pid));
                j.WriteStringValue(pid.ToString(CultureInfo.InvariantCulture));
                j.WriteStringValue(stat.Value.Ppid.ToString(CultureInfo.InvariantCulture));
                j.WriteStringValue("0");
                j.WriteStringValue(start.ToString("HH:mm", CultureInfo.InvariantCulture));
                j.WriteStringValue("?");
                j.WriteStringValue($"{(int)cpu.TotalHours:00}:{cpu.Minutes:00}:{cpu.Seconds:00}");
                j.WriteStringValue(cmd);
                j.WriteEndArray();
            }
            j.WriteEndArray();
            j.WriteEndObject();
        }
        return Results.Bytes(ms.ToArray(), "application/json");
    });

    /// <summary>`top` with ps_args: runs the host's ps with them (split on blanks, no shell) and keeps
    /// the rows whose PID is one of the container's processes; the table needs a PID column, as Docker's.</summary>
    static async Task<IResult> PsTop(IReadOnlyList<int> pids, string psArgs)
    {
        var args = psArgs.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        var psi = new System.Diagnostics.ProcessStartInfo("ps") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var proc = System.Diagnostics.Process.Start(psi) ?? throw new InvalidOperationException("ps could not be started");
        var outTask = proc.StandardOutput.ReadToEndAsync();
        var errTask = proc.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try { await proc.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException) { proc.Kill(); throw new InvalidOperationException($"ps {psArgs}: did not finish within 30 s"); }
        var output = await outTask;
        if (proc.ExitCode != 0) throw new BadRequestException($"Error running ps {psArgs}: exit {proc.ExitCode}: {(await errTask).Trim()}");
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (lines.Length == 0) throw new BadRequestException($"ps {psArgs}: no output");
        var titles = lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        int pidCol = Array.IndexOf(titles, "PID");
        if (pidCol < 0) throw new BadRequestException("Couldn't find PID field in ps output");
        var wanted = pids.ToHashSet();
        using var ms = new MemoryStream();
        using (var j = new Utf8JsonWriter(ms))
        {
            j.WriteStartObject();
            j.WriteStartArray("Titles");
            foreach (var t in titles) j.WriteStringValue(t);
            j.WriteEndArray();
            j.WriteStartArray("Processes");
            foreach (var line in lines.Skip(1))
            {
                // The last column (the command) keeps its blanks.
                var fields = line.Split(' ', titles.Length, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                if (fields.Length <= pidCol || !int.TryParse(fields[pidCol], out var pid) || !wanted.Contains(pid)) continue;
                j.WriteStartArray();
                // Every row as wide as the titles (a column ps left blank is "").
                for (int i = 0; i < titles.Length; i++) j.WriteStringValue(i < fields.Length ? fields[i] : "");
                j.WriteEndArray();
            }
            j.WriteEndArray();
            j.WriteEndObject();
        }
        return Results.Bytes(ms.ToArray(), "application/json");
    }

    /// <summary>Docker's stats: `stream=false` (any case, or 0: docker-py sends "False") answers one
    /// sample, with a second one 200 ms later as precpu so CPU % can be computed (`one-shot=true`:
    /// at once, no precpu wait, as Docker); otherwise (Docker's default) one JSON line per second,
    /// each with the previous sample as precpu, until the container stops or the client leaves.</summary>
    static async Task<IResult> Stats(HttpContext ctx, string id)
    {
        ContainerRecord record;
        ContainerActor.StatsResult pre;
        long preSys;
        bool stream, oneShot;
        try
        {
            stream = QueryBool(ctx, "stream", true);
            oneShot = QueryBool(ctx, "one-shot", false);
            record = await AskContainer<ContainerRecord>(ctx, id, new ContainerActor.Inspect());
            pre = await AskContainer<ContainerActor.StatsResult>(ctx, record.Spec.Id, new ContainerActor.Stats());
            preSys = SystemCpuNanos();
        }
        catch (Exception ex) { return Error(ex); }
        var preRead = DateTimeOffset.UtcNow;
        if (!stream)
        {
            return await Guard(async () =>
            {
                if (oneShot)
                    return Results.Bytes(StatsJson(record, pre, preSys, preRead, pre, preSys, null), "application/json");
                await Task.Delay(200, ctx.RequestAborted);
                var now = await AskContainer<ContainerActor.StatsResult>(ctx, record.Spec.Id, new ContainerActor.Stats());
                return Results.Bytes(StatsJson(record, now, SystemCpuNanos(), DateTimeOffset.UtcNow, pre, preSys, preRead), "application/json");
            });
        }
        ctx.Response.ContentType = "application/json";
        await ctx.Response.StartAsync(ctx.RequestAborted);
        try
        {
            while (!ctx.RequestAborted.IsCancellationRequested)
            {
                await Task.Delay(1000, ctx.RequestAborted);
                var current = await AskContainer<ContainerRecord>(ctx, record.Spec.Id, new ContainerActor.Inspect());
                if (current.Status is not (ContainerStatus.Running or ContainerStatus.Paused)) break;
                var now = await AskContainer<ContainerActor.StatsResult>(ctx, record.Spec.Id, new ContainerActor.Stats());
                var sys = SystemCpuNanos();
                var read = DateTimeOffset.UtcNow;
                await ctx.Response.Body.WriteAsync(StatsJson(record, now, sys, read, pre, preSys, preRead), ctx.RequestAborted);
                await ctx.Response.Body.WriteAsync("\n"u8.ToArray(), ctx.RequestAborted);
                await ctx.Response.Body.FlushAsync(ctx.RequestAborted);
                (pre, preSys, preRead) = (now, sys, read);
            }
        }
        catch (OperationCanceledException) { /* the client left */ }
        catch (Exception) { /* the container went away: the stream ends, as Docker's does */ }
        return Results.Empty;
    }

    /// <summary>A query flag as Docker's API reads it (strconv.ParseBool: 1, t, T, true, TRUE, True and
    /// their false forms; docker-py writes Python's "False").</summary>
    static bool QueryBool(HttpContext ctx, string name, bool absent)
    {
        var v = ctx.Request.Query[name].ToString();
        if (v.Length == 0) return absent;
        return v.ToLowerInvariant() switch
        {
            "1" or "t" or "true" => true,
            "0" or "f" or "false" => false,
            _ => throw new BadRequestException($"invalid value for {name}: {v} (true or false)"),
        };
    }

    /// <summary>RFC 3339 in UTC with 'Z' and nanosecond digits, as Go writes times: Go's parser reads
    /// the JSON string's bytes as they are, so the default encoder's "\u002B" for a '+' offset made
    /// `docker stats` fail.</summary>
    static string GoTime(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'00Z'", CultureInfo.InvariantCulture);

    static readonly long HostMemory = SystemRoutes.MemTotal();

    static byte[] StatsJson(ContainerRecord record, ContainerActor.StatsResult now, long sys, DateTimeOffset read,
        ContainerActor.StatsResult pre, long preSys, DateTimeOffset? preRead)
    {
        using var ms = new MemoryStream();
        using (var j = new Utf8JsonWriter(ms))
        {
            j.WriteStartObject();
            j.WriteString("id", record.Spec.Id);
            j.WriteString("name", "/" + record.Spec.Name);
            j.WriteString("read", GoTime(read));
            // Docker's zero time when there is no earlier sample (one-shot).
            j.WriteString("preread", preRead is { } p ? GoTime(p) : "0001-01-01T00:00:00Z");
            j.WriteStartObject("pids_stats");
            j.WriteNumber("current", Math.Max(now.Stats.PidsCurrent, now.ProcessCount));
            j.WriteEndObject();
            j.WriteStartObject("memory_stats");
            j.WriteNumber("usage", now.Stats.MemoryUsageBytes);
            // As Docker: no limit (or one above the host's memory) shows as the host's memory.
            j.WriteNumber("limit", HostMemory is > 0 and var host && (now.Stats.MemoryLimitBytes <= 0 || now.Stats.MemoryLimitBytes > host) ? host : now.Stats.MemoryLimitBytes);
            j.WriteEndObject();
            void Cpu(string name, ContainerActor.StatsResult s, long system)
            {
                j.WriteStartObject(name);
                j.WriteStartObject("cpu_usage");
                j.WriteNumber("total_usage", s.Stats.CpuUsageNanos);
                j.WriteEndObject();
                j.WriteNumber("system_cpu_usage", system);
                j.WriteNumber("online_cpus", Environment.ProcessorCount);
                j.WriteEndObject();
            }
            Cpu("cpu_stats", now, sys);
            Cpu("precpu_stats", pre, preSys);
            j.WriteEndObject();
        }
        return ms.ToArray();
    }

    // ---- /proc helpers ----------------------------------------------------------------------
    readonly record struct Stat(string Comm, int Ppid, long Utime, long Stime, ulong StartTicks);

    static Stat? ReadStatFields(int pid)
    {
        try
        {
            var text = File.ReadAllText($"/proc/{pid}/stat");
            var open = text.IndexOf('(');
            var close = text.LastIndexOf(')');
            var f = text[(close + 2)..].Split(' ');
            return new Stat(text[(open + 1)..close], int.Parse(f[1], CultureInfo.InvariantCulture),
                long.Parse(f[11], CultureInfo.InvariantCulture), long.Parse(f[12], CultureInfo.InvariantCulture),
                ulong.Parse(f[19], CultureInfo.InvariantCulture));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException) { return null; }
    }

    static string? ReadCmdline(int pid)
    {
        try
        {
            var raw = File.ReadAllBytes($"/proc/{pid}/cmdline");
            return raw.Length == 0 ? null : System.Text.Encoding.UTF8.GetString(raw).TrimEnd('\0').Replace('\0', ' ');
        }
        catch (IOException) { return null; }
    }

    static string Uid(int pid)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("Uid:", StringComparison.Ordinal));
            var uid = line?.Split('\t', StringSplitOptions.RemoveEmptyEntries)[1] ?? "?";
            return uid == "0" ? "root" : uid;
        }
        catch (IOException) { return "?"; }
    }

    static DateTimeOffset BootTime()
    {
        var line = File.ReadLines("/proc/stat").First(l => l.StartsWith("btime ", StringComparison.Ordinal));
        return DateTimeOffset.FromUnixTimeSeconds(long.Parse(line[6..], CultureInfo.InvariantCulture));
    }

    /// <summary>Host CPU time in ns (the sum of the first line of /proc/stat), docker's system_cpu_usage.</summary>
    static long SystemCpuNanos()
    {
        var first = File.ReadLines("/proc/stat").First();
        var jiffies = first.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Take(7).Sum(v => long.Parse(v, CultureInfo.InvariantCulture));
        return jiffies * 10_000_000;
    }
}
