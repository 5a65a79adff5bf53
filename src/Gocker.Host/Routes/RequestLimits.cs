using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Gocker.Actors.Containers;
using Gocker.Api;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Net.Http.Headers;

namespace Gocker.Host;

/// <summary>A request body larger than the daemon's limit (gocker.api.max-json-body): 413.</summary>
public sealed class RequestTooLargeException(long limit)
    : Exception($"request body too large: the limit is {limit} bytes ({RequestLimits.Describe(limit)}, gocker.api.max-json-body)")
{
    public long Limit { get; } = limit;
}

/// <summary>A path (or method) no route serves: 404, as Docker's router answers.</summary>
public sealed class RouteNotFoundException(string method, string path) : Exception($"page not found: {method} {path}");

/// <summary>Endpoint metadata: the request body is a stream (an archive upload), read as it
/// comes and never subject to the JSON body limit.</summary>
public sealed class StreamingBodyAttribute : Attribute
{
    public static readonly StreamingBodyAttribute Instance = new();
}

/// <summary>
/// Bounds on what a client may send (issue #17): every request body is limited to
/// <see cref="MaxJsonBody"/> bytes except on endpoints marked <see cref="StreamingBodyAttribute"/>
/// (image load/import) and on upgrades (their stream is a connection, not a body). A declared
/// Content-Length over the limit is refused with 413 before the handler runs; a chunked body is
/// counted while it is read (Kestrel's per-request limit, and <see cref="ReadJsonAsync{T}"/>'s own
/// count), so a huge body is never buffered. Also: every JSON answer says exactly
/// `application/json` (Go's docker client prints the raw body of an error otherwise), an unknown
/// route answers a JSON 404, and an exception that escapes a route answers a JSON error.
/// </summary>
public sealed class RequestLimits(long maxJsonBody)
{
    public const long DefaultMaxJsonBody = 4L << 20;

    public long MaxJsonBody { get; } = maxJsonBody > 0 ? maxJsonBody : throw new ArgumentOutOfRangeException(nameof(maxJsonBody));

    public static string Describe(long bytes) =>
        bytes % (1L << 20) == 0 ? $"{bytes >> 20} MiB" : bytes % 1024 == 0 ? $"{bytes >> 10} KiB" : $"{bytes} B";

