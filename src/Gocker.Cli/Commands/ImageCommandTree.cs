using System.CommandLine;

namespace Gocker.Cli.Commands;

/// <summary>The image commands added with layered images: load, save, commit, export, tag at the top
/// (as docker has them) and under `image`, plus image inspect and image prune.</summary>
public static class ImageCommandTree
{
    public delegate int Guarded(ParseResult pr, Func<int> handler);

    public static void Add(Command root, Command image, CliContext ctx, Guarded guard)
    {
        foreach (var parent in new[] { (Command)root, image })
        {
            parent.Add(LoadCommand(ctx, guard));
            parent.Add(SaveCommand(ctx, guard));
            parent.Add(TagCommand(ctx, guard));
        }
        root.Add(CommitCommand(ctx, guard));
        root.Add(ExportCommand(ctx, guard));

        image.Add(InspectCommands.Build("inspect", "Display detailed information on one or more images", InspectCommands.Kind.Image, "IMAGE", ctx, (pr, h) => guard(pr, h)));

        var pruneAll = new Option<bool>("--all", "-a") { Description = "Remove all unused images, not just dangling ones" };
        var pruneForce = new Option<bool>("--force", "-f") { Description = "Do not prompt for confirmation (gocker never prompts)" };
        var pruneFilter = new Option<string[]>("--filter") { Description = "Provide filter values (e.g. \"until=24h\", \"label=k=v\", \"label!=k\")", AllowMultipleArgumentsPerToken = false };
        var prune = new Command("prune", "Remove unused images") { pruneAll, pruneForce, pruneFilter };
        prune.SetAction(pr => guard(pr, () => VerbCommands.PruneImages(ctx, pr.GetValue(pruneAll), pr.GetValue(pruneFilter) ?? [])));
        image.Add(prune);
    }

    static Command LoadCommand(CliContext ctx, Guarded guard)
    {
        var input = new Option<string?>("--input", "-i") { Description = "Read from a tar archive file or an OCI layout directory, instead of STDIN", HelpName = "string" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Suppress the load output" };
        var cmd = new Command("load", "Load an image from a tar archive (docker save) or an OCI image layout") { input, quiet };
        cmd.SetAction(pr => guard(pr, () => ImageArchiveCommands.Load(ctx, pr.GetValue(input), pr.GetValue(quiet))));
        return cmd;
    }

    static Command SaveCommand(CliContext ctx, Guarded guard)
    {
        var output = new Option<string?>("--output", "-o") { Description = "Write to a file, instead of STDOUT", HelpName = "string" };
        var images = new Argument<string[]>("IMAGE") { Arity = ArgumentArity.OneOrMore };
        var cmd = new Command("save", "Save one or more images to a tar archive (docker save format)") { output, images };
        cmd.SetAction(pr => guard(pr, () => ImageArchiveCommands.Save(ctx, pr.GetValue(images)!, pr.GetValue(output))));
        return cmd;
    }

    static Command TagCommand(CliContext ctx, Guarded guard)
    {
        var source = new Argument<string>("SOURCE_IMAGE[:TAG]");
        var target = new Argument<string>("TARGET_IMAGE[:TAG]");
        var cmd = new Command("tag", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE") { source, target };
        cmd.SetAction(pr => guard(pr, () => ImageArchiveCommands.Tag(ctx, pr.GetValue(source)!, pr.GetValue(target)!)));
        return cmd;
    }

    static Command CommitCommand(CliContext ctx, Guarded guard)
    {
        var message = new Option<string?>("--message", "-m") { Description = "Commit message", HelpName = "string" };
        var author = new Option<string?>("--author", "-a") { Description = "Author", HelpName = "string" };
        var container = new Argument<string>("CONTAINER");
        var reference = new Argument<string?>("REPOSITORY[:TAG]") { Arity = ArgumentArity.ZeroOrOne };
        var pause = new Option<bool>("--pause", "-p") { Description = "Pause container during commit (default true; --pause=false to not)", DefaultValueFactory = _ => true };
        var cmd = new Command("commit", "Create a new image from a container's changes") { message, author, pause, container, reference };
        cmd.SetAction(pr => guard(pr, () => ImageArchiveCommands.Commit(ctx, pr.GetValue(container)!, pr.GetValue(reference), pr.GetValue(message), pr.GetValue(author), pr.GetValue(pause))));
        return cmd;
    }

    static Command ExportCommand(CliContext ctx, Guarded guard)
    {
        var output = new Option<string?>("--output", "-o") { Description = "Write to a file, instead of STDOUT", HelpName = "string" };
        var container = new Argument<string>("CONTAINER");
        var cmd = new Command("export", "Export a container's filesystem as a tar archive") { output, container };
        cmd.SetAction(pr => guard(pr, () => ImageArchiveCommands.Export(ctx, pr.GetValue(container)!, pr.GetValue(output))));
        return cmd;
    }
}
