using System.Text.Json;
using System.Text.RegularExpressions;
using Gocker.Actors.Containers;
using Gocker.Api;

namespace Gocker.Host;

public static class ContainerListFilters
{
    /// <summary>The `filters` query of GET /containers/json ({"status":[...],"name":[...],"id":[...],
    /// "label":["k","k=v"],"ancestor":["IMAGE"]}). Values of one key are alternatives, except
    /// `label`, whose values must all match (as Docker's); different keys must all match. A status
    /// filter lists stopped containers too, as docker does. `ancestor` needs <paramref name="images"/>
    /// (an image unknown there matches nothing, as in Docker).</summary>
    public static (Func<ContainerRecord, bool> Match, bool ImpliesAll) Parse(string? json, ImageAncestry? images = null)
    {
        if (string.IsNullOrEmpty(json)) return (_ => true, false);
        Dictionary<string, List<string>> map;
        try
        {
            using var doc = JsonDocument.Parse(json);
            map = doc.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.ValueKind switch
            {
                JsonValueKind.Array => p.Value.EnumerateArray().Select(v => v.GetString() ?? "").ToList(),
                // Older clients send {"status":{"running":true}}.
                JsonValueKind.Object => p.Value.EnumerateObject().Select(v => v.Name).ToList(),
                _ => throw new BadRequestException($"invalid filter value for '{p.Name}'"),
            });
        }
        // InvalidOperationException: valid JSON of the wrong shape (an array, a number where a string goes).
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            throw new BadRequestException($"invalid filters: {ex.Message} (expected {{\"key\":[\"value\"]}})");
        }
        var statuses = Enum.GetValues<ContainerStatus>().Select(s => s.DockerName()).ToHashSet();
        var tests = new List<Func<ContainerRecord, bool>>();
        foreach (var (key, values) in map)
        {
            switch (key)
            {
                case "status":
                    foreach (var v in values)
                        if (!statuses.Contains(v)) throw new BadRequestException($"invalid filter 'status={v}' (one of {string.Join(", ", statuses)})");
                    tests.Add(r => values.Contains(r.Status.DockerName()));
                    break;
                case "name":
                    var regexes = values.Select(v =>
                    {
                        try { return new Regex(v, RegexOptions.None, TimeSpan.FromMilliseconds(100)); }
                        catch (ArgumentException ex) { throw new BadRequestException($"invalid filter 'name={v}': {ex.Message}"); }
                    }).ToList();
                    tests.Add(r => regexes.Any(x => x.IsMatch("/" + r.Spec.Name)));
                    break;
                case "id":
                    tests.Add(r => values.Any(v => r.Spec.Id.StartsWith(v, StringComparison.Ordinal)));
                    break;
                case "label":
                    var labelTest = LabelFilter.Parse(values);
                    tests.Add(r => labelTest(r.Spec.Labels));
                    break;
                case "ancestor":
                    if (images is null) throw new BadRequestException("invalid filter 'ancestor': no image store");
                    var ids = values.Select(images.IdOf).Where(i => i is not null).ToHashSet(StringComparer.Ordinal);
                    tests.Add(r => images.Lineage(r.Spec.ImageId).Any(ids.Contains));
                    break;
                default:
                    throw new BadRequestException($"invalid filter '{key}'");
            }
        }
        return (r => tests.All(t => t(r)), map.ContainsKey("status"));
    }
}
