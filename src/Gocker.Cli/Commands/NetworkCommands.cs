using System.CommandLine;
using System.Text.Json;
using Gocker.Cli.Http;
using static Gocker.Cli.Commands.ResourceRequests;

namespace Gocker.Cli.Commands;

/// <summary>gocker network create | ls | inspect | rm | connect | disconnect (docker's output).
/// Bodies are read and written with JsonDocument/Utf8JsonWriter: the console keeps no model of
/// the network resource, so fields it does not know pass through inspect untouched.</summary>
public static class NetworkCommands
{
    /// <summary>The "network" command tree; <paramref name="guard"/> applies CliApp's error rules.</summary>
    public static Command Build(CliContext ctx, Func<ParseResult, Func<int>, int> guard)
    {
        var network = new Command("network", "Manage networks");

        var subnet = new Option<string?>("--subnet") { Description = "Subnet in CIDR format (e.g. 172.30.0.0/16)", HelpName = "CIDR" };
        var gateway = new Option<string?>("--gateway") { Description = "IPv4 gateway for the subnet", HelpName = "IP" };
        var driver = new Option<string>("--driver", "-d") { Description = "Driver to manage the network", DefaultValueFactory = _ => "bridge", HelpName = "string" };
        var label = new Option<string[]>("--label") { Description = "Set metadata on a network (KEY=VALUE, or KEY for an empty value)", HelpName = "list" };
        var createName = new Argument<string>("NETWORK");
        var create = new Command("create", "Create a network") { subnet, gateway, driver, label, createName };
        create.SetAction(pr => guard(pr, () => Create(ctx, pr.GetValue(createName)!, pr.GetValue(subnet), pr.GetValue(gateway), pr.GetValue(driver)!,
            RunFlags.ParseLabels(pr.GetValue(label) ?? [], [], File.ReadLines))));
        network.Add(create);

        var quiet = new Option<bool>("--quiet", "-q") { Description = "Only display network IDs" };
        var noTrunc = new Option<bool>("--no-trunc") { Description = "Do not truncate the output" };
        var filter = new Option<string[]>("--filter", "-f") { Description = "Filter output (name=, id=, label=KEY[=VALUE], driver=, type=custom|builtin, scope=)", HelpName = "filter" };
        var lsFormat = new Option<string?>("--format") { Description = "Format output using a Go template ('table ...' for columns, 'json')", HelpName = "string" };
        var ls = new Command("ls", "List networks") { quiet, noTrunc, filter, lsFormat };
        ls.Aliases.Add("list");
        ls.SetAction(pr => guard(pr, () => List(ctx, pr.GetValue(quiet), pr.GetValue(noTrunc), pr.GetValue(filter) ?? [], pr.GetValue(lsFormat))));
        network.Add(ls);

        network.Add(InspectCommands.Build("inspect", "Display detailed information on one or more networks", InspectCommands.Kind.Network, "NETWORK", ctx, guard));

        var rmNames = new Argument<string[]>("NETWORK") { Arity = ArgumentArity.OneOrMore };
        var rm = new Command("rm", "Remove one or more networks") { rmNames };
        rm.Aliases.Add("remove");
        rm.SetAction(pr => guard(pr, () => Remove(ctx, pr.GetValue(rmNames)!)));
        network.Add(rm);

        var connNet = new Argument<string>("NETWORK");
        var connCtr = new Argument<string>("CONTAINER");
        var alias = new Option<string[]>("--alias") { Description = "Add network-scoped alias for the container", HelpName = "list" };
        var connect = new Command("connect", "Connect a container to a network") { alias, connNet, connCtr };
        connect.SetAction(pr => guard(pr, () => Connect(ctx, "connect", pr.GetValue(connNet)!, pr.GetValue(connCtr)!, false, pr.GetValue(alias) ?? [])));
        network.Add(connect);

        var force = new Option<bool>("--force", "-f") { Description = "Force the container to disconnect from a network" };
        var discNet = new Argument<string>("NETWORK");
        var discCtr = new Argument<string>("CONTAINER");
        var disconnect = new Command("disconnect", "Disconnect a container from a network") { force, discNet, discCtr };
        disconnect.SetAction(pr => guard(pr, () => Connect(ctx, "disconnect", pr.GetValue(discNet)!, pr.GetValue(discCtr)!, pr.GetValue(force))));
        network.Add(disconnect);
        return network;
    }

