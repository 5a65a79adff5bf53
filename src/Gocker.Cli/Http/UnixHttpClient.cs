using System.Globalization;
using System.Text;

namespace Gocker.Cli.Http;

/// <summary>The daemon could not be reached (socket missing, refused, or not a socket).</summary>
public sealed class DaemonUnreachableException(string hostUri, Exception inner)
    : Exception($"Cannot connect to the Gocker daemon at {hostUri}. Is gockerd running? Start it with: gockerd [--host {hostUri}]", inner);

/// <summary>
/// Minimal HTTP/1.1 client over a Unix domain socket. One connection per request
/// ("Connection: close"): the console makes a handful of requests, and a Unix connect costs
/// microseconds, while HttpClient/SocketsHttpHandler costs milliseconds of startup in NativeAOT.
/// </summary>
public sealed class UnixHttpClient(string socketPath, string hostUri)
{
    private const int UploadChunk = 64 * 1024;

    public string SocketPath => socketPath;
    public string HostUri => hostUri;

    /// <summary>Sends a request and reads the response head; the body stays on the wire.</summary>
    public HttpResponse Send(string method, string target, ReadOnlySpan<byte> body = default, string? contentType = null)
    {
        // Disposing the exchange closes the socket only if the answer could not be read.
        using var exchange = Begin(method, target, body, contentType);
        return exchange.ReadResponse();
    }

    /// <summary>A request with extra header lines ("Name: value"), e.g. X-Registry-Auth; the body stays on the wire.</summary>
    public HttpResponse SendWithHeaders(string method, string target, IReadOnlyList<string> headers, ReadOnlySpan<byte> body = default, string? contentType = null)
    {
        var socket = Connect();
        try
        {
            var head = Head(method, target, body.Length, contentType, headers);
            var all = new byte[head.Length + body.Length];
            head.CopyTo(all, 0);
            body.CopyTo(all.AsSpan(head.Length));
            socket.Send(all);
            return HttpResponse.Read(new SocketReader(socket), method);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Sends a request with a streamed (chunked) body; the source is never loaded whole.</summary>
    public HttpResponse SendStreaming(string method, string target, Stream source, string contentType)
    {
        var socket = Connect();
        try
        {
            socket.Send(Head(method, target, -1, contentType));
            // The daemon may answer (and close) before taking the whole body, e.g. a bad image name
            // refused up front: keep its answer rather than the EPIPE of the upload.
            try { WriteChunked(socket, source); }
            catch (IOException) { }
            return HttpResponse.Read(new SocketReader(socket), method);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Connects and writes the request, without waiting for the answer: the caller decides
    /// when (and whether) to read it. Used to have attach/wait in place before start.</summary>
    public HttpExchange Begin(string method, string target, ReadOnlySpan<byte> body = default, string? contentType = null)
    {
        var socket = Connect();
        try
        {
            byte[] head = Head(method, target, body.Length, contentType);
            if (body.IsEmpty) socket.Send(head);
            else
            {
                var all = new byte[head.Length + body.Length];
                head.CopyTo(all, 0);
                body.CopyTo(all.AsSpan(head.Length));
                socket.Send(all);
            }
            return new HttpExchange(socket, method);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Docker's hijack: a request with `Connection: Upgrade, Upgrade: tcp` and no body; a 101
    /// answer turns the connection into a two-way byte stream (see HttpResponse.Connection).</summary>
    public HttpExchange BeginUpgrade(string method, string target)
    {
        var socket = Connect();
        try
        {
            socket.Send(Encoding.ASCII.GetBytes(
                $"{method} {target} HTTP/1.1\r\nHost: gocker\r\nUser-Agent: gocker-cli\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"));
            return new HttpExchange(socket, method);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>A new connection to the daemon; missing, refused or not a socket: DaemonUnreachableException.</summary>
    internal UnixSocket Connect()
    {
        try { return UnixSocket.Connect(socketPath); }
        catch (System.Net.Sockets.SocketException e) { throw new DaemonUnreachableException(hostUri, e); }
    }

    private static byte[] Head(string method, string target, long contentLength, string? contentType, IReadOnlyList<string>? headers = null)
    {
        var sb = new StringBuilder(160);
        sb.Append(method).Append(' ').Append(target).Append(" HTTP/1.1\r\n")
          .Append("Host: gocker\r\nUser-Agent: gocker-cli\r\nConnection: close\r\n");
        if (contentLength < 0) sb.Append("Transfer-Encoding: chunked\r\n");
        else if (contentLength > 0 || method is "POST" or "PUT")
            sb.Append("Content-Length: ").Append(contentLength.ToString(CultureInfo.InvariantCulture)).Append("\r\n");
        if (contentType != null) sb.Append("Content-Type: ").Append(contentType).Append("\r\n");
        foreach (var h in headers ?? []) sb.Append(h).Append("\r\n");
        sb.Append("\r\n");
        return Encoding.ASCII.GetBytes(sb.ToString());
    }

    private static void WriteChunked(UnixSocket socket, Stream source)
    {
        // Room for "ffffffff\r\n" + data + "\r\n" so that each chunk is one send.
        var buf = new byte[UploadChunk + 12];
        while (true)
        {
            int n = source.ReadAtLeast(buf.AsSpan(10, UploadChunk), UploadChunk, throwOnEndOfStream: false);
            if (n == 0) break;
            string size = n.ToString("x", CultureInfo.InvariantCulture) + "\r\n";
            int start = 10 - size.Length;
            Encoding.ASCII.GetBytes(size, buf.AsSpan(start));
            buf[10 + n] = (byte)'\r';
            buf[11 + n] = (byte)'\n';
            socket.Send(buf.AsSpan(start, size.Length + n + 2));
            if (n < UploadChunk) break;
        }
        socket.Send("0\r\n\r\n"u8);
    }
}

/// <summary>A request already sent whose answer has not been read yet.</summary>
public sealed class HttpExchange : IDisposable
{
    private readonly UnixSocket _socket;
    private readonly string _method;
    private readonly SocketReader _reader;
    private bool _handedOver;

    internal HttpExchange(UnixSocket socket, string method)
    {
        _socket = socket;
        _method = method;
        _reader = new SocketReader(socket);
    }

    /// <summary>True once the answer has started arriving (or the peer closed); false on timeout.</summary>
    public bool WaitForAnswer(TimeSpan timeout) =>
        _reader.HasBufferedData || _socket.Poll(timeout);

    /// <summary>Reads the response head. The response then owns the connection.</summary>
    public HttpResponse ReadResponse()
    {
        var response = HttpResponse.Read(_reader, _method);
        _handedOver = true;
        return response;
    }

    public void Dispose()
    {
        if (!_handedOver) _socket.Dispose();
    }
}