    /// <summary>After UseRouting (the endpoint is known), before the endpoints run.</summary>
    public static void Use(WebApplication app)
    {
        var limits = app.Services.GetService<RequestLimits>() ?? new RequestLimits(DefaultMaxJsonBody);
        app.Use(async (ctx, next) =>
        {
            ctx.Response.OnStarting(static state =>
            {
                var response = (HttpResponse)state;
                if (response.ContentType is { } ct && ct.StartsWith("application/json;", StringComparison.OrdinalIgnoreCase))
                    response.ContentType = "application/json";
                return Task.CompletedTask;
            }, ctx.Response);
            if (!limits.Applies(ctx))
            {
                await RunGuarded(ctx, next);
                return;
            }
            if (ctx.Request.ContentLength is { } declared && declared > limits.MaxJsonBody)
            {
                // Refused before anything reads it; the connection goes, so Kestrel does not read
                // (drain) the rest of a body we will never use.
                ctx.Response.Headers.Connection = "close";
                await ErrorMapping.Error(new RequestTooLargeException(limits.MaxJsonBody)).ExecuteAsync(ctx);
                return;
            }
            if (ctx.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
                size.MaxRequestBodySize = limits.MaxJsonBody;
            await RunGuarded(ctx, next);
        });
    }

    bool Applies(HttpContext ctx) =>
        ctx.GetEndpoint()?.Metadata.GetMetadata<StreamingBodyAttribute>() is null &&
        ctx.Features.Get<IHttpUpgradeFeature>() is not { IsUpgradableRequest: true };

    /// <summary>An exception no route caught answers as the routes' errors do (JSON, 4xx/5xx), not
    /// an empty 500.</summary>
    static async Task RunGuarded(HttpContext ctx, RequestDelegate next)
    {
        try { await next(ctx); }
        catch (Exception ex) when (ex is not OperationCanceledException && !ctx.Response.HasStarted)
        {
            var cause = ex is AggregateException { InnerException: { } inner } ? inner : ex;
            if (cause is Microsoft.AspNetCore.Http.BadHttpRequestException { StatusCode: 413 })
                cause = new RequestTooLargeException(ctx.RequestServices.GetService<RequestLimits>()?.MaxJsonBody ?? DefaultMaxJsonBody);
            ctx.Response.Clear();
            await ErrorMapping.Error(cause).ExecuteAsync(ctx);
        }
    }

    /// <summary>Unknown routes (and known paths with another method, as Docker's router answers):
    /// 404 with a JSON message rather than an empty body.</summary>
    public static void MapNotFound(WebApplication app) =>
        app.MapFallback("{*path}", (HttpContext ctx) => ErrorMapping.Error(new RouteNotFoundException(ctx.Request.Method, ctx.Request.Path.Value ?? "/")));

    /// <summary>
    /// The JSON body of a request as <typeparamref name="T"/>, with Docker's rules: a Content-Type
    /// other than application/json is refused (none at all is accepted); an empty body or `null`
    /// is refused when <paramref name="required"/> (else null); malformed JSON, wrong types, numbers
    /// out of range, invalid UTF-8, nesting deeper than the serializer's 64 levels and trailing
    /// data are 400 naming what is wrong; more than the limit is 413, counted while reading.
    /// </summary>
    public static async Task<T?> ReadJsonAsync<T>(HttpContext ctx, JsonTypeInfo<T> type, bool required = true) where T : class
    {
        CheckContentType(ctx.Request.ContentType);
        var limit = ctx.RequestServices.GetService<RequestLimits>()?.MaxJsonBody ?? DefaultMaxJsonBody;
        await using var body = new CountingStream(ctx.Request.Body, limit);
        T? value;
        try { value = await JsonSerializer.DeserializeAsync(body, type, ctx.RequestAborted); }
        catch (Microsoft.AspNetCore.Http.BadHttpRequestException e) when (e.StatusCode == 413) { throw new RequestTooLargeException(limit); }
        catch (JsonException) when (body.Count == 0 || body.OnlyWhitespace)
        {
            if (!required) return null;
            throw new BadRequestException("empty request body: a JSON object is required");
        }
        catch (JsonException ex) { throw new BadRequestException("invalid JSON: " + ex.Message); }
        if (value is null && required) throw new BadRequestException("empty request body: a JSON object is required, not null");
        return value;
    }

    /// <summary>Docker's CheckForJSON: no Content-Type is accepted, anything but application/json is not.</summary>
    public static void CheckContentType(string? contentType)
    {
        if (string.IsNullOrEmpty(contentType)) return;
        if (!MediaTypeHeaderValue.TryParse(contentType, out var media))
            throw new BadRequestException($"malformed Content-Type header ({contentType})");
        if (!media.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase))
            throw new BadRequestException($"unsupported Content-Type header ({contentType}): must be 'application/json'");
    }

    /// <summary>Passes reads through, counting; more than the limit throws before the bytes reach
    /// the parser (so it never holds more than the limit). Also checks that the body is UTF-8 as a
    /// whole: the JSON reader leaves string contents unchecked until a route reads them, and one
    /// that only looks at a document would take bytes that are not text.</summary>
    sealed class CountingStream(Stream inner, long limit) : Stream
    {
        public long Count { get; private set; }
        public bool OnlyWhitespace { get; private set; } = true;
        readonly System.Text.Decoder _utf8 = new System.Text.UTF8Encoding(false, throwOnInvalidBytes: true).GetDecoder();

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
        {
            var n = await inner.ReadAsync(buffer, ct);
            Account(buffer.Span[..n]);
            return n;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) =>
            ReadAsync(buffer.AsMemory(offset, count), ct).AsTask();

        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = inner.Read(buffer, offset, count);
            Account(buffer.AsSpan(offset, n));
            return n;
        }

        void Account(ReadOnlySpan<byte> data)
        {
            var start = Count;
            Count += data.Length;
            if (Count > limit) throw new RequestTooLargeException(limit);
            // Stateful across reads (a character split between two reads is fine); flushed at the end.
            try { _utf8.GetCharCount(data, flush: data.Length == 0); }
            catch (System.Text.DecoderFallbackException ex)
            {
                throw new BadRequestException($"invalid JSON: the body is not valid UTF-8 (at byte {start + Math.Max(0, ex.Index)})");
            }
            if (OnlyWhitespace)
                foreach (var b in data)
                    if (b is not ((byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n')) { OnlyWhitespace = false; break; }
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => Count; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        // The request body belongs to the server: not closed here.
        protected override void Dispose(bool disposing) { }
        public override ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
