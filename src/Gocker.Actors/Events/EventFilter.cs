namespace Gocker.Actors.Events;

/// <summary>
/// Docker's event filters: values of one key are alternatives (OR), different keys must all match
/// (AND). Keys: container (full id, id prefix or name), event (the action; "exec_start" also
/// matches "exec_start: sh"), type, image, network (id or name of a network event), volume (name
/// of a volume event, by prefix as Docker's), group.
/// </summary>
public sealed class EventFilter
{
    public static readonly IReadOnlyList<string> Keys = ["container", "event", "type", "image", "network", "volume", "group"];
    public static readonly EventFilter All = new(new Dictionary<string, string[]>());

    readonly IReadOnlyDictionary<string, string[]> _terms;

    public EventFilter(IReadOnlyDictionary<string, string[]> terms)
    {
        foreach (var k in terms.Keys)
            if (!Keys.Contains(k))
                throw new ArgumentException($"invalid filter '{k}' (supported: {string.Join(", ", Keys)})");
        _terms = terms;
    }

    public IReadOnlyDictionary<string, string[]> Terms => _terms;

    public bool Matches(GockerEvent e)
    {
        foreach (var (key, values) in _terms)
        {
            if (values.Length == 0) continue;
            var ok = key switch
            {
                "container" => e.Type == "container" && values.Any(v => IdOrName(e, v)),
                "event" => values.Any(v => e.Action == v || e.Action.StartsWith(v + ":", StringComparison.Ordinal)),
                "type" => values.Contains(e.Type),
                "image" => values.Any(v => Attr(e, "image") is { } img && (img == v || img == v + ":latest" || img.StartsWith(v + "@", StringComparison.Ordinal))
                                           || (e.Type == "image" && IdOrName(e, v))),
                "network" => e.Type == "network" && values.Any(v => IdOrName(e, v)),
                // A volume event's id is the volume's name.
                "volume" => e.Type == "volume" && values.Any(v => v.Length > 0 && e.Id.StartsWith(v, StringComparison.Ordinal)),
                "group" => values.Any(v => (e.Type == "group" && e.Id == v) || Attr(e, "group") == v),
                _ => false,
            };
            if (!ok) return false;
        }
        return true;
    }

    static string? Attr(GockerEvent e, string key) => e.Attributes.TryGetValue(key, out var v) ? v : null;

    // Docker matches the id by prefix ("fuzzy") and the name exactly.
    static bool IdOrName(GockerEvent e, string v) =>
        v.Length > 0 && (e.Id.StartsWith(v, StringComparison.Ordinal) || Attr(e, "name") == v || Attr(e, "name") == v.TrimStart('/'));
}
