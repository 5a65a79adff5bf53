using System.Text;
using System.Text.Json;
using Gocker.Api;
using Gocker.Cli.Http;

namespace Gocker.Cli;

/// <summary>An error answer from the daemon (4xx/5xx with {"message": ...}).</summary>
public sealed class ApiException(int statusCode, string message, int? exitCode = null) : Exception(message)
{
    public int StatusCode { get; } = statusCode;
    /// <summary>126/127 when a start failed because the command could not be run/found.</summary>
    public int? ExitCode { get; } = exitCode;
}

/// <summary>Typed calls of the Gocker API (Docker Engine API subset) over <see cref="UnixHttpClient"/>.</summary>
public sealed class GockerClient(UnixHttpClient http)
{
    public const string MultiplexedContentType = "application/vnd.docker.multiplexed-stream";

    /// <summary>Reads names case-insensitively, as Go's encoding/json (and so every docker client)
    /// does; writes omit nulls like the shared context.</summary>
    internal static readonly GockerJson Json = new(new JsonSerializerOptions
    {
        PropertyNameCaseInsensitive = true,
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    });

    public UnixHttpClient Http => http;

    private static string Esc(string s) => Uri.EscapeDataString(s);

    public VersionResponse Version() =>
        ReadJson(http.Send("GET", "/version"), Json.VersionResponse);

    /// <summary>With <paramref name="start"/> gockerd starts it too (gockerStart, `run -d`): the answer
    /// says so in GockerStarted (an older daemon only creates it).</summary>
    public ContainerCreateResponse Create(ContainerCreateRequest request, string? name, bool start = false)
    {
        byte[] body = CreateRequestWriter.Write(request);
        string target = "/containers/create" + (start ? "?gockerStart=1" : "") + (name is null ? "" : (start ? "&" : "?") + "name=" + Esc(name));
        return ReadJson(http.Send("POST", target, body, "application/json"), SmallAnswers.CreateResponse);
    }

    /// <summary>gockerd's `gockerRun`: create, attach, start and wait in one request. A 200 answer is
    /// the output stream (see AttachSession.RunCreated); an older daemon answers the plain create
    /// (201, read with <see cref="CreateAnswer"/>); anything else is an error (EnsureSuccess).</summary>
    public HttpResponse CreateAndRun(ContainerCreateRequest request, string? name, string until)
    {
        byte[] body = CreateRequestWriter.Write(request);
        string target = "/containers/create?gockerRun=" + Esc(until) + (name is null ? "" : "&name=" + Esc(name));
        return http.Send("POST", target, body, "application/json");
    }

    public static ContainerCreateResponse CreateAnswer(HttpResponse response) => ReadJson(response, SmallAnswers.CreateResponse);

    /// <summary>Returns false when the container was already running (304).</summary>
    public bool Start(string id)
    {
        using var r = http.Send("POST", $"/containers/{Esc(id)}/start");
        EnsureSuccess(r);
        return r.StatusCode != 304;
    }

    /// <summary>The output stream. With <paramref name="waitCondition"/> (gockerd's `gockerWait`) it
    /// ends with a "system" frame carrying the wait's answer once the condition holds.</summary>
    public HttpExchange BeginAttach(string id, string? waitCondition = null) =>
        http.Begin("POST", $"/containers/{Esc(id)}/attach?stream=1&stdout=1&stderr=1{(waitCondition is null ? "" : "&gockerWait=" + Esc(waitCondition))}");

    /// <summary>The hijacked attach (101): output, and with stdin the connection carries our input.</summary>
    public HttpExchange BeginHijack(string id, bool stdin) =>
        http.BeginUpgrade("POST", $"/containers/{Esc(id)}/attach?stream=1&stdout=1&stderr=1{(stdin ? "&stdin=1" : "")}");

    /// <summary>Our input ended after `sent` bytes on the attach connection (see gockerd's AttachSession).</summary>
    public void CloseStdin(string id, long sent)
    {
        using var r = http.Send("POST", $"/containers/{Esc(id)}/attach/close-stdin?after={sent}");
        EnsureSuccess(r);
    }

    public void Resize(string id, int rows, int cols)
    {
        using var r = http.Send("POST", $"/containers/{Esc(id)}/resize?h={rows}&w={cols}");
        EnsureSuccess(r);
    }

    public HttpExchange BeginWait(string id, string condition) =>
        http.Begin("POST", $"/containers/{Esc(id)}/wait?condition={Esc(condition)}");

    public WaitResponse Wait(string id, string condition = "not-running") =>
        ReadJson(http.Send("POST", $"/containers/{Esc(id)}/wait?condition={Esc(condition)}"), SmallAnswers.WaitResponse);

