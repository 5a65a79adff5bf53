using System.Text.Json;
using Akka.Actor;
using Akka.Hosting;
using Gocker.Actors.Engine;
using Gocker.Actors.Events;
using Gocker.Api;

namespace Gocker.Host;

/// <summary>
/// `GET /events?since=&until=&filters=` (Docker's shape): newline-delimited JSON messages, each
/// flushed as it happens. With until in the past the kept events are dumped and the answer ends;
/// otherwise the stream stays open (past events since `since` first) until the client leaves or
/// `until` passes. since/until: unix seconds with an optional fraction, or RFC3339.
/// </summary>
public static class EventRoutes
{
    static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(30);

    public static void Map(WebApplication app) => app.MapGet("/events", (RequestDelegate)Events);

    static async Task Events(HttpContext ctx)
    {
        DateTimeOffset? since, until;
        EventFilter filter;
        try
        {
            since = Time(ctx, "since");
            until = Time(ctx, "until");
            filter = ParseFilters(ctx.Request.Query["filters"].ToString());
        }
        catch (ArgumentException ex)
        {
            await ErrorMapping.Error(ex).ExecuteAsync(ctx);
            return;
        }
        var log = ctx.RequestServices.GetRequiredService<ActorRegistry>().Get<EventLogKey>();
        var now = DateTimeOffset.UtcNow;
        ctx.Response.ContentType = "application/json";
        if (until is { } u && u <= now)
        {
            var result = await log.Ask<EventLog.QueryResult>(new EventLog.Query(since, until, filter), AskTimeout, ctx.RequestAborted);
            await ctx.Response.StartAsync(ctx.RequestAborted);
            // A dump is written as it comes and flushed once; only live events are flushed one by one.
            foreach (var e in result.Events) await Write(ctx, e, flush: false);
            return;
        }

        var sub = await log.Ask<EventLog.Subscribed>(new EventLog.Subscribe(since, filter), AskTimeout, ctx.RequestAborted);
        try
        {
            // Headers go out at once: a client knows it is subscribed before any event arrives.
            await ctx.Response.StartAsync(ctx.RequestAborted);
            await ctx.Response.Body.FlushAsync(ctx.RequestAborted);
            // The daemon's shutdown ends open streams: Kestrel would otherwise wait for them.
            var stopping = ctx.RequestServices.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(ctx.RequestAborted, stopping);
            if (until is { } end) cts.CancelAfter(end - now);
            await foreach (var e in sub.Events.ReadAllAsync(cts.Token))
            {
                if (until is { } last && e.Time > last) break;
                await Write(ctx, e);
            }
        }
        catch (OperationCanceledException) { /* client gone, or until passed */ }
        catch (SubscriberTooSlowException ex)
        {
            ctx.RequestServices.GetRequiredService<ILogger<EventLog>>().LogWarning("GET /events: {Message}", ex.Message);
        }
        catch (IOException) { /* client gone mid-write */ }
        finally
        {
            log.Tell(new EventLog.Unsubscribe(sub.Id));
        }
    }

    /// <summary>Publishes an event from an API route (networks, images: they have no actor of their own).</summary>
    public static void Publish(HttpContext ctx, string type, string action, string id, params (string Key, string Value)[] attributes)
    {
        var attrs = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (k, v) in attributes) attrs[k] = v;
        var now = ctx.RequestServices.GetRequiredService<EngineServices>().Clock.GetUtcNow();
        ctx.RequestServices.GetRequiredService<ActorSystem>().EventStream.Publish(new GockerEvent(type, action, id, attrs, now));
    }

    static async Task Write(HttpContext ctx, GockerEvent e, bool flush = true)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(ToMessage(e), GockerEventJson.Default.EventMessage);
        var line = new byte[json.Length + 1];
        json.CopyTo(line, 0);
        line[^1] = (byte)'\n';
        await ctx.Response.Body.WriteAsync(line, ctx.RequestAborted);
        if (flush) await ctx.Response.Body.FlushAsync(ctx.RequestAborted);
    }

    public static EventMessage ToMessage(GockerEvent e)
    {
        var m = new EventMessage
        {
            Type = e.Type,
            Action = e.Action,
            Actor = new EventActor { ID = e.Id, Attributes = new Dictionary<string, string>(e.Attributes, StringComparer.Ordinal) },
            Time = e.Time.ToUnixTimeSeconds(),
            TimeNano = EventTimes.UnixNanos(e.Time),
        };
        if (e.Type == "container")
        {
            // Docker's deprecated fields, still read by older clients.
            m.Status = e.Action;
            m.Id = e.Id;
            m.From = e.Attributes.TryGetValue("image", out var image) ? image : null;
        }
        return m;
    }

    static DateTimeOffset? Time(HttpContext ctx, string name)
    {
        var v = ctx.Request.Query[name].ToString();
        if (string.IsNullOrEmpty(v)) return null;
        return EventTimes.TryParseWire(v, out var t) ? t
            : throw new ArgumentException($"invalid {name} '{v}': use unix seconds (1700000000.5) or RFC3339");
    }

    /// <summary>{"key":["v1","v2"]} or Docker's older {"key":{"v1":true}}.</summary>
    public static EventFilter ParseFilters(string json)
    {
        if (string.IsNullOrWhiteSpace(json)) return EventFilter.All;
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json); }
        catch (JsonException ex) { throw new ArgumentException($"invalid filters '{json}': {ex.Message}"); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new ArgumentException($"invalid filters '{json}': expected an object like {{\"event\":[\"die\"]}}");
            var terms = new Dictionary<string, string[]>(StringComparer.Ordinal);
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                terms[p.Name] = p.Value.ValueKind switch
                {
                    JsonValueKind.Array => p.Value.EnumerateArray().Select(v => v.ValueKind == JsonValueKind.String ? v.GetString()!
                        : throw new ArgumentException($"invalid filters: values of '{p.Name}' must be strings")).ToArray(),
                    JsonValueKind.Object => p.Value.EnumerateObject().Where(v => v.Value.ValueKind == JsonValueKind.True).Select(v => v.Name).ToArray(),
                    _ => throw new ArgumentException($"invalid filters: '{p.Name}' must be a list of strings"),
                };
            }
            return new EventFilter(terms);
        }
    }
}
