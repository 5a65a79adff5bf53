using System.CommandLine;
using System.Text.Json;
using Gocker.Api;

namespace Gocker.Cli.Commands;

/// <summary>rename, update, diff, history, and the prune commands (container, network, system), as
/// docker has them. Registered after the rest of the tree: `container`/`network`/`image` groups that
/// exist already get their subcommand added.</summary>
internal static class VerbCommands
{
    static string Esc(string s) => Uri.EscapeDataString(s);

    public static void Register(Command root, Func<ParseResult, Func<int>, int> guard, CliContext ctx)
    {
        var renameOld = new Argument<string>("CONTAINER");
        var renameNew = new Argument<string>("NEW_NAME");
        var rename = new Command("rename", "Rename a container") { renameOld, renameNew };
        rename.SetAction(pr => guard(pr, () => Rename(ctx, pr.GetValue(renameOld)!, pr.GetValue(renameNew)!)));
        root.Add(rename);

        root.Add(UpdateCommand(guard, ctx));

        var diffId = new Argument<string>("CONTAINER");
        var diff = new Command("diff", "Inspect changes to files or directories on a container's filesystem") { diffId };
        diff.SetAction(pr => guard(pr, () => Diff(ctx, pr.GetValue(diffId)!)));
        root.Add(diff);

        var history = HistoryCommand(guard, ctx);
        root.Add(history);
        Group(root, "image", "Manage images").Add(HistoryCommand(guard, ctx));

        var container = Group(root, "container", "Manage containers");
        container.Add(PruneCommand("Remove all stopped containers", guard, ctx, (f, _) => PruneContainers(ctx, f)));
        Group(root, "network", "Manage networks").Add(PruneCommand("Remove all unused networks", guard, ctx, (f, _) => PruneNetworks(ctx, f)));

        var system = Group(root, "system", "Manage Gocker");
        var all = new Option<bool>("--all", "-a") { Description = "Remove all unused images not just dangling ones" };
        var volumes = new Option<bool>("--volumes") { Description = "Prune anonymous volumes" };
        var force = new Option<bool>("--force", "-f") { Description = "Do not prompt for confirmation (gocker never prompts)" };
        var filter = new Option<string[]>("--filter") { Description = "Provide filter values (e.g. \"label=<key>=<value>\", \"until=24h\")", AllowMultipleArgumentsPerToken = false };
        var systemPrune = new Command("prune", "Remove unused data") { all, volumes, force, filter };
        systemPrune.SetAction(pr => guard(pr, () => SystemPrune(ctx, pr.GetValue(all), pr.GetValue(volumes), pr.GetValue(filter) ?? [])));
        system.Add(systemPrune);
    }

    /// <summary>The existing subcommand of that name, or a new one added to root.</summary>
    static Command Group(Command root, string name, string description)
    {
        var existing = root.Subcommands.FirstOrDefault(c => c.Name == name);
        if (existing is not null) return existing;
        var group = new Command(name, description);
        root.Add(group);
        return group;
    }

