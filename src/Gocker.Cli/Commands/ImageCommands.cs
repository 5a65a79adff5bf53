using System.Text.Json;
using Gocker.Api;

namespace Gocker.Cli.Commands;

/// <summary>image import, images / image ls, rmi / image rm.</summary>
public static class ImageCommands
{
    public static int Import(CliContext ctx, string file, string reference)
    {
        var (repo, tag) = RunFlags.SplitReference(reference);
        Stream source;
        if (file == "-") source = Console.OpenStandardInput();
        else
        {
            try { source = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new UsageException($"cannot open {file}: {e.Message}");
            }
        }
        using (source)
        {
            var r = ctx.Client.Import(source, repo, tag);
            ctx.IO.Out.Write(r.Id + "\n");
        }
        return 0;
    }

    public static int List(CliContext ctx, bool quiet, string? format = null, bool noTrunc = false, bool digests = false)
    {
        var images = ctx.Client.Images();
        if (!quiet && !string.IsNullOrEmpty(format))
        {
            Templates.FormatOutput.WriteList(ctx.IO.Out, format, Templates.ListContexts.Images(images, ctx.Now, noTrunc),
                Templates.ListContexts.ImageHeaders, Templates.ListContexts.ImageTable, Templates.FormatErrors.Lists);
            return 0;
        }
        if (quiet)
        {
            foreach (var id in images.Select(i => Format.ShortId(i.Id)).Distinct()) ctx.IO.Out.Write(id + "\n");
            return 0;
        }
        var now = ctx.Now;
        var rows = new List<IReadOnlyList<string>>();
        foreach (var image in images)
        {
            var tags = image.RepoTags.Count > 0 ? image.RepoTags : ["<none>:<none>"];
            foreach (var t in tags)
            {
                int colon = t.LastIndexOf(':');
                bool hasTag = colon > t.LastIndexOf('/') && colon > 0;
                var repo = hasTag ? t[..colon] : t;
                if (digests)
                {
                    // As docker: the digest this repository was pulled or pushed as, or <none>.
                    var d = image.RepoDigests.FirstOrDefault(x => x.StartsWith(repo + "@", StringComparison.Ordinal))?[(repo.Length + 1)..] ?? "<none>";
                    if (repo == "<none>" && image.RepoDigests.Count > 0) { repo = image.RepoDigests[0].Split('@')[0]; d = image.RepoDigests[0].Split('@')[1]; }
                    rows.Add([repo, hasTag ? t[(colon + 1)..] : "<none>", d,
                        Format.ShortId(image.Id), Format.Ago(image.Created, now), Format.HumanSize(image.Size)]);
                    continue;
                }
                rows.Add([repo, hasTag ? t[(colon + 1)..] : "<none>",
                    Format.ShortId(image.Id), Format.Ago(image.Created, now), Format.HumanSize(image.Size)]);
            }
        }
        if (digests) Format.Table(ctx.IO.Out, ["REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE"], rows);
        else Format.Table(ctx.IO.Out, ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"], rows);
        return 0;
    }

    public static int Remove(CliContext ctx, string[] names, bool force)
    {
        int rc = 0;
        foreach (var name in names)
        {
            try
            {
                byte[] body = ctx.Client.RemoveImage(name, force);
                if (!PrintDeleteItems(ctx, body)) ctx.IO.Out.Write("Untagged: " + name + "\n");
                ctx.IO.Out.Flush();
            }
            catch (ApiException e)
            {
                ctx.IO.Error("Error response from daemon: " + e.Message);
                rc = 1;
            }
        }
        return rc;
    }

    // Docker answers [{"Untagged": "..."}, {"Deleted": "sha256:..."}].
    private static bool PrintDeleteItems(CliContext ctx, byte[] body)
    {
        if (body.Length == 0) return false;
        try
        {
            using var doc = JsonDocument.Parse(body);
            if (doc.RootElement.ValueKind != JsonValueKind.Array) return false;
            bool any = false;
            foreach (var item in doc.RootElement.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.Object) continue;
                foreach (var p in item.EnumerateObject())
                {
                    if (p.Value.ValueKind != JsonValueKind.String) continue;
                    ctx.IO.Out.Write($"{p.Name}: {p.Value.GetString()}\n");
                    any = true;
                }
            }
            return any;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
