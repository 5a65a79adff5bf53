using System.CommandLine;
using Gocker.Cli.Interactive;

namespace Gocker.Cli.Commands;

/// <summary>`gocker console`: the interactive session (see <see cref="ConsoleSession"/>).</summary>
public static class ConsoleCommand
{
    public static Command Build(CliContext ctx, Func<ParseResult, Func<int>, int> guard)
    {
        var cmd = new Command("console", "Interactive session: run gocker commands at a prompt, with the event stream shown live");
        cmd.SetAction(pr => guard(pr, () => Run(ctx)));
        return cmd;
    }

    static int Run(CliContext ctx)
    {
        var exe = Environment.ProcessPath ?? throw new UsageException("console: cannot find the gocker binary (no process path)");
        var (uri, _) = HostAddress.Resolve(ctx.HostFlag, ctx.GetEnv);
        bool tty = Terminal.IsTty(0) && Terminal.IsTty(1);
        var home = ctx.GetEnv("HOME");
        var history = string.IsNullOrEmpty(home) ? null : Path.Combine(home, ".gocker_history");
        return new ConsoleSession(ctx, tty, ConsoleSession.ChildRunner(exe, uri, tty, ctx.IO), history).Run();
    }
}
