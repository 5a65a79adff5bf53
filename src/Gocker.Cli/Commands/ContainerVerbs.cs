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
        var restartIds = ids("Containers to restart");
        var restart = new Command("restart", "Restart one or more containers") { restartTime, restartIds };
        restart.SetAction(pr => guard(pr, () => ContainerCommands.Restart(ctx, pr.GetValue(restartIds)!, pr.GetValue(restartTime))));
        root.Add(restart);

        var topId = new Argument<string>("CONTAINER");
        var top = new Command("top", "Display the running processes of a container") { topId };
        top.SetAction(pr => guard(pr, () => ContainerCommands.Top(ctx, pr.GetValue(topId)!)));
        root.Add(top);

        var statsAll = new Option<bool>("--all", "-a") { Description = "Show all containers (default shows just running)" };
        var statsNoStream = new Option<bool>("--no-stream") { Description = "Disable streaming stats and only pull the first result" };
        var statsIds = new Argument<string[]>("CONTAINER") { Arity = ArgumentArity.ZeroOrMore, Description = "Containers (default: all running)" };
        var stats = new Command("stats", "Display a live stream of container(s) resource usage statistics") { statsAll, statsNoStream, statsIds };
        stats.SetAction(pr => guard(pr, () => ContainerCommands.Stats(ctx, pr.GetValue(statsIds) ?? [], pr.GetValue(statsAll), pr.GetValue(statsNoStream))));
        root.Add(stats);
    }
}
