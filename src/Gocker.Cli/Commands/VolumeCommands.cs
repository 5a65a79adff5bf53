using System.CommandLine;
using System.Text.Json;
using Gocker.Cli.Http;
using static Gocker.Cli.Commands.ResourceRequests;

namespace Gocker.Cli.Commands;

/// <summary>gocker volume create | ls | inspect | rm | prune (docker's flags and output). Bodies are
/// read with JsonDocument: inspect passes the daemon's fields through untouched.</summary>
public static class VolumeCommands
{
    public static Command Build(CliContext ctx, Func<ParseResult, Func<int>, int> guard)
    {
        var volume = new Command("volume", "Manage volumes");

        var driver = new Option<string>("--driver", "-d") { Description = "Specify volume driver name", DefaultValueFactory = _ => "local", HelpName = "string" };
        var label = new Option<string[]>("--label") { Description = "Set metadata for a volume (KEY=VALUE)", HelpName = "list" };
        var opt = new Option<string[]>("--opt", "-o") { Description = "Set driver specific options (refused: Gocker's local driver has none)", HelpName = "map" };
        var createName = new Argument<string?>("VOLUME") { Arity = ArgumentArity.ZeroOrOne };
        var create = new Command("create", "Create a volume") { driver, label, opt, createName };
        create.SetAction(pr => guard(pr, () => Create(ctx, pr.GetValue(createName), pr.GetValue(driver)!,
            RunFlags.ParseLabels(pr.GetValue(label) ?? [], [], File.ReadLines), pr.GetValue(opt) ?? [])));
        volume.Add(create);

        var quiet = new Option<bool>("--quiet", "-q") { Description = "Only display volume names" };
        var filter = new Option<string[]>("--filter", "-f") { Description = "Provide filter values (name=, label=KEY[=VALUE], dangling=true|false, driver=)", HelpName = "filter" };
        var ls = new Command("ls", "List volumes") { quiet, filter };
        ls.Aliases.Add("list");
        ls.SetAction(pr => guard(pr, () => List(ctx, pr.GetValue(quiet), pr.GetValue(filter) ?? [])));
        volume.Add(ls);

        var inspectNames = new Argument<string[]>("VOLUME") { Arity = ArgumentArity.OneOrMore };
        var inspect = new Command("inspect", "Display detailed information on one or more volumes") { inspectNames };
        inspect.SetAction(pr => guard(pr, () => Inspect(ctx, pr.GetValue(inspectNames)!)));
        volume.Add(inspect);

        var force = new Option<bool>("--force", "-f") { Description = "Force the removal of one or more volumes (a missing one is no error)" };
        var rmNames = new Argument<string[]>("VOLUME") { Arity = ArgumentArity.OneOrMore };
        var rm = new Command("rm", "Remove one or more volumes") { force, rmNames };
        rm.Aliases.Add("remove");
        rm.SetAction(pr => guard(pr, () => Remove(ctx, pr.GetValue(rmNames)!, pr.GetValue(force))));
        volume.Add(rm);

        var all = new Option<bool>("--all", "-a") { Description = "Remove all unused volumes, not just anonymous ones" };
        var pruneFilter = new Option<string[]>("--filter") { Description = "Provide filter values (label=KEY[=VALUE], label!=KEY[=VALUE])", HelpName = "filter" };
        var pruneForce = new Option<bool>("--force", "-f") { Description = "Do not prompt for confirmation (gocker never prompts)" };
        var prune = new Command("prune", "Remove unused local volumes") { all, pruneFilter, pruneForce };
        prune.SetAction(pr => guard(pr, () => Prune(ctx, pr.GetValue(all), pr.GetValue(pruneFilter) ?? [])));
        volume.Add(prune);
        return volume;
    }

