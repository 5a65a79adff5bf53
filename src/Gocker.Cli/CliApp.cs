using System.CommandLine;
using System.CommandLine.Help;
using System.Runtime.CompilerServices;
using Gocker.Cli.Commands;
using Gocker.Cli.Http;

[assembly: InternalsVisibleTo("Gocker.Tests")]

namespace Gocker.Cli;

/// <summary>
/// The gocker command tree (System.CommandLine) and the rules every command shares: errors on
/// stderr prefixed "gocker: ", exit 125 for usage errors and for run/create failures (docker's
/// convention), 1 for other failures.
/// </summary>
public sealed class CliApp
{
    public const int ExitUsage = 125;

    private static readonly HashSet<string> SplitCommands = ["run", "create", "exec"];

    private readonly CliContext _ctx;
    private readonly Command _root;
    private readonly Option<string?> _host = new("--host", "-H") { Description = $"Daemon socket to connect to (default {HostAddress.Default}, or ${HostAddress.EnvVar})", HelpName = "unix://PATH" };
    private readonly Command _run;
    private readonly Command _exec;
    private string[] _containerCommand = [];

    public CliApp(CliContext ctx)
    {
        _ctx = ctx;
        // A plain Command, not RootCommand: RootCommand's (and HelpOption's, VersionOption's)
        // constructors read their descriptions from System.CommandLine's resources, and that first
        // ResourceManager use (satellite probing, attribute reflection) was 9% of a `run` console's
        // CPU (perf). The two options below behave the same; resources are read only when an error
        // or the help is printed.
        _root = new Command("gocker", "gocker: a small container engine's console (Docker-style commands)");
        _root.Options.Add(_host);
        _root.Options.Add(new Option<bool>("--version")
        {
            Description = "Show version information",
            Arity = ArgumentArity.Zero,
            Action = new VersionAction(),
        });
        // run/create use -h for --hostname, as docker does: help is --help only.
        _root.Options.Add(new Option<bool>("--help")
        {
            Description = "Show help and usage information",
            Arity = ArgumentArity.Zero,
            Recursive = true,
            Action = new HelpAction(),
        });

        var runOptions = new RunOptions();
        _run = new Command("run", "Create and run a new container from an image");
        runOptions.AddTo(_run, isRun: true);
        _run.SetAction(pr => Guard(pr, true, () => RunCommands.Run(_ctx, pr, runOptions, _containerCommand)));
        _root.Add(_run);

        var createOptions = new RunOptions();
        var create = new Command("create", "Create a new container");
        createOptions.AddTo(create, isRun: false);
        create.SetAction(pr => Guard(pr, true, () => RunCommands.Create(_ctx, pr, createOptions, _containerCommand)));
        _root.Add(create);

        var startAttach = new Option<bool>("--attach", "-a") { Description = "Attach STDOUT/STDERR and forward signals" };
        var startInteractive = new Option<bool>("--interactive", "-i") { Description = "Attach container's STDIN" };
        var startKeys = new Option<string?>("--detach-keys") { Description = "Override the key sequence for detaching a container (default ctrl-p,ctrl-q)", HelpName = "string" };
        var startIds = Ids("Containers to start");
        var start = new Command("start", "Start one or more stopped containers") { startAttach, startInteractive, startKeys, startIds };
        start.SetAction(pr => Guard(pr, false, () => RunCommands.Start(_ctx, pr.GetValue(startIds)!, pr.GetValue(startAttach),
            pr.GetValue(startInteractive), pr.GetValue(startKeys))));
        _root.Add(start);

        var attachNoStdin = new Option<bool>("--no-stdin") { Description = "Do not attach STDIN" };
        var attachKeys = new Option<string?>("--detach-keys") { Description = "Override the key sequence for detaching a container (default ctrl-p,ctrl-q)", HelpName = "string" };
        var attachSigProxy = new Option<bool>("--sig-proxy") { Description = "Proxy all received signals to the process (non-TTY only)", DefaultValueFactory = _ => true };
        var attachId = new Argument<string>("CONTAINER");
        var attachCmd = new Command("attach", "Attach local standard input, output, and error streams to a running container")
            { attachNoStdin, attachKeys, attachSigProxy, attachId };
        attachCmd.SetAction(pr => Guard(pr, false, () => RunCommands.Attach(_ctx, pr.GetValue(attachId)!,
            pr.GetValue(attachNoStdin), pr.GetValue(attachKeys), pr.GetValue(attachSigProxy))));
        _root.Add(attachCmd);

        var waitIds = Ids("Containers to wait for");
        var wait = new Command("wait", "Block until one or more containers stop, then print their exit codes") { waitIds };
        wait.SetAction(pr => Guard(pr, false, () => ContainerCommands.Wait(_ctx, pr.GetValue(waitIds)!)));
        _root.Add(wait);

        var psAll = new Option<bool>("--all", "-a") { Description = "Show all containers (default shows just running)" };
        var psQuiet = new Option<bool>("--quiet", "-q") { Description = "Only display container IDs" };
        var psNoTrunc = new Option<bool>("--no-trunc") { Description = "Don't truncate output" };
        var psFilter = new Option<string[]>("--filter", "-f") { Description = "Filter output: status=..., name=..., id=...", AllowMultipleArgumentsPerToken = false };
        var psFormat = new Option<string?>("--format") { Description = "Format output using a template ({{.ID}} {{.Names}} {{.Status}} ...; 'table ...' for columns)" };
        var psLast = new Option<int>("--last", "-n") { Description = "Show n last created containers (includes all states)", DefaultValueFactory = _ => -1, HelpName = "int" };
        var psLatest = new Option<bool>("--latest", "-l") { Description = "Show the latest created container (includes all states)" };
        var ps = new Command("ps", "List containers") { psAll, psQuiet, psNoTrunc, psFilter, psFormat, psLast, psLatest };
        ps.SetAction(pr => Guard(pr, false, () => ContainerCommands.Ps(_ctx, pr.GetValue(psAll), pr.GetValue(psQuiet), pr.GetValue(psNoTrunc),
            pr.GetValue(psFilter), pr.GetValue(psFormat), pr.GetValue(psLatest) ? 1 : pr.GetValue(psLast))));
        _root.Add(ps);

        var rmForce = new Option<bool>("--force", "-f") { Description = "Force the removal of a running container (uses SIGKILL)" };
        var rmIds = Ids("Containers to remove");
        var rmVolumes = new Option<bool>("--volumes", "-v") { Description = "Remove anonymous volumes associated with the container" };
        var rm = new Command("rm", "Remove one or more containers") { rmForce, rmVolumes, rmIds };
        rm.SetAction(pr => Guard(pr, false, () => ContainerCommands.Remove(_ctx, pr.GetValue(rmIds)!, pr.GetValue(rmForce), pr.GetValue(rmVolumes))));
        _root.Add(rm);

        _root.Add(InspectCommands.Build("inspect", "Return low-level information on Docker objects", InspectCommands.Kind.Any, "NAME|ID", _ctx, (pr, h) => Guard(pr, false, h)));

        var logsFollow = new Option<bool>("--follow", "-f") { Description = "Follow log output" };
        var logsTail = new Option<string>("--tail", "-n") { Description = "Number of lines to show from the end of the logs", DefaultValueFactory = _ => "all", HelpName = "string" };
        var logsTimestamps = new Option<bool>("--timestamps", "-t") { Description = "Show timestamps" };
        var logsId = new Argument<string>("CONTAINER");
        var logsSince = new Option<string?>("--since") { Description = "Show logs since a timestamp (RFC3339, unix seconds) or a duration back from now (10m, 1h30m)", HelpName = "string" };
        var logsUntil = new Option<string?>("--until") { Description = "Show logs before a timestamp (RFC3339, unix seconds) or a duration back from now", HelpName = "string" };
        var logs = new Command("logs", "Fetch the logs of a container") { logsFollow, logsTail, logsTimestamps, logsSince, logsUntil, logsId };
        logs.SetAction(pr => Guard(pr, false, () => ContainerCommands.Logs(_ctx, pr.GetValue(logsId)!, pr.GetValue(logsFollow), pr.GetValue(logsTail)!, pr.GetValue(logsTimestamps),
            pr.GetValue(logsSince), pr.GetValue(logsUntil))));
        _root.Add(logs);

        var stopTime = new Option<int?>("--time", "-t") { Description = "Seconds to wait before killing the container", HelpName = "int" };
        var stopSignal = new Option<string?>("--signal", "-s") { Description = "Signal to send to the container (default: its stop signal)", HelpName = "string" };
        var stopIds = Ids("Containers to stop");
        var stop = new Command("stop", "Stop one or more running containers") { stopTime, stopSignal, stopIds };
        stop.SetAction(pr => Guard(pr, false, () => VerbCommands.Stop(_ctx, pr.GetValue(stopIds)!, pr.GetValue(stopTime), pr.GetValue(stopSignal), restart: false)));
        _root.Add(stop);

        var killSignal = new Option<string>("--signal", "-s") { Description = "Signal to send to the container", DefaultValueFactory = _ => "SIGKILL", HelpName = "string" };
        var killIds = Ids("Containers to kill");
        var kill = new Command("kill", "Kill one or more running containers") { killSignal, killIds };
        kill.SetAction(pr => Guard(pr, false, () => ContainerCommands.Kill(_ctx, pr.GetValue(killIds)!, pr.GetValue(killSignal)!)));
        _root.Add(kill);

        ContainerVerbs.Register(_root, Ids, (pr, h) => Guard(pr, false, h), _ctx);

        _exec = new ExecOptions().Build((pr, h) => Guard(pr, false, h), _ctx, () => _containerCommand);
        _root.Add(_exec);

        var image = new Command("image", "Manage images");
        image.Add(ImportCommand("import"));
        image.Add(ImagesCommand("ls", "list"));
        image.Add(RmiCommand("rm", "remove"));
        ImageCommandTree.Add(_root, image, _ctx, (pr, handler) => Guard(pr, false, handler));
        _root.Add(image);
        RegistryCommands.Register(_root, (pr, handler) => Guard(pr, false, handler), _ctx);
        _root.Add(CpCommands.Build(_ctx, (pr, handler) => Guard(pr, false, handler)));
        _root.Add(BuildCommand.Build(_ctx, (pr, handler) => Guard(pr, false, handler)));
        _root.Add(ImportCommand("import"));
        _root.Add(ImagesCommand("images"));
        _root.Add(RmiCommand("rmi"));

        _root.Add(NetworkCommands.Build(_ctx, (pr, handler) => Guard(pr, false, handler)));
        _root.Add(VolumeCommands.Build(_ctx, (pr, handler) => Guard(pr, false, handler)));
        _root.Add(EventCommands.Build(_ctx, (pr, handler) => Guard(pr, false, handler)));
        _root.Add(GroupCommands.Build(_ctx, (pr, handler) => Guard(pr, false, handler)));
        _root.Add(ConsoleCommand.Build(_ctx, (pr, handler) => Guard(pr, false, handler)));
        _root.Add(DebugCommands.Build(_ctx, (pr, handler) => Guard(pr, false, handler)));

        VerbCommands.Register(_root, (pr, handler) => Guard(pr, false, handler), _ctx);

        var versionFormat = new Option<string?>("--format", "-f") { Description = "Format output using a Go template ('json' for JSON)", HelpName = "string" };
        var version = new Command("version", "Show the gocker version information") { versionFormat };
        version.SetAction(pr => Guard(pr, false, () => VersionCommand.Run(_ctx, pr.GetValue(versionFormat))));
        _root.Add(version);

        // info, port, and the container/system groups (aliases of the commands above: see CommandGroups).
        Func<ParseResult, Func<int>, int> guard = (pr, h) => Guard(pr, false, h);
        _root.Add(SystemCommands.Info("info", _ctx, guard));
        _root.Add(PortCommand.Build(_ctx, guard));
        CommandGroups.Build(_root, new Dictionary<string, Command[]>
        {
            ["container"] = [InspectCommands.Build("inspect", "Display detailed information on one or more containers", InspectCommands.Kind.Container, "CONTAINER", _ctx, guard)],
            ["system"] = [SystemCommands.Df(_ctx, guard)],
        });
    }

