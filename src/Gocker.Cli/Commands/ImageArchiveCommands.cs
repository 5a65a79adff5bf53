using System.Formats.Tar;
using System.IO.Pipes;
using System.Text;
using System.Text.Json;
using Gocker.Api;

namespace Gocker.Cli.Commands;

/// <summary>load, save, commit, export, tag, image inspect, image prune.</summary>
public static class ImageArchiveCommands
{
    public static int Load(CliContext ctx, string? input, bool quiet)
    {
        List<string> lines;
        if (input is not null && Directory.Exists(input))
        {
            // An OCI image layout directory: sent as a tar made on the fly (nothing spooled).
            using var server = new AnonymousPipeServerStream(PipeDirection.Out);
            using var client = new AnonymousPipeClientStream(PipeDirection.In, server.ClientSafePipeHandle);
            Exception? failure = null;
            var producer = new Thread(() =>
            {
                try { TarFile.CreateFromDirectory(input, server, includeBaseDirectory: false); }
                catch (Exception e) { failure = e; }
                finally { server.Dispose(); }
            }) { IsBackground = true };
            producer.Start();
            using var bar = quiet ? null : ProgressBar.Start(ctx, "Loading", DirectorySize(input));
            lines = ctx.Client.Load(new ProgressStream(client, bar));
            producer.Join();
            if (failure is not null) throw new UsageException($"cannot read {input}: {failure.Message}");
        }
        else
        {
            Stream source;
            if (input is null or "-")
            {
                if (!Console.IsInputRedirected && input is null)
                    throw new UsageException("requested load from stdin, but stdin is empty (use -i FILE or pipe an archive)");
                source = Console.OpenStandardInput();
            }
            else
            {
                try { source = new FileStream(input, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw new UsageException($"cannot open {input}: {e.Message}");
                }
            }
            using (source)
            {
                long total = source.CanSeek ? source.Length : 0;
                using var bar = quiet ? null : ProgressBar.Start(ctx, "Loading", total);
                lines = ctx.Client.Load(new ProgressStream(source, bar));
            }
        }
        foreach (var l in lines) ctx.IO.Out.Write(l);
        return 0;
    }

    static long DirectorySize(string dir)
    {
        try { return new DirectoryInfo(dir).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length); }
        catch (IOException) { return 0; }
    }

    public static int Save(CliContext ctx, string[] images, string? output)
    {
        if (output is null && !Console.IsOutputRedirected)
            throw new UsageException("cowardly refusing to save to a terminal. Use the -o flag or redirect");
        return Download(ctx, () => ctx.Client.Save(images), output, "Saving");
    }

    public static int Export(CliContext ctx, string container, string? output)
    {
        if (output is null && !Console.IsOutputRedirected)
            throw new UsageException("cowardly refusing to save to a terminal. Use the -o flag or redirect");
        return Download(ctx, () => ctx.Client.Export(container), output, "Exporting");
    }

    /// <summary>Copies an archive answer to a file (via a temp file renamed at the end, so a failed
    /// transfer never leaves a file that looks complete) or to stdout.</summary>
    static int Download(CliContext ctx, Func<Http.HttpResponse> request, string? output, string label)
    {
        using var r = request();
        long total = r.Headers.TryGetValue("X-Gocker-Content-Size", out var s) && long.TryParse(s, out var t) ? t : 0;
        using var bar = ProgressBar.Start(ctx, label, total);
        if (output is null || output == "-")
        {
            r.Body.CopyTo(new ProgressStream(ctx.IO.StdOut, bar));
            ctx.IO.StdOut.Flush();
            return 0;
        }
        var dir = Path.GetDirectoryName(Path.GetFullPath(output))!;
        var tmp = Path.Combine(dir, $".{Path.GetFileName(output)}.{Environment.ProcessId}.tmp");
        try
        {
            using (var f = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
                r.Body.CopyTo(new ProgressStream(f, bar));
            File.Move(tmp, output, overwrite: true);
        }
        catch
        {
            try { File.Delete(tmp); } catch (IOException) { }
            throw;
        }
        return 0;
    }

    public static int Commit(CliContext ctx, string container, string? reference, string? message, string? author, bool pause = true)
    {
        string? repo = null, tag = null;
        if (reference is not null) (repo, tag) = RunFlags.SplitReference(reference);
        var id = ctx.Client.Commit(container, repo, tag, message, author, pause);
        ctx.IO.Out.Write(id + "\n");
        return 0;
    }

    public static int Tag(CliContext ctx, string source, string target)
    {
        var (repo, tag) = RunFlags.SplitReference(target);
        ctx.Client.Tag(source, repo, tag);
        return 0;
    }

    public static int Inspect(CliContext ctx, string[] names) => InspectCommands.Inspect(ctx, names, null, InspectCommands.Kind.Image);

    public static int Prune(CliContext ctx, bool all)
    {
        var r = ctx.Client.Prune(all);
        if (r.ImagesDeleted.Count > 0)
        {
            ctx.IO.Out.Write("Deleted Images:\n");
            foreach (var i in r.ImagesDeleted)
                ctx.IO.Out.Write(i.Untagged is not null ? $"untagged: {i.Untagged}\n" : $"deleted: {i.Deleted}\n");
            ctx.IO.Out.Write("\n");
        }
        ctx.IO.Out.Write($"Total reclaimed space: {Format.HumanSize(r.SpaceReclaimed)}\n");
        return 0;
    }
}
