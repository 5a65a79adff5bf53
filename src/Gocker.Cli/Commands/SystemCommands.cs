using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Gocker.Cli.Templates;

namespace Gocker.Cli.Commands;

/// <summary>`gocker info` (GET /info, docker's layout), `gocker system df [-v]` (GET /system/df)
/// and the `system` group's own commands; `version --format`.</summary>
public static class SystemCommands
{
    public static Command Info(string name, CliContext ctx, Func<ParseResult, Func<int>, int> guard)
    {
        var format = new Option<string?>("--format", "-f") { Description = "Format output using a Go template ('json' for JSON)", HelpName = "string" };
        var cmd = new Command(name, "Display system-wide information") { format };
        cmd.SetAction(pr => guard(pr, () => RunInfo(ctx, pr.GetValue(format))));
        return cmd;
    }

    public static Command Df(CliContext ctx, Func<ParseResult, Func<int>, int> guard)
    {
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Show detailed information on space usage" };
        var format = new Option<string?>("--format") { Description = "Format output using a Go template ('table ...' for columns, 'json')", HelpName = "string" };
        var cmd = new Command("df", "Show docker disk usage") { verbose, format };
        cmd.SetAction(pr => guard(pr, () => RunDf(ctx, pr.GetValue(verbose), pr.GetValue(format))));
        return cmd;
    }

    static JsonDocument GetJson(CliContext ctx, string target)
    {
        using var r = ctx.Client.Http.Send("GET", target);
        GockerClient.EnsureSuccess(r);
        var body = r.ReadBodyBytes();
        try { return JsonDocument.Parse(body); }
        catch (JsonException e) { throw new ApiException(r.StatusCode, $"the daemon answered malformed JSON for {target}: {e.Message}"); }
    }

    /// <summary>The client part docker's info shows (ClientInfo in --format).</summary>
    static void WriteClientInfo(Utf8JsonWriter w)
    {
        w.WriteStartObject("ClientInfo");
        w.WriteBoolean("Debug", false);
        w.WriteString("Version", VersionCommand.ClientVersion);
        w.WriteString("Context", "default");
        w.WriteStartArray("Plugins");
        w.WriteEndArray();
        w.WriteStartArray("Warnings");
        w.WriteEndArray();
        w.WriteEndObject();
    }