    public static int Create(CliContext ctx, string name, string? subnet, string? gateway, string driver, Dictionary<string, string>? labels = null)
    {
        if (gateway is not null && subnet is null) throw new UsageException("--gateway needs --subnet");
        var body = Json(w =>
        {
            w.WriteStartObject();
            w.WriteString("Name", name);
            w.WriteString("Driver", driver);
            w.WriteBoolean("CheckDuplicate", true);
            if (labels is not null)
            {
                w.WriteStartObject("Labels");
                foreach (var (k, v) in labels) w.WriteString(k, v);
                w.WriteEndObject();
            }
            if (subnet is not null)
            {
                w.WriteStartObject("IPAM");
                w.WriteString("Driver", "default");
                w.WriteStartArray("Config");
                w.WriteStartObject();
                w.WriteString("Subnet", subnet);
                if (gateway is not null) w.WriteString("Gateway", gateway);
                w.WriteEndObject();
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndObject();
        });
        using var doc = Send(ctx, "POST", "/networks/create", body);
        ctx.IO.Out.Write(Str(doc!.RootElement, "Id") + "\n");
        return 0;
    }

    public static int List(CliContext ctx, bool quiet, bool noTrunc, string[]? filters = null, string? format = null)
    {
        // The daemon checks the keys (an unknown one is refused, naming it).
        var query = "";
        if (filters is { Length: > 0 })
        {
            var map = new SortedDictionary<string, List<string>>(StringComparer.Ordinal);
            foreach (var f in filters)
            {
                var eq = f.IndexOf('=');
                if (eq <= 0) throw new UsageException($"bad format of filter (expected name=value): {f}");
                var key = f[..eq].Trim().ToLowerInvariant();
                (map.TryGetValue(key, out var l) ? l : map[key] = []).Add(f[(eq + 1)..]);
            }
            query = "?filters=" + Esc(Json(w =>
            {
                w.WriteStartObject();
                foreach (var (k, vs) in map)
                {
                    w.WriteStartArray(k);
                    foreach (var v in vs) w.WriteStringValue(v);
                    w.WriteEndArray();
                }
                w.WriteEndObject();
            }) is var bytes ? System.Text.Encoding.UTF8.GetString(bytes) : "");
        }
        using var doc = Send(ctx, "GET", "/networks" + query, default);
        if (!quiet && !string.IsNullOrEmpty(format))
        {
            Templates.FormatOutput.WriteList(ctx.IO.Out, format, doc!.RootElement.EnumerateArray().Select(n => Templates.ListContexts.Network(n, noTrunc)).ToList(),
                Templates.ListContexts.NetworkHeaders, Templates.ListContexts.NetworkTable, Templates.FormatErrors.Lists);
            return 0;
        }
        var rows = new List<IReadOnlyList<string>>();
        foreach (var n in doc!.RootElement.EnumerateArray())
        {
            var id = Str(n, "Id");
            if (!noTrunc && id.Length > 12) id = id[..12];
            if (quiet) ctx.IO.Out.Write(id + "\n");
            else rows.Add([id, Str(n, "Name"), Str(n, "Driver"), Str(n, "Scope")]);
        }
        if (!quiet) Format.Table(ctx.IO.Out, ["NETWORK ID", "NAME", "DRIVER", "SCOPE"], rows);
        return 0;
    }

    public static int Inspect(CliContext ctx, string[] names) => InspectCommands.Inspect(ctx, names, null, InspectCommands.Kind.Network);

    public static int Remove(CliContext ctx, string[] names) => RemoveEach(ctx, names, n => "/networks/" + Esc(n));

    public static int Connect(CliContext ctx, string verb, string network, string container, bool force, string[]? aliases = null)
    {
        var body = Json(w =>
        {
            w.WriteStartObject();
            w.WriteString("Container", container);
            if (verb == "disconnect") w.WriteBoolean("Force", force);
            if (aliases is { Length: > 0 })
            {
                w.WriteStartObject("EndpointConfig");
                w.WriteStartArray("Aliases");
                foreach (var a in aliases) w.WriteStringValue(a);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndObject();
        });
        Send(ctx, "POST", $"/networks/{Esc(network)}/{verb}", body)?.Dispose();
        return 0;
    }
}
