using Gocker.Actors.Containers;
using Gocker.Images;

namespace Gocker.Host;

/// <summary>Docker's `label` filter: each value is `KEY` (the label exists) or `KEY=VALUE` (it
/// has that value); every value given must match (Docker's MatchKVList).</summary>
public static class LabelFilter
{
    public static Func<IReadOnlyDictionary<string, string>?, bool> Parse(IReadOnlyList<string> values)
    {
        var wanted = new List<(string Key, string? Value)>();
        foreach (var v in values)
        {
            var eq = v.IndexOf('=');
            var key = eq < 0 ? v : v[..eq];
            if (key.Length == 0) throw new BadRequestException($"invalid filter 'label={v}': the key is empty");
            wanted.Add((key, eq < 0 ? null : v[(eq + 1)..]));
        }
        return labels => wanted.All(w => labels is not null && labels.TryGetValue(w.Key, out var have) && (w.Value is null || w.Value == have));
    }
}

/// <summary>The images of the store, for the `ancestor` filter: an image's id and the chain of
/// images it was committed from (ImageRecord.Parent), as Docker matches an image and its descendants.</summary>
public sealed class ImageAncestry
{
    readonly IImageStore _store;
    readonly Dictionary<string, string?> _parents;

    public ImageAncestry(IImageStore store)
    {
        _store = store;
        _parents = store.List().GroupBy(i => i.Id).ToDictionary(g => g.Key, g => g.First().Parent, StringComparer.Ordinal);
    }

    /// <summary>The id of the image a reference names, or null if there is none (busybox is built on first use).</summary>
    public string? IdOf(string reference)
    {
        try { return _store.Resolve(reference).Id; }
        catch (Exception e) when (e is ImageNotFoundException or InvalidImageNameException or ArgumentException) { return null; }
    }

    /// <summary>The image and its parents, nearest first (bounded: a corrupt store with a cycle must not hang ps).</summary>
    public IEnumerable<string> Lineage(string imageId)
    {
        string? id = imageId;
        for (int depth = 0; id is not null && depth < 1000; depth++)
        {
            yield return id;
            id = _parents.TryGetValue(id, out var parent) ? parent : null;
        }
    }
}
