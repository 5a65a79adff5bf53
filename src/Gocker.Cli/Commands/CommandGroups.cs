using System.CommandLine;

namespace Gocker.Cli.Commands;

/// <summary>
/// docker's management commands as aliases of the top-level ones: `gocker container ls` runs
/// `gocker ps`, `gocker container run ...` runs `gocker run ...`, `gocker system events` runs
/// `gocker events`. The command line is rewritten before it is parsed (<see cref="Rewrite"/>), so
/// the alias has every option of its target and the run/create/exec pre-split sees the real
/// command; the group's listed subcommands exist only for `gocker container --help`.
/// To add an alias (e.g. `container cp`): add one ("cp", "cp") entry to
/// <see cref="Aliases"/>. A group's own commands (system df) are added as usual to the group
/// (<see cref="Build"/>).
/// </summary>
public static class CommandGroups
{
    /// <summary>group -> (subcommand -> top-level command). Several names may lead to one target.</summary>
    public static readonly Dictionary<string, (string Sub, string Target)[]> Aliases = new(StringComparer.Ordinal)
    {
        ["container"] =
        [
            ("ls", "ps"), ("ps", "ps"), ("list", "ps"), ("run", "run"), ("create", "create"), ("start", "start"),
            ("stop", "stop"), ("restart", "restart"), ("kill", "kill"), ("rm", "rm"), ("remove", "rm"),
            ("logs", "logs"), ("exec", "exec"), ("attach", "attach"), ("wait", "wait"), ("top", "top"),
            ("stats", "stats"), ("commit", "commit"), ("export", "export"), ("port", "port"), ("pause", "pause"),
            ("unpause", "unpause"), ("cp", "cp"), ("rename", "rename"), ("update", "update"), ("diff", "diff"),
        ],
        ["system"] = [("info", "info"), ("events", "events")],
    };

    /// <summary>`gocker [globals] GROUP SUB args` -> `gocker [globals] TARGET args` for an alias; other
    /// command lines are returned as they are.</summary>
    public static string[] Rewrite(string[] args, IReadOnlySet<string> globalValueOptions)
    {
        int i = 0;
        while (i < args.Length && args[i].Length > 1 && args[i][0] == '-' && args[i] != "--")
            i += globalValueOptions.Contains(args[i]) ? 2 : 1;
        if (i + 1 >= args.Length || !Aliases.TryGetValue(args[i], out var subs)) return args;
        foreach (var (sub, target) in subs)
            if (args[i + 1] == sub) return [.. args[..i], target, .. args[(i + 2)..]];
        return args;
    }

    /// <summary>Adds the groups to <paramref name="root"/> (after the top-level commands exist, whose
    /// descriptions the listed aliases show), with <paramref name="own"/> commands per group.</summary>
    public static void Build(Command root, IReadOnlyDictionary<string, Command[]> own)
    {
        foreach (var (group, subs) in Aliases)
        {
            // A group made earlier (VerbCommands adds `container prune`, `system prune`) is extended.
            var existing = root.Subcommands.FirstOrDefault(c => c.Name == group);
            var cmd = existing ?? new Command(group, group == "container" ? "Manage containers" : "Manage Docker-style system information");
            // One listed command per target: its first name, the others as aliases (ls, ps, list -> ps).
            foreach (var names in subs.GroupBy(x => x.Target, x => x.Sub))
            {
                var top = root.Subcommands.FirstOrDefault(c => c.Name == names.Key);
                if (top is null) continue; // the target is not in this build: no alias
                // Listed for help only: Rewrite sends the command line to the top-level command.
                var alias = new Command(names.First(), top.Description);
                foreach (var other in names.Skip(1)) alias.Aliases.Add(other);
                cmd.Add(alias);
            }
            foreach (var c in own.GetValueOrDefault(group) ?? []) cmd.Add(c);
            if (existing is null) root.Add(cmd);
        }
    }
}
