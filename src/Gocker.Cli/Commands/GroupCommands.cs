using System.CommandLine;
using System.Text.Json;
using Gocker.Api;
using Gocker.Cli.Http;
using static Gocker.Cli.Commands.ResourceRequests;

namespace Gocker.Cli.Commands;

/// <summary>gocker group create | ls | inspect | rm: supervision groups (Gocker's own; containers
/// join with `run --group NAME`).</summary>
public static class GroupCommands
{
    public static Command Build(CliContext ctx, Func<ParseResult, Func<int>, int> guard)
    {
        var group = new Command("group", "Manage supervision groups");

        var strategy = new Option<string>("--strategy") { Description = "one-for-one, one-for-all or rest-for-one", DefaultValueFactory = _ => "one-for-one", HelpName = "strategy" };
        var maxRestarts = new Option<int>("--max-restarts") { Description = "More restarts than this within --within and the group gives up", DefaultValueFactory = _ => 3, HelpName = "N" };
        var within = new Option<string>("--within") { Description = "The intensity window (e.g. 60s, 5m)", DefaultValueFactory = _ => "60s", HelpName = "duration" };
        var createName = new Argument<string>("NAME");
        var create = new Command("create", "Create a supervision group") { strategy, maxRestarts, within, createName };
        create.SetAction(pr => guard(pr, () => Create(ctx, pr.GetValue(createName)!, pr.GetValue(strategy)!, pr.GetValue(maxRestarts), pr.GetValue(within)!)));
        group.Add(create);

        var quiet = new Option<bool>("--quiet", "-q") { Description = "Only display group names" };
        var ls = new Command("ls", "List supervision groups") { quiet };
        ls.Aliases.Add("list");
        ls.SetAction(pr => guard(pr, () => List(ctx, pr.GetValue(quiet))));
        group.Add(ls);

        var inspectNames = new Argument<string[]>("NAME") { Arity = ArgumentArity.OneOrMore };
        var inspect = new Command("inspect", "Display detailed information on one or more groups") { inspectNames };
        inspect.SetAction(pr => guard(pr, () => Inspect(ctx, pr.GetValue(inspectNames)!)));
        group.Add(inspect);

        var rmNames = new Argument<string[]>("NAME") { Arity = ArgumentArity.OneOrMore };
        var rm = new Command("rm", "Remove one or more groups (refused while containers are members)") { rmNames };
        rm.Aliases.Add("remove");
        rm.SetAction(pr => guard(pr, () => Remove(ctx, pr.GetValue(rmNames)!)));
        group.Add(rm);
        return group;
    }

    public static int Create(CliContext ctx, string name, string strategy, int maxRestarts, string within)
    {
        if (strategy is not ("one-for-one" or "one-for-all" or "rest-for-one"))
            throw new UsageException($"invalid --strategy \"{strategy}\": use one-for-one, one-for-all or rest-for-one");
        if (maxRestarts < 0) throw new UsageException($"invalid --max-restarts {maxRestarts}: must be 0 or more");
        var withinMs = RunFlags.ParseDurationMs(within, "--within");
        if (withinMs <= 0) throw new UsageException($"invalid --within \"{within}\": must be positive");
        var body = JsonSerializer.SerializeToUtf8Bytes(new GroupCreateRequest { Name = name, Strategy = strategy, MaxRestarts = maxRestarts, WithinMs = withinMs },
            GockerGroupJson.Default.GroupCreateRequest);
        Send(ctx, "POST", "/groups/create", body)?.Dispose();
        ctx.IO.Out.Write(name + "\n");
        return 0;
    }

    public static int List(CliContext ctx, bool quiet)
    {
        using var doc = Send(ctx, "GET", "/groups", default);
        var rows = new List<IReadOnlyList<string>>();
        foreach (var g in doc!.RootElement.EnumerateArray())
        {
            var info = g.Deserialize(GockerGroupJson.Default.GroupInfo)!;
            if (quiet) { ctx.IO.Out.Write(info.Name + "\n"); continue; }
            var state = info.GivenUp ? "given up" : "active";
            rows.Add([info.Name, info.Strategy, $"{info.MaxRestarts} in {info.WithinMs / 1000.0:0.###}s",
                info.Members.Count.ToString(System.Globalization.CultureInfo.InvariantCulture),
                info.Restarts.ToString(System.Globalization.CultureInfo.InvariantCulture), state]);
        }
        if (!quiet) Format.Table(ctx.IO.Out, ["NAME", "STRATEGY", "INTENSITY", "MEMBERS", "RESTARTS", "STATE"], rows);
        return 0;
    }

    public static int Inspect(CliContext ctx, string[] names) => InspectEach(ctx, names, n => "/groups/" + Esc(n), "group");

    public static int Remove(CliContext ctx, string[] names) => RemoveEach(ctx, names, n => "/groups/" + Esc(n));
}