    static Command HistoryCommand(Func<ParseResult, Func<int>, int> guard, CliContext ctx)
    {
        var noTrunc = new Option<bool>("--no-trunc") { Description = "Don't truncate output" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Only show image IDs" };
        var human = new Option<bool>("--human", "-H") { Description = "Print sizes and dates in human readable format", DefaultValueFactory = _ => true };
        var image = new Argument<string>("IMAGE");
        var cmd = new Command("history", "Show the history of an image") { noTrunc, quiet, human, image };
        cmd.SetAction(pr => guard(pr, () => History(ctx, pr.GetValue(image)!, pr.GetValue(noTrunc), pr.GetValue(quiet), pr.GetValue(human))));
        return cmd;
    }

    static Command PruneCommand(string description, Func<ParseResult, Func<int>, int> guard, CliContext ctx, Func<string[], bool, int> run)
    {
        var force = new Option<bool>("--force", "-f") { Description = "Do not prompt for confirmation (gocker never prompts)" };
        var filter = new Option<string[]>("--filter") { Description = "Provide filter values (e.g. \"until=24h\", \"label=k=v\", \"label!=k\")", AllowMultipleArgumentsPerToken = false };
        var cmd = new Command("prune", description) { force, filter };
        cmd.SetAction(pr => guard(pr, () => run(pr.GetValue(filter) ?? [], pr.GetValue(force))));
        return cmd;
    }

    static Command UpdateCommand(Func<ParseResult, Func<int>, int> guard, CliContext ctx)
    {
        var memory = new Option<string?>("--memory", "-m") { Description = "Memory limit", HelpName = "bytes" };
        var memorySwap = new Option<string?>("--memory-swap") { Description = "Swap limit equal to memory plus swap (Gocker: only equal to --memory)", HelpName = "bytes" };
        var memoryReservation = new Option<string?>("--memory-reservation") { Description = "Memory soft limit (not supported: refused)", HelpName = "bytes" };
        var cpus = new Option<string?>("--cpus") { Description = "Number of CPUs", HelpName = "decimal" };
        var cpuShares = new Option<long?>("--cpu-shares", "-c") { Description = "CPU shares (relative weight)", HelpName = "int" };
        var cpuQuota = new Option<long?>("--cpu-quota") { Description = "Limit CPU CFS quota", HelpName = "int" };
        var cpuPeriod = new Option<long?>("--cpu-period") { Description = "Limit CPU CFS period", HelpName = "int" };
        var cpusetCpus = new Option<string?>("--cpuset-cpus") { Description = "CPUs in which to allow execution (0-3, 0,1)", HelpName = "string" };
        var cpusetMems = new Option<string?>("--cpuset-mems") { Description = "MEMs in which to allow execution (not supported: refused)", HelpName = "string" };
        var pidsLimit = new Option<long?>("--pids-limit") { Description = "Tune container pids limit (-1 for unlimited)", HelpName = "int" };
        var blkioWeight = new Option<ushort?>("--blkio-weight") { Description = "Block IO weight (not supported: refused)", HelpName = "uint16" };
        var restart = new Option<string?>("--restart") { Description = "Restart policy to apply when a container exits", HelpName = "string" };
        var ids = new Argument<string[]>("CONTAINER") { Arity = ArgumentArity.OneOrMore };
        var cmd = new Command("update", "Update configuration of one or more containers")
            { memory, memorySwap, memoryReservation, cpus, cpuShares, cpuQuota, cpuPeriod, cpusetCpus, cpusetMems, pidsLimit, blkioWeight, restart, ids };
        cmd.SetAction(pr => guard(pr, () =>
        {
            static long Swap(string v) => v == "-1" ? -1 : RunFlags.ParseMemory(v);
            var req = new ContainerUpdateRequest
            {
                Memory = pr.GetValue(memory) is { } m ? RunFlags.ParseMemory(m) : 0,
                MemorySwap = pr.GetValue(memorySwap) is { } ms ? Swap(ms) : 0,
                MemoryReservation = pr.GetValue(memoryReservation) is { } mr ? RunFlags.ParseMemory(mr) : 0,
                NanoCpus = pr.GetValue(cpus) is { } c ? RunFlags.ParseCpus(c) : 0,
                CpuShares = pr.GetValue(cpuShares) ?? 0,
                CpuQuota = pr.GetValue(cpuQuota) ?? 0,
                CpuPeriod = pr.GetValue(cpuPeriod) ?? 0,
                CpusetCpus = pr.GetValue(cpusetCpus),
                CpusetMems = pr.GetValue(cpusetMems),
                PidsLimit = pr.GetValue(pidsLimit),
                BlkioWeight = pr.GetValue(blkioWeight) ?? 0,
                RestartPolicy = pr.GetValue(restart) is { } r ? RunFlags.ParseRestart(r) : null,
            };
            var body = JsonSerializer.SerializeToUtf8Bytes(req, GockerVerbJson.Default.ContainerUpdateRequest);
            int rc = 0;
            foreach (var id in pr.GetValue(ids)!)
            {
                try
                {
                    using var resp = ctx.Client.Http.Send("POST", $"/containers/{Esc(id)}/update", body, "application/json");
                    GockerClient.EnsureSuccess(resp);
                    ctx.IO.Out.Write(id + "\n");
                }
                catch (ApiException e) { ctx.IO.Error("Error response from daemon: " + e.Message); rc = 1; }
            }
            return rc;
        }));
        return cmd;
    }

    public static int Rename(CliContext ctx, string container, string newName)
    {
        using var r = ctx.Client.Http.Send("POST", $"/containers/{Esc(container)}/rename?name={Esc(newName)}");
        GockerClient.EnsureSuccess(r);
        return 0;
    }

    public static int Diff(CliContext ctx, string container)
    {
        using var r = ctx.Client.Http.Send("GET", $"/containers/{Esc(container)}/changes");
        GockerClient.EnsureSuccess(r);
        var changes = JsonSerializer.Deserialize(r.ReadBodyBytes(), GockerVerbJson.Default.ListContainerChange) ?? [];
        foreach (var c in changes) ctx.IO.Out.Write($"{c.Kind switch { 0 => "C", 1 => "A", 2 => "D", _ => "?" }} {c.Path}\n");
        return 0;
    }

    public static int History(CliContext ctx, string image, bool noTrunc, bool quiet, bool human)
    {
        using var r = ctx.Client.Http.Send("GET", $"/images/{ImageClient.EscName(image)}/history");
        GockerClient.EnsureSuccess(r);
        var items = JsonSerializer.Deserialize(r.ReadBodyBytes(), GockerVerbJson.Default.ListImageHistoryItem) ?? [];
        string Id(string id) => id == "<missing>" || noTrunc ? id : Format.ShortId(id);
        if (quiet)
        {
            foreach (var h in items) ctx.IO.Out.Write(Id(h.Id) + "\n");
            return 0;
        }
        var rows = items.Select(h => (IReadOnlyList<string>)
        [
            Id(h.Id),
            human ? Format.Ago(h.Created, ctx.Now) : DateTimeOffset.FromUnixTimeSeconds(h.Created).ToString("yyyy-MM-dd'T'HH:mm:sszzz", System.Globalization.CultureInfo.InvariantCulture),
            noTrunc ? h.CreatedBy : Format.Ellipsis(h.CreatedBy, 45),
            human ? Format.HumanSize(h.Size) : h.Size.ToString(System.Globalization.CultureInfo.InvariantCulture),
            h.Comment,
        ]).ToList();
        Format.Table(ctx.IO.Out, ["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"], rows);
        return 0;
    }

    /// <summary>--filter k=v (repeatable) as the API's filters JSON; null when none.</summary>
    static string FiltersQuery(string[] filters, IEnumerable<(string Key, string Value)> extra = null!)
    {
        var map = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var f in filters)
        {
            var eq = f.IndexOf('=');
            if (eq <= 0) throw new UsageException($"bad format of filter \"{f}\" (expected name=value)");
            var key = f[..eq];
            // label!=x arrives as "label!" "=x" split at the first '='.
            (map.TryGetValue(key, out var l) ? l : map[key] = []).Add(f[(eq + 1)..]);
        }
        foreach (var (k, v) in extra ?? []) (map.TryGetValue(k, out var l) ? l : map[k] = []).Add(v);
        if (map.Count == 0) return "";
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            foreach (var (k, vs) in map)
            {
                w.WriteStartArray(k);
                foreach (var v in vs) w.WriteStringValue(v);
                w.WriteEndArray();
            }
            w.WriteEndObject();
        }
        return "?filters=" + Esc(System.Text.Encoding.UTF8.GetString(ms.ToArray()));
    }

    public static int PruneContainers(CliContext ctx, string[] filters)
    {
        using var r = ctx.Client.Http.Send("POST", "/containers/prune" + FiltersQuery(filters));
        GockerClient.EnsureSuccess(r);
        var resp = JsonSerializer.Deserialize(r.ReadBodyBytes(), GockerVerbJson.Default.ContainerPruneResponse) ?? new();
        if (resp.ContainersDeleted is { Count: > 0 } deleted)
        {
            ctx.IO.Out.Write("Deleted Containers:\n");
            foreach (var id in deleted) ctx.IO.Out.Write(id + "\n");
            ctx.IO.Out.Write("\n");
        }
        ctx.IO.Out.Write($"Total reclaimed space: {Format.HumanSize(resp.SpaceReclaimed)}\n");
        return 0;
    }

    public static int PruneNetworks(CliContext ctx, string[] filters)
    {
        using var r = ctx.Client.Http.Send("POST", "/networks/prune" + FiltersQuery(filters));
        GockerClient.EnsureSuccess(r);
        var resp = JsonSerializer.Deserialize(r.ReadBodyBytes(), GockerVerbJson.Default.NetworkPruneResponse) ?? new();
        if (resp.NetworksDeleted is { Count: > 0 } deleted)
        {
            ctx.IO.Out.Write("Deleted Networks:\n");
            foreach (var n in deleted) ctx.IO.Out.Write(n + "\n");
        }
        return 0;
    }

    public static int PruneImages(CliContext ctx, bool all, string[] filters)
    {
        var q = FiltersQuery(filters, all ? [("dangling", "false")] : []);
        using var r = ctx.Client.Http.Send("POST", "/images/prune" + q);
        GockerClient.EnsureSuccess(r);
        var resp = JsonSerializer.Deserialize(r.ReadBodyBytes(), GockerImageJson.Default.ImagePruneResponse) ?? new();
        if (resp.ImagesDeleted.Count > 0)
        {
            ctx.IO.Out.Write("Deleted Images:\n");
            foreach (var i in resp.ImagesDeleted)
                ctx.IO.Out.Write(i.Untagged is not null ? $"untagged: {i.Untagged}\n" : $"deleted: {i.Deleted}\n");
            ctx.IO.Out.Write("\n");
        }
        ctx.IO.Out.Write($"Total reclaimed space: {Format.HumanSize(resp.SpaceReclaimed)}\n");
        return 0;
    }

    /// <summary>docker's system prune: containers, networks, then images (dangling, or all unused with
    /// -a), each with the same filters; --volumes only where the daemon has /volumes/prune.</summary>
    public static int SystemPrune(CliContext ctx, bool all, bool volumes, string[] filters)
    {
        if (volumes)
        {
            // Refused before anything is deleted: the user asked for volumes too.
            using var probe = ctx.Client.Http.Send("POST", "/volumes/prune?filters=" + Esc("{\"label\":[\"gocker.probe.never-set-" + Guid.NewGuid().ToString("N") + "\"]}"));
            if (probe.StatusCode is 404 or 405)
                throw new UsageException("--volumes: this daemon has no volumes (POST /volumes/prune is not supported); nothing was pruned");
            GockerClient.EnsureSuccess(probe);
        }
        PruneContainers(ctx, filters);
        PruneNetworks(ctx, filters);
        if (volumes)
        {
            using var r = ctx.Client.Http.Send("POST", "/volumes/prune" + FiltersQuery(filters));
            GockerClient.EnsureSuccess(r);
            using var doc = JsonDocument.Parse(r.ReadBodyBytes());
            if (doc.RootElement.TryGetProperty("VolumesDeleted", out var v) && v.ValueKind == JsonValueKind.Array && v.GetArrayLength() > 0)
            {
                ctx.IO.Out.Write("Deleted Volumes:\n");
                foreach (var n in v.EnumerateArray()) ctx.IO.Out.Write(n.GetString() + "\n");
                ctx.IO.Out.Write("\n");
            }
        }
        return PruneImages(ctx, all, filters);
    }

    public static int Stop(CliContext ctx, string[] ids, int? seconds, string? signal, bool restart)
    {
        var q = new List<string>();
        if (seconds is { } t) q.Add("t=" + t.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (!string.IsNullOrEmpty(signal)) q.Add("signal=" + Esc(signal));
        var query = q.Count > 0 ? "?" + string.Join('&', q) : "";
        int rc = 0;
        foreach (var id in ids)
        {
            try
            {
                using var r = ctx.Client.Http.Send("POST", $"/containers/{Esc(id)}/{(restart ? "restart" : "stop")}{query}");
                GockerClient.EnsureSuccess(r);
                ctx.IO.Out.Write(id + "\n");
            }
            catch (ApiException e) { ctx.IO.Error("Error response from daemon: " + e.Message); rc = 1; }
        }
        return rc;
    }

    public static int Top(CliContext ctx, string id, string[] psArgs)
    {
        var q = psArgs.Length > 0 ? "?ps_args=" + Esc(string.Join(' ', psArgs)) : "";
        using var r = ctx.Client.Http.Send("GET", $"/containers/{Esc(id)}/top{q}");
        GockerClient.EnsureSuccess(r);
        using var doc = JsonDocument.Parse(r.ReadBodyBytes());
        var titles = doc.RootElement.GetProperty("Titles").EnumerateArray().Select(t => t.GetString() ?? "").ToList();
        var rows = doc.RootElement.GetProperty("Processes").EnumerateArray()
            .Select(row => (IReadOnlyList<string>)row.EnumerateArray().Select(v => v.GetString() ?? "").ToList()).ToList();
        Format.Table(ctx.IO.Out, titles, rows);
        return 0;
    }
}
