using System.Text.Json;

namespace Gocker.Images;

/// <summary>One entry of an image's history (Docker's image history item), newest first.</summary>
public sealed record ImageHistoryEntry(string Id, DateTimeOffset Created, string CreatedBy, IReadOnlyList<string> Tags, long Size, string Comment);

// `history` and the parts of a loaded image's config that ImageConfig does not keep (StopSignal, Labels,
// history): read from the config.json stored with a loaded image, exactly as loaded.
public sealed partial class ImageStore
{
    internal sealed record ConfigExtras(string? StopSignal, IReadOnlyDictionary<string, string>? Labels, List<HistoryEntry>? History, List<string>? DiffIds);

    static ConfigExtras? ReadConfigExtras(string imageDir)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(Path.Combine(imageDir, "config.json")); }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException) { return null; }
        try
        {
            var c = JsonSerializer.Deserialize(bytes, ArchiveJsonContext.Default.ImageConfigFile);
            if (c is null) return null;
            return new ConfigExtras(string.IsNullOrEmpty(c.Config?.StopSignal) ? null : c.Config!.StopSignal,
                c.Config?.Labels is { Count: > 0 } l ? l : null, c.History, c.Rootfs?.DiffIds);
        }
        catch (JsonException) { return null; } // verified at load; a tampered file only loses these extras
    }

    /// <summary>Docker's history: the config's history entries, newest first, each non-empty one sized
    /// by its layer; the top entry carries the image's id and names, the others "&lt;missing&gt;" unless
    /// an image this one was committed from is still here (then its id and names). An image with no
    /// recorded history (import, busybox, commit) gets one entry per layer of its own.</summary>
    public IReadOnlyList<ImageHistoryEntry> History(string reference)
    {
        var image = Resolve(reference);
        var entries = new List<(DateTimeOffset Created, string CreatedBy, string Comment, long Size)>();
        Collect(image, entries, depth: 0);
        entries.Reverse();
        var index = ReadIndex();
        var result = new List<ImageHistoryEntry>();
        // Docker walks the parent chain to name the entries: one image per entry, from the top.
        ImageRecord? named = image;
        foreach (var e in entries)
        {
            var id = named?.Id ?? "<missing>";
            var tags = named is null ? [] : index.Repositories.Where(kv => kv.Value == named.Id).Select(kv => kv.Key).Order(StringComparer.Ordinal).ToList();
            result.Add(new ImageHistoryEntry(id, e.Created, e.CreatedBy, tags, e.Size, e.Comment));
            named = named?.Parent is { } parent ? TryResolveId(parent) : null;
        }
        return result;
    }

    ImageRecord? TryResolveId(string id)
    {
        try { return Load(id, NameOf(id, ReadIndex())); }
        catch (Exception ex) when (ex is IOException or JsonException) { return null; }
    }

    /// <summary>Oldest first.</summary>
    void Collect(ImageRecord image, List<(DateTimeOffset, string, string, long)> into, int depth)
    {
        var extras = ReadConfigExtras(Path.Combine(_root, ImageReference.HexOf(image.Id)));
        if (extras?.History is { Count: > 0 } history)
        {
            int layer = 0;
            foreach (var h in history)
            {
                long size = 0;
                if (h.EmptyLayer != true && layer < image.LayerIds.Length) size = Math.Max(0, LayerSize(image.LayerIds[layer++]));
                into.Add((h.Created ?? image.Created, h.CreatedBy ?? "", h.Comment ?? "", size));
            }
            return;
        }
        // A commit: its parent's history, then one entry for the layer it added.
        if (image.Parent is { } parentId && depth < 128 && TryResolveId(parentId) is { } parent && image.LayerIds.Length == parent.LayerIds.Length + 1)
        {
            Collect(parent, into, depth + 1);
            into.Add((image.Created, "", image.Comment ?? "", Math.Max(0, LayerSize(image.LayerIds[^1]))));
            return;
        }
        foreach (var l in image.LayerIds)
            into.Add((image.Created, "", image.Comment ?? "", Math.Max(0, LayerSize(l))));
    }
}