    internal Command Root => _root;
    internal Command RunCommand => _run;

    private static Argument<string[]> Ids(string description) =>
        new("CONTAINER") { Description = description, Arity = ArgumentArity.OneOrMore };

    private Command ImportCommand(string name)
    {
        var file = new Argument<string>("FILE") { Description = "Root filesystem tarball (- for stdin)" };
        var reference = new Argument<string>("REPOSITORY[:TAG]") { Description = "Name of the new image" };
        var cmd = new Command(name, "Import the contents from a tarball to create a filesystem image") { file, reference };
        cmd.SetAction(pr => Guard(pr, false, () => ImageCommands.Import(_ctx, pr.GetValue(file)!, pr.GetValue(reference)!)));
        return cmd;
    }

    private Command ImagesCommand(string name, params string[] aliases)
    {
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Only show image IDs" };
        var format = new Option<string?>("--format") { Description = "Format output using a Go template ('table ...' for columns, 'json')", HelpName = "string" };
        var noTrunc = new Option<bool>("--no-trunc") { Description = "Don't truncate output" };
        var digests = new Option<bool>("--digests") { Description = "Show digests" };
        var cmd = new Command(name, "List images") { quiet, format, noTrunc, digests };
        foreach (var a in aliases) cmd.Aliases.Add(a);
        cmd.SetAction(pr => Guard(pr, false, () => ImageCommands.List(_ctx, pr.GetValue(quiet), pr.GetValue(format), pr.GetValue(noTrunc), pr.GetValue(digests))));
        return cmd;
    }

