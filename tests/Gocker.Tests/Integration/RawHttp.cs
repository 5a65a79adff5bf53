using System.Net.Sockets;
using System.Text;

namespace Gocker.Tests.Integration;

/// <summary>HTTP/1.1 over the daemon's Unix socket, written and read by hand, as other clients speak it.</summary>
internal static class RawHttp
{
    public static Socket Connect(string socket)
    {
        var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { ReceiveTimeout = 60_000 };
        s.Connect(new UnixDomainSocketEndPoint(socket));
        return s;
    }

    public static string ReadHead(Socket s)
    {
        var head = new List<byte>();
        var one = new byte[1];
        while (!(head.Count >= 4 && head[^4] == '\r' && head[^3] == '\n' && head[^2] == '\r' && head[^1] == '\n'))
        {
            if (s.Receive(one) == 0) throw new IOException("closed inside the head: " + Encoding.ASCII.GetString([.. head]));
            head.Add(one[0]);
        }
        return Encoding.ASCII.GetString([.. head]);
    }

    public static byte[] ReadToEnd(Socket s)
    {
        using var all = new MemoryStream();
        var buf = new byte[8192];
        int n;
        while ((n = s.Receive(buf)) > 0) all.Write(buf, 0, n);
        return all.ToArray();
    }

    /// <summary>One request in one write, as Go's HTTP client sends it; the head and the body.</summary>
    public static (string Head, byte[] Body) Request(string socket, string method, string target, string? json = null)
    {
        using var s = Connect(socket);
        var body = json is null ? [] : Encoding.UTF8.GetBytes(json);
        s.Send([.. Encoding.ASCII.GetBytes($"{method} {target} HTTP/1.1\r\nHost: api.moby.localhost\r\nConnection: close\r\n" +
            (json is null ? "" : "Content-Type: application/json\r\n") + $"Content-Length: {body.Length}\r\n\r\n"), .. body]);
        var head = ReadHead(s);
        return (head, ReadBody(s, head));
    }

    /// <summary>The body after <paramref name="head"/>: Content-Length bytes, or chunks up to the last.</summary>
    public static byte[] ReadBody(Socket s, string head)
    {
        byte[] Exactly(int n)
        {
            var b = new byte[n];
            for (int got = 0; got < n;)
            {
                var r = s.Receive(b, got, n - got, SocketFlags.None);
                if (r == 0) throw new IOException("closed inside the body");
                got += r;
            }
            return b;
        }
        string Line()
        {
            var line = new List<byte>();
            while (!(line.Count >= 2 && line[^2] == '\r' && line[^1] == '\n')) line.Add(Exactly(1)[0]);
            return Encoding.ASCII.GetString([.. line]).Trim();
        }
        var lines = head.Split("\r\n");
        if (lines.FirstOrDefault(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase)) is { } cl)
            return Exactly(int.Parse(cl["Content-Length:".Length..].Trim()));
        if (!lines.Any(l => l.Equals("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase))) return ReadToEnd(s);
        using var body = new MemoryStream();
        for (int size; (size = Convert.ToInt32(Line(), 16)) > 0;)
        {
            body.Write(Exactly(size));
            Line();
        }
        Line();
        return body.ToArray();
    }
}