    public static int RunInfo(CliContext ctx, string? format)
    {
        GoTemplate? template = string.IsNullOrEmpty(format) || format == "json" ? null : FormatOutput.Parse(format, FormatErrors.Info);
        using var doc = GetJson(ctx, "/info");
        var info = doc.RootElement;
        if (!string.IsNullOrEmpty(format))
        {
            // docker's info context: the server's fields with ClientInfo beside them.
            var buf = new MemoryStream();
            using (var w = new Utf8JsonWriter(buf))
            {
                w.WriteStartObject();
                foreach (var p in info.EnumerateObject()) p.WriteTo(w);
                WriteClientInfo(w);
                w.WriteEndObject();
            }
            using var merged = JsonDocument.Parse(buf.ToArray());
            var text = template is null ? GoTemplate.Json(merged.RootElement) : FormatOutput.Execute(template, merged.RootElement, FormatErrors.Info);
            ctx.IO.Out.Write(text + "\n");
            return 0;
        }
        var o = new StringBuilder();
        o.Append("Client:\n");
        o.Append($" Version:    {VersionCommand.ClientVersion}\n");
        o.Append(" Context:    default\n");
        o.Append(" Debug Mode: false\n");
        o.Append("\nServer:\n");
        o.Append($" Containers: {N(info, "Containers")}\n");
        o.Append($"  Running: {N(info, "ContainersRunning")}\n");
        o.Append($"  Paused: {N(info, "ContainersPaused")}\n");
        o.Append($"  Stopped: {N(info, "ContainersStopped")}\n");
        o.Append($" Images: {N(info, "Images")}\n");
        o.Append($" Server Version: {S(info, "ServerVersion")}\n");
        o.Append($" Storage Driver: {S(info, "Driver")}\n");
        if (info.TryGetProperty("DriverStatus", out var ds) && ds.ValueKind == JsonValueKind.Array)
            foreach (var pair in ds.EnumerateArray())
                if (pair.ValueKind == JsonValueKind.Array && pair.GetArrayLength() == 2)
                    o.Append($"  {pair[0].GetString()}: {pair[1].GetString()}\n");
        o.Append($" Logging Driver: {S(info, "LoggingDriver")}\n");
        o.Append($" Cgroup Driver: {S(info, "CgroupDriver")}\n");
        o.Append($" Cgroup Version: {S(info, "CgroupVersion")}\n");
        o.Append(" Plugins:\n");
        if (info.TryGetProperty("Plugins", out var plugins) && plugins.ValueKind == JsonValueKind.Object)
        {
            o.Append($"  Volume: {Join(plugins, "Volume")}\n");
            o.Append($"  Network: {Join(plugins, "Network")}\n");
            if (Join(plugins, "Authorization") is { Length: > 0 } auth) o.Append($"  Authorization: {auth}\n");
            o.Append($"  Log: {Join(plugins, "Log")}\n");
        }
        var swarm = info.TryGetProperty("Swarm", out var sw) ? S(sw, "LocalNodeState") : "";
        o.Append($" Swarm: {(swarm.Length > 0 ? swarm : "inactive")}\n");
        if (info.TryGetProperty("Runtimes", out var rt) && rt.ValueKind == JsonValueKind.Object)
            o.Append($" Runtimes: {string.Join(' ', rt.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal))}\n");
        o.Append($" Default Runtime: {S(info, "DefaultRuntime")}\n");
        o.Append($" Init Binary: {S(info, "InitBinary")}\n");
        if (info.TryGetProperty("SecurityOptions", out var so) && so.ValueKind == JsonValueKind.Array && so.GetArrayLength() > 0)
        {
            o.Append(" Security Options:\n");
            // "name=seccomp,profile=builtin" -> "  seccomp\n   Profile: builtin", as docker prints them.
            foreach (var opt in so.EnumerateArray().Select(e => e.GetString() ?? ""))
            {
                var kv = opt.Split(',').Select(p => p.Split('=', 2)).Where(p => p.Length == 2).ToList();
                var nameKv = kv.FirstOrDefault(p => p[0] == "name");
                if (nameKv is null) { o.Append($"  {opt}\n"); continue; }
                o.Append($"  {nameKv[1]}\n");
                foreach (var p in kv.Where(p => p[0] != "name"))
                    o.Append($"   {CultureInfo.InvariantCulture.TextInfo.ToTitleCase(p[0])}: {p[1]}\n");
            }
        }
        o.Append($" Kernel Version: {S(info, "KernelVersion")}\n");
        o.Append($" Operating System: {S(info, "OperatingSystem")}\n");
        o.Append($" OSType: {S(info, "OSType")}\n");
        o.Append($" Architecture: {S(info, "Architecture")}\n");
        o.Append($" CPUs: {N(info, "NCPU")}\n");
        o.Append($" Total Memory: {BytesSize4(L(info, "MemTotal"))}\n");
        o.Append($" Name: {S(info, "Name")}\n");
        o.Append($" ID: {S(info, "ID")}\n");
        o.Append($" Docker Root Dir: {S(info, "DockerRootDir")}\n");
        o.Append($" Debug Mode: {B(info, "Debug")}\n");
        if (S(info, "HttpProxy") is { Length: > 0 } hp) o.Append($" HTTP Proxy: {hp}\n");
        if (S(info, "HttpsProxy") is { Length: > 0 } hsp) o.Append($" HTTPS Proxy: {hsp}\n");
        if (S(info, "NoProxy") is { Length: > 0 } np) o.Append($" No Proxy: {np}\n");
        if (info.TryGetProperty("Labels", out var labels) && labels.ValueKind == JsonValueKind.Array && labels.GetArrayLength() > 0)
        {
            o.Append(" Labels:\n");
            foreach (var l in labels.EnumerateArray()) o.Append($"  {l.GetString()}\n");
        }
        o.Append($" Experimental: {B(info, "ExperimentalBuild")}\n");
        o.Append($" Live Restore Enabled: {B(info, "LiveRestoreEnabled")}\n");
        o.Append('\n');
        ctx.IO.Out.Write(o.ToString());
        ctx.IO.Out.Flush();
        // Warnings go to stderr, as docker prints them.
        if (info.TryGetProperty("Warnings", out var warnings) && warnings.ValueKind == JsonValueKind.Array)
            foreach (var wn in warnings.EnumerateArray()) ctx.IO.Err.Write(wn.GetString() + "\n");
        return 0;
    }