    private Command RmiCommand(string name, params string[] aliases)
    {
        var force = new Option<bool>("--force", "-f") { Description = "Force removal of the image" };
        var names = new Argument<string[]>("IMAGE") { Arity = ArgumentArity.OneOrMore, Description = "Images to remove" };
        var cmd = new Command(name, "Remove one or more images") { force, names };
        foreach (var a in aliases) cmd.Aliases.Add(a);
        cmd.SetAction(pr => Guard(pr, false, () => ImageCommands.Remove(_ctx, pr.GetValue(names)!, pr.GetValue(force))));
        return cmd;
    }

    /// <summary>The pre-split for run/create (options stop at IMAGE), with the option spellings taken
    /// from the command tree itself so the two can never disagree.</summary>
    public SplitArgs Split(string[] args)
    {
        var globals = RunOptions.OptionSpellings(_root, valuesOnly: true);
        // exec splits at CONTAINER with its own options; run and create at IMAGE.
        var command = CommandName(args, globals) == "exec" ? _exec : _run;
        var all = RunOptions.OptionSpellings(command, valuesOnly: false);
        all.Add("--help");
        return ArgSplitter.Split(args, globals, SplitCommands, all, RunOptions.OptionSpellings(command, valuesOnly: true));
    }

    /// <summary>The first token after the global options (null when there is none).</summary>
    private static string? CommandName(string[] args, IReadOnlySet<string> globalValueOptions)
    {
        int i = 0;
        while (i < args.Length && args[i].Length > 1 && args[i][0] == '-' && args[i] != "--")
            i += globalValueOptions.Contains(args[i]) ? 2 : 1;
        return i < args.Length ? args[i] : null;
    }

