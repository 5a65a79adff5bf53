using System.Text.Json;
using Gocker.Cli.Http;

namespace Gocker.Cli.Commands;

/// <summary>The request plumbing shared by the console's resource commands (volume, network, group):
/// one request with an optional JSON body and a JSON answer, and the `inspect NAME...` and
/// `rm NAME...` loops, which go on past a failed name and exit 1 if any failed, as docker's do.</summary>
static class ResourceRequests
{
    public static string Esc(string s) => Uri.EscapeDataString(s);

    /// <summary>Sends a request; a JSON answer body is parsed, an empty one gives null.</summary>
    public static JsonDocument? Send(CliContext ctx, string method, string target, ReadOnlySpan<byte> body)
    {
        using HttpResponse r = body.IsEmpty ? ctx.Client.Http.Send(method, target) : ctx.Client.Http.Send(method, target, body, "application/json");
        GockerClient.EnsureSuccess(r);
        var bytes = r.ReadBodyBytes();
        if (bytes.Length == 0) return null;
        try { return JsonDocument.Parse(bytes); }
        catch (JsonException e) { throw new ApiException(r.StatusCode, $"the daemon answered malformed JSON: {e.Message}"); }
    }

    public static byte[] Json(Action<Utf8JsonWriter> write)
    {
        var buf = new MemoryStream();
        using (var w = new Utf8JsonWriter(buf)) write(w);
        return buf.ToArray();
    }

    public static string Str(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : "";

    /// <summary>`rm NAME...`: DELETE each target, its name on stdout once gone, the daemon's error on
    /// stderr otherwise.</summary>
    public static int RemoveEach(CliContext ctx, string[] names, Func<string, string> target)
    {
        var rc = 0;
        foreach (var name in names)
        {
            try
            {
                Send(ctx, "DELETE", target(name), default)?.Dispose();
                ctx.IO.Out.Write(name + "\n");
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

    /// <summary>`inspect NAME...`: the daemon's objects as one indented JSON array (its fields passed
    /// through untouched), then an error line per name that failed ("No such KIND" for a 404).</summary>
    public static int InspectEach(CliContext ctx, string[] names, Func<string, string> target, string kind)
    {
        var found = new List<JsonDocument>();
        var errors = new List<string>();
        foreach (var name in names)
        {
            try { found.Add(Send(ctx, "GET", target(name), default)!); }
            catch (ApiException e) when (e.StatusCode == 404) { errors.Add($"Error: No such {kind}: " + name); }
            catch (ApiException e) { errors.Add("Error response from daemon: " + e.Message); }
        }
        ctx.IO.Out.Flush();
        using (var json = new Utf8JsonWriter(ctx.IO.StdOut, new JsonWriterOptions { Indented = true, IndentSize = 4 }))
        {
            json.WriteStartArray();
            foreach (var d in found) { d.RootElement.WriteTo(json); d.Dispose(); }
            json.WriteEndArray();
        }
        ctx.IO.StdOut.Write("\n"u8);
        ctx.IO.StdOut.Flush();
        foreach (var e in errors) ctx.IO.Error(e);
        return errors.Count == 0 ? 0 : 1;
    }
}
