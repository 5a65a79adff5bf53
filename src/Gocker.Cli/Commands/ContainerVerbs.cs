using System.CommandLine;

namespace Gocker.Cli.Commands;

/// <summary>Registers pause, unpause, restart, top and stats (kept out of CliApp to keep it small).</summary>
internal static class ContainerVerbs
{
    public static void Register(Command root, Func<string, Argument<string[]>> ids, Func<ParseResult, Func<int>, int> guard, CliContext ctx)
    {
        var pauseIds = ids("Containers to pause");
        var pause = new Command("pause", "Pause all processes within one or more containers") { pauseIds };
        pause.SetAction(pr => guard(pr, () => ContainerCommands.Pause(ctx, pr.GetValue(pauseIds)!)));
        root.Add(pause);

        var unpauseIds = ids("Containers to unpause");
        var unpause = new Command("unpause", "Unpause all processes within one or more containers") { unpauseIds };
        unpause.SetAction(pr => guard(pr, () => ContainerCommands.Unpause(ctx, pr.GetValue(unpauseIds)!)));
        root.Add(unpause);

        var restartTime = new Option<int?>("--time", "-t") { Description = "Seconds to wait before killing the container", HelpName = "int" };
        var restartSignal = new Option<string?>("--signal", "-s") { Description = "Signal to send to the container (default: its stop signal)", HelpName = "string" };
        var restartIds = ids("Containers to restart");
        var restart = new Command("restart", "Restart one or more containers") { restartTime, restartSignal, restartIds };
        restart.SetAction(pr => guard(pr, () => VerbCommands.Stop(ctx, pr.GetValue(restartIds)!, pr.GetValue(restartTime), pr.GetValue(restartSignal), restart: true)));
        root.Add(restart);

        var topId = new Argument<string>("CONTAINER");
        var topPsArgs = new Argument<string[]>("ps OPTIONS") { Arity = ArgumentArity.ZeroOrMore, Description = "Options for the host's ps (e.g. -o pid,comm)" };
        var top = new Command("top", "Display the running processes of a container") { topId, topPsArgs };
        top.TreatUnmatchedTokensAsErrors = false;
        // The ps options as typed, in order (they look like options of ours: take them from the tokens).
        top.SetAction(pr => guard(pr, () =>
        {
            var tokens = pr.Tokens.Select(t => t.Value).ToList();
            int at = tokens.IndexOf("top");
            return VerbCommands.Top(ctx, pr.GetValue(topId)!, at < 0 ? [] : [.. tokens.Skip(at + 2)]);
        }));
        root.Add(top);

        var statsAll = new Option<bool>("--all", "-a") { Description = "Show all containers (default shows just running)" };
        var statsNoStream = new Option<bool>("--no-stream") { Description = "Disable streaming stats and only pull the first result" };
        var statsIds = new Argument<string[]>("CONTAINER") { Arity = ArgumentArity.ZeroOrMore, Description = "Containers (default: all running)" };
        var stats = new Command("stats", "Display a live stream of container(s) resource usage statistics") { statsAll, statsNoStream, statsIds };
        stats.SetAction(pr => guard(pr, () => ContainerCommands.Stats(ctx, pr.GetValue(statsIds) ?? [], pr.GetValue(statsAll), pr.GetValue(statsNoStream))));
        root.Add(stats);
    }
}