    static string S(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : "";
    static long L(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var l) ? l : 0;
    static string N(JsonElement e, string name) => L(e, name).ToString(CultureInfo.InvariantCulture);
    static string B(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.True ? "true" : "false";
    static string Join(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Array ? string.Join(' ', v.EnumerateArray().Select(x => x.GetString())) : "";

    /// <summary>go-units HumanSize (precision 4: "1.982MB"), as docker system df prints totals.</summary>
    public static string HumanSize4(double bytes)
    {
        string[] units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
        int i = 0;
        while (bytes >= 1000 && i < units.Length - 1) { bytes /= 1000; i++; }
        return bytes.ToString("G4", CultureInfo.InvariantCulture) + units[i];
    }

    /// <summary>go-units BytesSize (binary units, precision 4: "23.54GiB"), as docker info prints Total Memory.</summary>
    public static string BytesSize4(double bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
        int i = 0;
        while (bytes >= 1024 && i < units.Length - 1) { bytes /= 1024; i++; }
        return bytes.ToString("G4", CultureInfo.InvariantCulture) + units[i];
    }

    static string Reclaim(long reclaimable, long total) =>
        total > 0 ? $"{HumanSize4(reclaimable)} ({reclaimable * 100 / total}%)" : HumanSize4(reclaimable);

    static readonly Dictionary<string, string> DfHeaders = new(StringComparer.Ordinal)
    {
        ["Type"] = "TYPE", ["TotalCount"] = "TOTAL", ["Active"] = "ACTIVE", ["Size"] = "SIZE", ["Reclaimable"] = "RECLAIMABLE",
    };

    public static int RunDf(CliContext ctx, bool verbose, string? format)
    {
        using var doc = GetJson(ctx, "/system/df");
        var df = doc.RootElement;
        var images = Items(df, "Images");
        var containers = Items(df, "Containers");
        var volumes = Items(df, "Volumes");
        var cache = Items(df, "BuildCache");
        var w = ctx.IO.Out;
        if (verbose)
        {
            if (!string.IsNullOrEmpty(format)) throw new UsageException("--format is not supported with --verbose by gocker system df");
            VerboseDf(ctx, images, containers, volumes, cache);
            return 0;
        }
        long layers = L(df, "LayersSize");
        long imagesUsed = images.Where(i => L(i, "Containers") > 0 && L(i, "Size") >= 0 && L(i, "SharedSize") >= 0)
            .Sum(i => L(i, "Size") - L(i, "SharedSize"));
        static bool Active(JsonElement c) => S(c, "State") is "running" or "paused" or "restarting";
        long ctrSize = containers.Sum(c => L(c, "SizeRw"));
        long ctrReclaim = containers.Where(c => !Active(c)).Sum(c => L(c, "SizeRw"));
        long UsageSize(JsonElement v) => v.TryGetProperty("UsageData", out var u) ? Math.Max(0, L(u, "Size")) : 0;
        long Refs(JsonElement v) => v.TryGetProperty("UsageData", out var u) ? L(u, "RefCount") : 0;
        long volSize = volumes.Sum(UsageSize);
        long volReclaim = volumes.Where(v => Refs(v) == 0).Sum(UsageSize);
        long cacheSize = cache.Sum(c => L(c, "Size"));
        long cacheReclaim = cache.Where(c => !(c.TryGetProperty("InUse", out var u) && u.ValueKind == JsonValueKind.True)).Sum(c => L(c, "Size"));
        ITemplateObject Row(string type, int total, int active, long size, string reclaimable) => new FieldContext("*formatter.diskUsageContext")
            .Add("Type", () => type)
            .Add("TotalCount", () => total.ToString(CultureInfo.InvariantCulture))
            .Add("Active", () => active.ToString(CultureInfo.InvariantCulture))
            .Add("Size", () => HumanSize4(size))
            .Add("Reclaimable", () => reclaimable);
        var rows = new List<ITemplateObject>
        {
            Row("Images", images.Count, images.Count(i => L(i, "Containers") > 0), layers, Reclaim(layers - imagesUsed, layers)),
            Row("Containers", containers.Count, containers.Count(Active), ctrSize, ctrSize > 0 ? Reclaim(ctrReclaim, ctrSize) : HumanSize4(ctrReclaim)),
            Row("Local Volumes", volumes.Count, volumes.Count(v => Refs(v) > 0), volSize, volSize > 0 ? Reclaim(volReclaim, volSize) : HumanSize4(volReclaim)),
            Row("Build Cache", cache.Count, cache.Count(c => c.TryGetProperty("InUse", out var u) && u.ValueKind == JsonValueKind.True), cacheSize, HumanSize4(cacheReclaim)),
        };
        FormatOutput.WriteList(w, string.IsNullOrEmpty(format) ? "table" : format, rows, DfHeaders,
            "table {{.Type}}\\t{{.TotalCount}}\\t{{.Active}}\\t{{.Size}}\\t{{.Reclaimable}}", FormatErrors.Lists);
        return 0;
    }

    static List<JsonElement> Items(JsonElement df, string name) =>
        df.TryGetProperty(name, out var a) && a.ValueKind == JsonValueKind.Array ? [.. a.EnumerateArray()] : [];

    static void VerboseDf(CliContext ctx, List<JsonElement> images, List<JsonElement> containers, List<JsonElement> volumes, List<JsonElement> cache)
    {
        var w = ctx.IO.Out;
        var now = ctx.Now;
        w.Write("Images space usage:\n\n");
        var imageRows = new List<ITemplateObject>();
        foreach (var i in images)
        {
            var tags = i.TryGetProperty("RepoTags", out var rt) && rt.ValueKind == JsonValueKind.Array && rt.GetArrayLength() > 0
                ? rt.EnumerateArray().Select(t => t.GetString() ?? "").ToList() : ["<none>:<none>"];
            foreach (var t in tags)
            {
                int colon = t.LastIndexOf(':');
                bool hasTag = colon > t.LastIndexOf('/') && colon > 0;
                long size = L(i, "Size"), shared = L(i, "SharedSize");
                imageRows.Add(new FieldContext("*formatter.diskUsageImagesContext")
                    .Add("Repository", () => hasTag ? t[..colon] : t)
                    .Add("Tag", () => hasTag ? t[(colon + 1)..] : "<none>")
                    .Add("ID", () => Format.ShortId(S(i, "Id")))
                    .Add("CreatedSince", () => Format.Ago(L(i, "Created"), now))
                    .Add("Size", () => Format.HumanSize(size))
                    .Add("SharedSize", () => shared < 0 ? "N/A" : HumanSize4(shared))
                    .Add("UniqueSize", () => shared < 0 ? "N/A" : HumanSize4(size - shared))
                    .Add("Containers", () => N(i, "Containers")));
            }
        }
        var imageHeaders = new Dictionary<string, string>
        {
            ["Repository"] = "REPOSITORY", ["Tag"] = "TAG", ["ID"] = "IMAGE ID", ["CreatedSince"] = "CREATED", ["Size"] = "SIZE",
            ["SharedSize"] = "SHARED SIZE", ["UniqueSize"] = "UNIQUE SIZE", ["Containers"] = "CONTAINERS",
        };
        FormatOutput.WriteList(w, "table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}\\t{{.CreatedSince}}\\t{{.Size}}\\t{{.SharedSize}}\\t{{.UniqueSize}}\\t{{.Containers}}",
            imageRows, imageHeaders, "", FormatErrors.Lists);
        w.Write("\nContainers space usage:\n\n");
        var ctrRows = containers.Select(c => (ITemplateObject)new FieldContext("*formatter.diskUsageContainersContext")
            .Add("ID", () => Format.ShortId(S(c, "Id")))
            .Add("Image", () => S(c, "Image"))
            .Add("Command", () => Format.Quote(Format.Ellipsis(S(c, "Command"), 20)))
            .Add("LocalVolumes", () => "0")
            .Add("Size", () => Format.HumanSize(L(c, "SizeRw")))
            .Add("RunningFor", () => Format.Ago(L(c, "Created"), now))
            .Add("Status", () => S(c, "Status"))
            .Add("Names", () => c.TryGetProperty("Names", out var n) && n.ValueKind == JsonValueKind.Array
                ? string.Join(",", n.EnumerateArray().Select(x => (x.GetString() ?? "").TrimStart('/'))) : "")).ToList();
        var ctrHeaders = new Dictionary<string, string>
        {
            ["ID"] = "CONTAINER ID", ["Image"] = "IMAGE", ["Command"] = "COMMAND", ["LocalVolumes"] = "LOCAL VOLUMES", ["Size"] = "SIZE",
            ["RunningFor"] = "CREATED", ["Status"] = "STATUS", ["Names"] = "NAMES",
        };
        FormatOutput.WriteList(w, "table {{.ID}}\\t{{.Image}}\\t{{.Command}}\\t{{.LocalVolumes}}\\t{{.Size}}\\t{{.RunningFor}}\\t{{.Status}}\\t{{.Names}}",
            ctrRows, ctrHeaders, "", FormatErrors.Lists);
        w.Write("\nLocal Volumes space usage:\n\n");
        var volRows = volumes.Select(v => (ITemplateObject)new FieldContext("*formatter.diskUsageVolumesContext")
            .Add("Name", () => S(v, "Name"))
            .Add("Links", () => v.TryGetProperty("UsageData", out var u) ? N(u, "RefCount") : "0")
            .Add("Size", () => v.TryGetProperty("UsageData", out var u) && L(u, "Size") >= 0 ? HumanSize4(L(u, "Size")) : "N/A")).ToList();
        FormatOutput.WriteList(w, "table {{.Name}}\\t{{.Links}}\\t{{.Size}}", volRows,
            new Dictionary<string, string> { ["Name"] = "VOLUME NAME", ["Links"] = "LINKS", ["Size"] = "SIZE" }, "", FormatErrors.Lists);
        w.Write($"\nBuild cache usage: {HumanSize4(cache.Sum(c => L(c, "Size")))}\n\n");
        FormatOutput.WriteList(w, "table {{.ID}}\\t{{.CacheType}}\\t{{.Size}}\\t{{.CreatedSince}}\\t{{.LastUsedSince}}\\t{{.UsageCount}}\\t{{.Shared}}", [],
            new Dictionary<string, string>
            {
                ["ID"] = "CACHE ID", ["CacheType"] = "CACHE TYPE", ["Size"] = "SIZE", ["CreatedSince"] = "CREATED",
                ["LastUsedSince"] = "LAST USED", ["UsageCount"] = "USAGE", ["Shared"] = "SHARED",
            }, "", FormatErrors.Lists);
    }
}
