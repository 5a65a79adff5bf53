using System.Text.Json;
using Gocker.Api;
using Gocker.Cli.Http;

namespace Gocker.Cli;

/// <summary>API calls for layered images, commit and export (kept out of GockerClient, which others edit).</summary>
public static class ImageClient
{
    static string Esc(string s) => Uri.EscapeDataString(s);

    /// <summary>An image name in a URL path: '/' stays a separator (Docker's CLI sends /images/library/x/json;
    /// an escaped %2F is not decoded by the server's router).</summary>
    internal static string EscName(string s) => string.Join('/', s.Split('/').Select(Uri.EscapeDataString));

    /// <summary>POST /images/load; returns the "stream" texts of the answer ("Loaded image: x").</summary>
    public static List<string> Load(this GockerClient c, Stream archive)
    {
        using var r = c.Http.SendStreaming("POST", "/images/load", archive, "application/x-tar");
        GockerClient.EnsureSuccess(r);
        var lines = new List<string>();
        foreach (var line in r.ReadBodyString().Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            try
            {
                var m = JsonSerializer.Deserialize(line, GockerImageJson.Default.JsonMessage);
                if (m?.Error is { } e) throw new ApiException(500, e);
                if (m?.Stream is { } s) lines.Add(s);
            }
            catch (JsonException) { lines.Add(line + "\n"); }
        }
        return lines;
    }

    /// <summary>GET /images/get?names=...: the caller copies the body (a tar) and disposes the response.</summary>
    public static HttpResponse Save(this GockerClient c, IEnumerable<string> names)
    {
        var r = c.Http.Send("GET", "/images/get?" + string.Join('&', names.Select(n => "names=" + Esc(n))));
        try { GockerClient.EnsureSuccess(r); return r; }
        catch { r.Dispose(); throw; }
    }

    public static HttpResponse Export(this GockerClient c, string container)
    {
        var r = c.Http.Send("GET", $"/containers/{Esc(container)}/export");
        try { GockerClient.EnsureSuccess(r); return r; }
        catch { r.Dispose(); throw; }
    }

    public static string Commit(this GockerClient c, string container, string? repo, string? tag, string? comment, string? author, bool pause = true)
    {
        var q = "/commit?container=" + Esc(container);
        if (!pause) q += "&pause=0";
        if (repo is not null) q += "&repo=" + Esc(repo) + "&tag=" + Esc(tag ?? "latest");
        if (!string.IsNullOrEmpty(comment)) q += "&comment=" + Esc(comment);
        if (!string.IsNullOrEmpty(author)) q += "&author=" + Esc(author);
        using var r = c.Http.Send("POST", q);
        GockerClient.EnsureSuccess(r);
        return JsonSerializer.Deserialize(r.ReadBodyBytes(), GockerImageJson.Default.IdResponse)?.Id ?? "";
    }

    public static void Tag(this GockerClient c, string source, string repo, string tag)
    {
        using var r = c.Http.Send("POST", $"/images/{EscName(source)}/tag?repo={Esc(repo)}&tag={Esc(tag)}");
        GockerClient.EnsureSuccess(r);
    }

    public static byte[] InspectImageRaw(this GockerClient c, string name)
    {
        using var r = c.Http.Send("GET", $"/images/{EscName(name)}/json");
        GockerClient.EnsureSuccess(r);
        return r.ReadBodyBytes();
    }

    public static ImagePruneResponse Prune(this GockerClient c, bool all)
    {
        var q = all ? "?filters=" + Esc("{\"dangling\":[\"false\"]}") : "";
        using var r = c.Http.Send("POST", "/images/prune" + q);
        GockerClient.EnsureSuccess(r);
        return JsonSerializer.Deserialize(r.ReadBodyBytes(), GockerImageJson.Default.ImagePruneResponse) ?? new();
    }
}