    public int Run(string[] args)
    {
        var io = _ctx.IO;
        if (args.Length == 0)
        {
            // Bare "gocker": docker prints the help.
            int rc = _root.Parse(["--help"]).Invoke(new InvocationConfiguration { Output = io.Out, Error = io.Err });
            io.Flush();
            return rc;
        }
        args = CommandGroups.Rewrite(args, RunOptions.OptionSpellings(_root, valuesOnly: true));
        SplitArgs split;
        try
        {
            split = Split(args);
        }
        catch (UsageException e)
        {
            io.Error(e.Message);
            io.Err.Write($"See 'gocker {args.First(SplitCommands.Contains)} --help'.\n");
            io.Flush();
            return ExitUsage;
        }
        _containerCommand = split.ContainerCommand;
        var pr = _root.Parse(split.ParserArgs, new ParserConfiguration { ResponseFileTokenReplacer = null });
        try
        {
            if (pr.Errors.Count > 0 && pr.Action is not HelpAction)
            {
                foreach (var e in pr.Errors) io.Error(e.Message);
                io.Err.Write($"See '{CommandPath(pr)} --help'.\n");
                return ExitUsage;
            }
            return pr.Invoke(new InvocationConfiguration { Output = io.Out, Error = io.Err, EnableDefaultExceptionHandler = false });
        }
        finally
        {
            io.Flush();
        }
    }

