using System.Net.Sockets;
using System.Text;
using Gocker.Api;

namespace Gocker.Tests.Integration;

/// <summary>
/// The docker CLI ends its stdin on a hijacked attach/exec connection with shutdown(SHUT_WR), then
/// reads the rest of the output. Raw HTTP over the daemon's Unix socket, as such a client speaks it:
/// the output written after the half-close must arrive, up to the daemon's own close.
/// </summary>
[Trait("Needs", "root")]
public sealed class HalfCloseTests(DaemonFixture daemon) : IClassFixture<DaemonFixture>, IDisposable
{
    public void Dispose() => daemon.AssertNoLeaks();

    static string Unique(string prefix) => prefix + Guid.NewGuid().ToString("N")[..8];

    string Ok(params string[] args)
    {
        var r = daemon.Gocker(args);
        Assert.True(r.ExitCode == 0, $"gocker {string.Join(' ', args)}: {r}");
        return r.Stdout.Trim();
    }

    Socket Connect() => RawHttp.Connect(daemon.Socket);

    /// <summary>Sends an upgrade request (docker's hijack: no body) and reads the answer's head.</summary>
    Socket Hijack(string target)
    {
        var s = Connect();
        s.Send(Encoding.ASCII.GetBytes($"POST {target} HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n"));
        var head = ReadHead(s);
        Assert.True(head.StartsWith("HTTP/1.1 101 "), head);
        return s;
    }

    static string ReadHead(Socket s) => RawHttp.ReadHead(s);
    static byte[] ReadToEnd(Socket s) => RawHttp.ReadToEnd(s);

    /// <summary>Splits docker's 8-byte framed stream into stdout and stderr text.</summary>
    static (string Out, string Err) Demux(byte[] data)
    {
        var o = new StringBuilder();
        var e = new StringBuilder();
        int i = 0;
        while (i < data.Length)
        {
            Assert.True(data.Length - i >= Multiplex.HeaderSize, "truncated frame header");
            var (stream, length) = Multiplex.ReadHeader(data.AsSpan(i, Multiplex.HeaderSize));
            i += Multiplex.HeaderSize;
            var text = Encoding.UTF8.GetString(data, i, length);
            i += length;
            if (stream == Multiplex.Stdout) o.Append(text);
            else if (stream == Multiplex.Stderr) e.Append(text);
        }
        return (o.ToString(), e.ToString());
    }

    /// <summary>A plain request (Connection: close); returns the status line and the de-chunked body.</summary>
    (string Status, string Body) Request(string method, string target, string? json = null)
    {
        using var s = Connect();
        var body = json is null ? [] : Encoding.UTF8.GetBytes(json);
        s.Send(Encoding.ASCII.GetBytes($"{method} {target} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n" +
            (json is null ? "" : "Content-Type: application/json\r\n") + $"Content-Length: {body.Length}\r\n\r\n"));
        s.Send(body);
        var head = ReadHead(s);
        var rest = ReadToEnd(s);
        if (head.Contains("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase))
        {
            using var plain = new MemoryStream();
            int i = 0;
            while (true)
            {
                int eol = Array.IndexOf(rest, (byte)'\n', i);
                int size = Convert.ToInt32(Encoding.ASCII.GetString(rest, i, eol - i).Trim(), 16);
                if (size == 0) break;
                plain.Write(rest, eol + 1, size);
                i = eol + 1 + size + 2;
            }
            rest = plain.ToArray();
        }
        return (head[..head.IndexOf('\r')], Encoding.UTF8.GetString(rest));
    }

    [Fact]
    public void Attach_output_after_the_clients_half_close_arrives()
    {
        var name = Unique("hc-");
        try
        {
            var id = Ok("create", "-i", "--name", name, "--network", "none", "busybox",
                "sh", "-c", "cat; sleep 0.3; echo after-eof; echo err-after >&2; exit 5");
            using var s = Hijack($"/containers/{id}/attach?stream=1&stdin=1&stdout=1&stderr=1");
            Ok("start", id);
            s.Send("hi\n"u8);
            s.Shutdown(SocketShutdown.Send); // stdin's EOF, docker's way
            var (stdout, stderr) = Demux(ReadToEnd(s));
            Assert.Equal("hi\nafter-eof\n", stdout);
            Assert.Equal("err-after\n", stderr);
            Assert.Equal("5", Ok("wait", id));
        }
        finally { daemon.Gocker("rm", "-f", name); }
    }

    [Fact]
    public void Exec_output_after_the_clients_half_close_arrives()
    {
        var name = Unique("hce-");
        try
        {
            var id = Ok("run", "-d", "--name", name, "--network", "none", "busybox", "sleep", "300");
            var (status, body) = Request("POST", $"/containers/{id}/exec",
                """{"AttachStdin":true,"AttachStdout":true,"AttachStderr":true,"Cmd":["sh","-c","cat; sleep 0.3; echo after-eof; exit 6"]}""");
            Assert.True(status.StartsWith("HTTP/1.1 201"), status + "\n" + body);
            using var doc = System.Text.Json.JsonDocument.Parse(body);
            var execId = doc.RootElement.GetProperty("Id").GetString()!;

            using (var s = Hijack($"/exec/{execId}/start"))
            {
                s.Send("from stdin\n"u8);
                s.Shutdown(SocketShutdown.Send);
                var (stdout, _) = Demux(ReadToEnd(s));
                Assert.Equal("from stdin\nafter-eof\n", stdout);
            }
            var (_, inspect) = Request("GET", $"/exec/{execId}/json");
            using var exec = System.Text.Json.JsonDocument.Parse(inspect);
            Assert.Equal(6, exec.RootElement.GetProperty("ExitCode").GetInt32());
        }
        finally { daemon.Gocker("rm", "-f", name); }
    }

    [Fact]
    public void A_plain_request_is_answered_after_the_clients_half_close()
    {
        using var s = Connect();
        s.Send("GET /version HTTP/1.1\r\nHost: docker\r\n\r\n"u8);
        s.Shutdown(SocketShutdown.Send);
        var answer = Encoding.UTF8.GetString(ReadToEnd(s));
        Assert.StartsWith("HTTP/1.1 200", answer);
        Assert.Contains("\"ApiVersion\"", answer);
    }
}
