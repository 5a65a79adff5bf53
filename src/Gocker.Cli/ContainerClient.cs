using System.Text.Json;
using Gocker.Api;
using Gocker.Cli.Http;

namespace Gocker.Cli;

/// <summary>The container verbs beyond the basic ones (kept apart from GockerClient so that image
/// and container work do not edit the same file).</summary>
public static class ContainerClient
{
    static string Esc(string s) => Uri.EscapeDataString(s);

    public static List<ContainerSummary> List(this GockerClient c, bool all, string? filtersJson)
    {
        var q = new List<string>();
        if (all) q.Add("all=1");
        if (filtersJson is not null) q.Add("filters=" + Esc(filtersJson));
        using var r = c.Http.Send("GET", "/containers/json" + (q.Count > 0 ? "?" + string.Join('&', q) : ""));
        GockerClient.EnsureSuccess(r);
        return JsonSerializer.Deserialize(r.ReadBodyBytes(), GockerClient.Json.ListContainerSummary)
               ?? throw new ApiException(r.StatusCode, "the daemon answered an empty (null) body");
    }

    public static void Pause(this GockerClient c, string id) => Post(c, $"/containers/{Esc(id)}/pause");
    public static void Unpause(this GockerClient c, string id) => Post(c, $"/containers/{Esc(id)}/unpause");

    public static void Restart(this GockerClient c, string id, int? seconds) =>
        Post(c, $"/containers/{Esc(id)}/restart{(seconds is { } t ? $"?t={t}" : "")}");

    /// <summary>Docker's top answer: {"Titles":[...],"Processes":[[...],...]}.</summary>
    public static JsonDocument Top(this GockerClient c, string id) => GetJson(c, $"/containers/{Esc(id)}/top");

    /// <summary>One stats sample (stream=false), Docker's field names for the subset gockerd reports.</summary>
    public static JsonDocument Stats(this GockerClient c, string id) => GetJson(c, $"/containers/{Esc(id)}/stats?stream=false");

    static void Post(GockerClient c, string target)
    {
        using var r = c.Http.Send("POST", target);
        GockerClient.EnsureSuccess(r);
    }

    static JsonDocument GetJson(GockerClient c, string target)
    {
        using var r = c.Http.Send("GET", target);
        GockerClient.EnsureSuccess(r);
        return JsonDocument.Parse(r.ReadBodyBytes());
    }
}