    private static string CommandPath(ParseResult pr)
    {
        var names = new List<string>();
        for (var r = pr.CommandResult; r is not null; r = r.Parent as System.CommandLine.Parsing.CommandResult)
            names.Insert(0, r.Command.Name);
        return string.Join(' ', names);
    }

    /// <summary>Runs a handler with the shared error rules. <paramref name="makesContainers"/>: run and
    /// create answer 125 for daemon errors, as docker does.</summary>
    private int Guard(ParseResult pr, bool makesContainers, Func<int> handler)
    {
        var io = _ctx.IO;
        _ctx.HostFlag = pr.GetValue(_host);
        int failure = makesContainers ? ExitUsage : 1;
        try
        {
            return handler();
        }
        catch (UsageException e)
        {
            io.Error(e.Message);
            io.Err.Write($"See '{CommandPath(pr)} --help'.\n");
            return ExitUsage;
        }
        catch (Templates.TemplateFailure e)
        {
            // --format errors: docker's wording and exit code for the command (64: the template does not parse).
            io.Error(e.Message);
            return e.ExitCode;
        }
        catch (DaemonUnreachableException e)
        {
            io.Error(e.Message);
            return failure;
        }
        catch (ApiException e)
        {
            io.Error("Error response from daemon: " + e.Message);
            return failure;
        }
        catch (IOException e)
        {
            io.Error($"lost the connection to the daemon at {SafeHostUri()}: {e.Message}");
            return failure;
        }
        catch (Exception e)
        {
            // A console bug or a daemon answer it cannot read: say so plainly, no stack dump, no abort.
            io.Error($"unexpected {e.GetType().Name}: {e.Message}");
            return failure;
        }
        finally
        {
            io.Flush();
        }
    }

    private string SafeHostUri()
    {
        try { return _ctx.Client.Http.HostUri; }
        catch (UsageException) { return "?"; }
    }
}

/// <summary>`gocker --version`: the console's version (the assembly's informational version, with
/// the commit it was built from), as System.CommandLine's VersionOption printed it.</summary>
sealed class VersionAction : System.CommandLine.Invocation.SynchronousCommandLineAction
{
    public override int Invoke(ParseResult parseResult)
    {
        var version = typeof(VersionAction).Assembly
            .GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            .OfType<System.Reflection.AssemblyInformationalVersionAttribute>().FirstOrDefault()?.InformationalVersion
            ?? typeof(VersionAction).Assembly.GetName().Version?.ToString() ?? "unknown";
        parseResult.InvocationConfiguration.Output.WriteLine(version);
        return 0;
    }
}
