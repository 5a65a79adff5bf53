using System.Globalization;
using System.Text;

namespace Gocker.Cli.Http;

/// <summary>A response head plus its body stream. Owns the connection: disposing closes it.</summary>
public sealed class HttpResponse : IDisposable
{
    private readonly UnixSocket _socket;

    public int StatusCode { get; }
    public string Reason { get; }
    public IReadOnlyDictionary<string, string> Headers { get; }
    /// <summary>The body, already de-framed (Content-Length, chunked or read-until-close).</summary>
    public Stream Body { get; }

    private HttpResponse(UnixSocket socket, int status, string reason, Dictionary<string, string> headers, Stream body)
    {
        _socket = socket;
        StatusCode = status;
        Reason = reason;
        Headers = headers;
        Body = body;
    }

    public bool IsSuccess => StatusCode is >= 200 and < 300;

    /// <summary>The connection itself: after a 101 (hijacked attach) the client writes its input here
    /// and reads the output from <see cref="Body"/>.</summary>
    public UnixSocket Connection => _socket;

    public string? ContentType => Headers.TryGetValue("Content-Type", out var v) ? v : null;

    public byte[] ReadBodyBytes()
    {
        using var ms = new MemoryStream();
        // 16 KiB, not CopyTo's 80 KiB default: that rents (allocates, clears, faults in) a 128 KiB
        // array for answers of a few hundred bytes, on every command.
        Body.CopyTo(ms, 16 * 1024);
        return ms.ToArray();
    }

    public string ReadBodyString() => Encoding.UTF8.GetString(ReadBodyBytes());

    public void Dispose() => _socket.Dispose();

    internal static HttpResponse Read(SocketReader reader, string method)
    {
        while (true)
        {
            string statusLine = reader.ReadLine() ?? throw new IOException("the daemon closed the connection without answering");
            // "HTTP/1.1 200 OK"
            string[] parts = statusLine.Split(' ', 3);
            if (parts.Length < 2 || !parts[0].StartsWith("HTTP/1.", StringComparison.Ordinal) ||
                parts[1].Length != 3 || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int status))
                throw new IOException($"malformed HTTP status line '{statusLine}'");

            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            int total = 0;
            while (true)
            {
                string line = reader.ReadLine() ?? throw new IOException("connection closed inside the response headers");
                if (line.Length == 0) break;
                total += line.Length;
                if (total > 64 * 1024) throw new IOException("response headers larger than 64 KiB");
                int colon = line.IndexOf(':');
                if (colon <= 0) throw new IOException($"malformed header line '{line}'");
                string name = line[..colon].Trim(), value = line[(colon + 1)..].Trim();
                headers[name] = headers.TryGetValue(name, out var prev) ? prev + ", " + value : value;
            }

            // Interim answers (100 Continue) precede the real one.
            if (status is >= 100 and < 200 && status != 101) continue;

            return new HttpResponse(reader.Socket, status, parts.Length > 2 ? parts[2] : "", headers,
                SelectBody(reader, method, status, headers));
        }
    }

    private static Stream SelectBody(SocketReader reader, string method, int status, Dictionary<string, string> headers)
    {
        if (status == 101) return new UntilCloseBody(reader); // upgraded: raw bytes until the daemon closes
        if (method == "HEAD" || status is 204 or 304 || status < 200) return EmptyBody.Instance;
        if (headers.TryGetValue("Transfer-Encoding", out var te))
        {
            if (te.EndsWith("chunked", StringComparison.OrdinalIgnoreCase)) return new ChunkedBody(reader);
            return new UntilCloseBody(reader);
        }
        if (headers.TryGetValue("Content-Length", out var cl))
        {
            if (!long.TryParse(cl, NumberStyles.None, CultureInfo.InvariantCulture, out long length))
                throw new IOException($"malformed Content-Length '{cl}'");
            return length == 0 ? EmptyBody.Instance : new ContentLengthBody(reader, length);
        }
        return new UntilCloseBody(reader);
    }
}