    public static int Create(CliContext ctx, string? name, string driver, Dictionary<string, string>? labels, string[] opts)
    {
        var body = Json(w =>
        {
            w.WriteStartObject();
            if (name is not null) w.WriteString("Name", name);
            w.WriteString("Driver", driver);
            w.WriteStartObject("DriverOpts");
            foreach (var o in opts)
            {
                var eq = o.IndexOf('=');
                if (eq <= 0) throw new UsageException($"invalid --opt \"{o}\": expected KEY=VALUE");
                w.WriteString(o[..eq], o[(eq + 1)..]);
            }
            w.WriteEndObject();
            w.WriteStartObject("Labels");
            foreach (var (k, v) in labels ?? []) w.WriteString(k, v);
            w.WriteEndObject();
            w.WriteEndObject();
        });
        using var doc = Send(ctx, "POST", "/volumes/create", body);
        ctx.IO.Out.Write(Str(doc!.RootElement, "Name") + "\n");
        return 0;
    }

    /// <summary>KEY=VALUE flags as Docker's filters JSON (the daemon checks the keys).</summary>
    static string FilterQuery(IEnumerable<(string Key, string Value)> pairs)
    {
        var map = new SortedDictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var (k, v) in pairs) (map.TryGetValue(k, out var l) ? l : map[k] = []).Add(v);
        if (map.Count == 0) return "";
        var json = Json(w =>
        {
            w.WriteStartObject();
            foreach (var (k, vs) in map)
            {
                w.WriteStartArray(k);
                foreach (var v in vs) w.WriteStringValue(v);
                w.WriteEndArray();
            }
            w.WriteEndObject();
        });
        return "?filters=" + Esc(System.Text.Encoding.UTF8.GetString(json));
    }

    static IEnumerable<(string, string)> SplitFilters(string[] filters) => filters.Select(f =>
    {
        var eq = f.IndexOf('=');
        if (eq <= 0) throw new UsageException($"bad format of filter (expected name=value): {f}");
        return (f[..eq].Trim().ToLowerInvariant(), f[(eq + 1)..]);
    }).ToList();

    public static int List(CliContext ctx, bool quiet, string[] filters)
    {
        using var doc = Send(ctx, "GET", "/volumes" + FilterQuery(SplitFilters(filters)), default);
        var rows = new List<IReadOnlyList<string>>();
        if (doc!.RootElement.TryGetProperty("Volumes", out var list) && list.ValueKind == JsonValueKind.Array)
            foreach (var v in list.EnumerateArray())
            {
                if (quiet) ctx.IO.Out.Write(Str(v, "Name") + "\n");
                else rows.Add([Str(v, "Driver"), Str(v, "Name")]);
            }
        if (!quiet) Format.Table(ctx.IO.Out, ["DRIVER", "VOLUME NAME"], rows);
        return 0;
    }

    public static int Inspect(CliContext ctx, string[] names) => InspectEach(ctx, names, n => "/volumes/" + Esc(n), "volume");

    public static int Remove(CliContext ctx, string[] names, bool force) =>
        RemoveEach(ctx, names, n => "/volumes/" + Esc(n) + (force ? "?force=1" : ""));

    public static int Prune(CliContext ctx, bool all, string[] filters)
    {
        var pairs = SplitFilters(filters).ToList();
        if (all) pairs.Add(("all", "true"));
        using var doc = Send(ctx, "POST", "/volumes/prune" + FilterQuery(pairs), default);
        var root = doc!.RootElement;
        if (root.TryGetProperty("VolumesDeleted", out var deleted) && deleted.ValueKind == JsonValueKind.Array && deleted.GetArrayLength() > 0)
        {
            ctx.IO.Out.Write("Deleted Volumes:\n");
            foreach (var v in deleted.EnumerateArray()) ctx.IO.Out.Write(v.GetString() + "\n");
            ctx.IO.Out.Write("\n");
        }
        var bytes = root.TryGetProperty("SpaceReclaimed", out var s) && s.TryGetInt64(out var n) ? n : 0;
        ctx.IO.Out.Write($"Total reclaimed space: {Format.HumanSize(bytes)}\n");
        return 0;
    }
}