    public List<ContainerSummary> List(bool all) =>
        ReadJson(http.Send("GET", all ? "/containers/json?all=1" : "/containers/json"), Json.ListContainerSummary);

    /// <summary>The raw inspect JSON, so that fields this console does not model are kept.</summary>
    public byte[] InspectRaw(string id)
    {
        using var r = http.Send("GET", $"/containers/{Esc(id)}/json");
        EnsureSuccess(r);
        return r.ReadBodyBytes();
    }

    /// <summary>Opens the log stream; the caller pumps and disposes it.</summary>
    public HttpResponse Logs(string id, bool follow, string tail, bool timestamps, string since = "", string until = "")
    {
        var r = http.Send("GET",
            $"/containers/{Esc(id)}/logs?stdout=1&stderr=1&follow={(follow ? 1 : 0)}&tail={Esc(tail)}&timestamps={(timestamps ? 1 : 0)}" +
            (since.Length > 0 ? "&since=" + since : "") + (until.Length > 0 ? "&until=" + until : ""));
        try { EnsureSuccess(r); return r; }
        catch { r.Dispose(); throw; }
    }

    public void Stop(string id, int? timeoutSeconds)
    {
        string q = timeoutSeconds is { } t ? $"?t={t}" : "";
        using var r = http.Send("POST", $"/containers/{Esc(id)}/stop{q}");
        EnsureSuccess(r);
    }

    public void Kill(string id, string signal)
    {
        using var r = http.Send("POST", $"/containers/{Esc(id)}/kill?signal={Esc(signal)}");
        EnsureSuccess(r);
    }

    /// <param name="volumes">`rm -v`: the container's anonymous volumes go too.</param>
    public void Remove(string id, bool force, bool volumes = false)
    {
        var query = (force, volumes) switch { (true, true) => "?force=1&v=1", (true, false) => "?force=1", (false, true) => "?v=1", _ => "" };
        using var r = http.Send("DELETE", $"/containers/{Esc(id)}{query}");
        EnsureSuccess(r);
    }

    public ImageImportResponse Import(Stream tarball, string repo, string tag) =>
        ReadJson(http.SendStreaming("POST", $"/images/create?fromSrc=-&repo={Esc(repo)}&tag={Esc(tag)}",
            tarball, "application/x-tar"), Json.ImageImportResponse);

    public List<ImageSummary> Images() =>
        ReadJson(http.Send("GET", "/images/json"), Json.ListImageSummary);

    /// <summary>Returns the raw answer body (Docker answers a list of {Untagged|Deleted}).</summary>
    public byte[] RemoveImage(string name, bool force)
    {
        using var r = http.Send("DELETE", $"/images/{ImageClient.EscName(name)}{(force ? "?force=1" : "")}");
        EnsureSuccess(r);
        return r.ReadBodyBytes();
    }

    private static T ReadJson<T>(HttpResponse response, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type) =>
        ReadJson(response, body => JsonSerializer.Deserialize(body, type));

    private static T ReadJson<T>(HttpResponse response, Func<byte[], T?> parse)
    {
        using (response)
        {
            EnsureSuccess(response);
            byte[] body = response.ReadBodyBytes();
            try
            {
                return parse(body)
                       ?? throw new ApiException(response.StatusCode, "the daemon answered an empty (null) body");
            }
            catch (JsonException e)
            {
                throw new ApiException(response.StatusCode, $"the daemon answered malformed JSON: {e.Message}");
            }
        }
    }

    /// <summary>Throws <see cref="ApiException"/> carrying the daemon's message for a 4xx/5xx answer.</summary>
    public static void EnsureSuccess(HttpResponse response)
    {
        if (response.StatusCode < 400) return;
        byte[] body;
        try { body = response.ReadBodyBytes(); }
        catch (IOException) { body = []; }
        string message;
        int? exitCode = null;
        try
        {
            var err = JsonSerializer.Deserialize(body, Json.ErrorResponse);
            message = string.IsNullOrEmpty(err?.Message) ? Fallback(response, body) : err!.Message;
            exitCode = err?.ExitCode;
        }
        catch (JsonException)
        {
            message = Fallback(response, body);
        }
        throw new ApiException(response.StatusCode, message, exitCode);
    }

    private static string Fallback(HttpResponse response, byte[] body)
    {
        string text = Encoding.UTF8.GetString(body).Trim();
        return text.Length > 0 ? text : $"{response.StatusCode} {response.Reason}".Trim();
    }
}
