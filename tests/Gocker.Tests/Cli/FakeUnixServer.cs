using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace Gocker.Tests.Cli;

internal sealed record FakeRequest(string Method, string Target, Dictionary<string, string> Headers, byte[] Body)
{
    public string Path => Target.Split('?')[0];
    public string BodyText => Encoding.UTF8.GetString(Body);
}

/// <summary>A tiny HTTP/1.1 server on a temp Unix socket: parses one request per connection
/// (Content-Length or chunked body) and lets the test write whatever raw answer it wants.</summary>
internal sealed class FakeUnixServer : IDisposable
{
    private readonly string _dir;
    private readonly Socket _listener;
    private readonly Action<FakeRequest, Stream> _handler;
    private readonly Thread _acceptThread;
    public ConcurrentQueue<FakeRequest> Requests { get; } = new();
    public ConcurrentQueue<Exception> HandlerErrors { get; } = new();

    public string SocketPath { get; }
    public string HostUri => "unix://" + SocketPath;

    public FakeUnixServer(Action<FakeRequest, Stream> handler)
    {
        _handler = handler;
        _dir = Directory.CreateTempSubdirectory("gocker-cli-test-").FullName;
        SocketPath = System.IO.Path.Combine(_dir, "d.sock");
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(SocketPath));
        _listener.Listen(16);
        _acceptThread = new Thread(AcceptLoop) { IsBackground = true };
        _acceptThread.Start();
    }

    private void AcceptLoop()
    {
        while (true)
        {
            Socket s;
            try { s = _listener.Accept(); }
            catch (Exception) { return; }
            new Thread(() => Serve(s)) { IsBackground = true }.Start();
        }
    }

    private void Serve(Socket s)
    {
        using var stream = new NetworkStream(s, ownsSocket: true);
        try
        {
            var req = ReadRequest(stream);
            Requests.Enqueue(req);
            _handler(req, stream);
        }
        catch (Exception e)
        {
            HandlerErrors.Enqueue(e);
        }
    }

    private static string ReadLine(Stream s)
    {
        var sb = new StringBuilder();
        while (true)
        {
            int b = s.ReadByte();
            if (b < 0) throw new EndOfStreamException();
            if (b == '\n') return sb.ToString().TrimEnd('\r');
            sb.Append((char)b);
        }
    }

    private static FakeRequest ReadRequest(Stream s)
    {
        var parts = ReadLine(s).Split(' ');
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        for (string line; (line = ReadLine(s)).Length > 0;)
        {
            int c = line.IndexOf(':');
            headers[line[..c].Trim()] = line[(c + 1)..].Trim();
        }
        var body = new MemoryStream();
        if (headers.TryGetValue("Transfer-Encoding", out var te) && te == "chunked")
        {
            while (true)
            {
                int size = int.Parse(ReadLine(s), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                if (size == 0) { ReadLine(s); break; }
                var chunk = new byte[size];
                s.ReadExactly(chunk);
                body.Write(chunk);
                if (ReadLine(s) != "") throw new InvalidDataException("chunk not followed by CRLF");
            }
        }
        else if (headers.TryGetValue("Content-Length", out var cl))
        {
            var b = new byte[int.Parse(cl, CultureInfo.InvariantCulture)];
            s.ReadExactly(b);
            body.Write(b);
        }
        return new FakeRequest(parts[0], parts[1], headers, body.ToArray());
    }

    public static void Respond(Stream s, int status, string body, string contentType = "application/json")
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        var head = $"HTTP/1.1 {status} X\r\nContent-Type: {contentType}\r\nContent-Length: {bytes.Length}\r\n\r\n";
        s.Write(Encoding.ASCII.GetBytes(head));
        s.Write(bytes);
        s.Flush();
    }

    public static void RespondNoContent(Stream s, int status = 204) =>
        s.Write(Encoding.ASCII.GetBytes($"HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n"));

    public static void StartChunked(Stream s, int status = 200, string contentType = "application/vnd.docker.multiplexed-stream")
    {
        s.Write(Encoding.ASCII.GetBytes($"HTTP/1.1 {status} OK\r\nContent-Type: {contentType}\r\nTransfer-Encoding: chunked\r\n\r\n"));
        s.Flush();
    }

    public static void WriteChunk(Stream s, ReadOnlySpan<byte> data)
    {
        s.Write(Encoding.ASCII.GetBytes(data.Length.ToString("x", CultureInfo.InvariantCulture) + "\r\n"));
        s.Write(data);
        s.Write("\r\n"u8);
        s.Flush();
    }

    public static void EndChunked(Stream s) => s.Write("0\r\n\r\n"u8);

    public static byte[] Frame(byte stream, ReadOnlySpan<byte> payload)
    {
        var f = new byte[8 + payload.Length];
        Gocker.Api.Multiplex.WriteHeader(f, stream, payload.Length);
        payload.CopyTo(f.AsSpan(8));
        return f;
    }

    public void Dispose()
    {
        _listener.Dispose();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
