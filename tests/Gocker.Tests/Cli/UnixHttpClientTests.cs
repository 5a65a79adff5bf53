using System.Net.Sockets;
using System.Text;
using Gocker.Api;
using Gocker.Cli;
using Gocker.Cli.Http;

namespace Gocker.Tests.Cli;

public class UnixHttpClientTests
{
    private static UnixHttpClient Client(FakeUnixServer s) => new(s.SocketPath, s.HostUri);

    [Fact]
    public void Content_length_response_and_request()
    {
        using var server = new FakeUnixServer((req, s) => FakeUnixServer.Respond(s, 201, "{\"Id\":\"abc\"}"));
        using var r = Client(server).Send("POST", "/containers/create?name=x", "{\"Image\":\"b\"}"u8, "application/json");
        Assert.Equal(201, r.StatusCode);
        Assert.Equal("{\"Id\":\"abc\"}", r.ReadBodyString());
        Assert.True(server.Requests.TryDequeue(out var req));
        Assert.Equal("POST", req.Method);
        Assert.Equal("/containers/create?name=x", req.Target);
        Assert.Equal("{\"Image\":\"b\"}", req.BodyText);
        Assert.Equal("application/json", req.Headers["Content-Type"]);
        Assert.True(req.Headers.ContainsKey("Host"));
    }

    [Fact]
    public void Post_without_body_sends_content_length_zero_and_204_has_no_body()
    {
        using var server = new FakeUnixServer((req, s) => FakeUnixServer.RespondNoContent(s));
        using var r = Client(server).Send("POST", "/containers/x/start");
        Assert.Equal(204, r.StatusCode);
        Assert.Empty(r.ReadBodyBytes());
        Assert.True(server.Requests.TryDequeue(out var req));
        Assert.Equal("0", req.Headers["Content-Length"]);
    }

    [Fact]
    public void Chunked_response_with_extensions_and_trailers()
    {
        using var server = new FakeUnixServer((req, s) =>
        {
            s.Write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"u8);
            s.Write("5;ext=1\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: y\r\n\r\n"u8);
        });
        using var r = Client(server).Send("GET", "/x");
        Assert.Equal("hello 0123456789", r.ReadBodyString());
    }

    [Fact]
    public void Interim_100_continue_is_skipped()
    {
        using var server = new FakeUnixServer((req, s) =>
        {
            s.Write("HTTP/1.1 100 Continue\r\n\r\n"u8);
            FakeUnixServer.Respond(s, 200, "ok", "text/plain");
        });
        using var r = Client(server).Send("GET", "/_ping");
        Assert.Equal(200, r.StatusCode);
        Assert.Equal("ok", r.ReadBodyString());
    }

    [Fact]
    public void Read_until_close_body()
    {
        using var server = new FakeUnixServer((req, s) =>
        {
            s.Write("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it"u8);
        });
        using var r = Client(server).Send("GET", "/x");
        Assert.Equal("all of it", r.ReadBodyString());
    }

    [Fact]
    public void Truncated_content_length_body_is_an_error()
    {
        using var server = new FakeUnixServer((req, s) => s.Write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"u8));
        using var r = Client(server).Send("GET", "/x");
        Assert.Throws<IOException>(() => r.ReadBodyBytes());
    }

    [Fact]
    public void Malformed_chunk_size_is_an_error()
    {
        using var server = new FakeUnixServer((req, s) => s.Write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"u8));
        using var r = Client(server).Send("GET", "/x");
        var e = Assert.Throws<IOException>(() => r.ReadBodyBytes());
        Assert.Contains("chunk size", e.Message);
    }

    [Fact]
    public void Garbage_status_line_is_an_error()
    {
        using var server = new FakeUnixServer((req, s) => s.Write("SSH-2.0-nope\r\n\r\n"u8));
        var e = Assert.Throws<IOException>(() => Client(server).Send("GET", "/x"));
        Assert.Contains("malformed HTTP status line", e.Message);
    }

    [Fact]
    public void Streamed_upload_is_chunked_and_complete()
    {
        // Bigger than one upload chunk and not a multiple of it.
        var payload = new byte[200_000 + 17];
        new Random(42).NextBytes(payload);
        using var server = new FakeUnixServer((req, s) => FakeUnixServer.Respond(s, 200, "{\"Id\":\"sha256:1\",\"Name\":\"r:t\"}"));
        using var r = Client(server).SendStreaming("POST", "/images/create?fromSrc=-", new MemoryStream(payload), "application/x-tar");
        Assert.Equal(200, r.StatusCode);
        Assert.True(server.Requests.TryDequeue(out var req));
        Assert.Equal("chunked", req.Headers["Transfer-Encoding"]);
        Assert.Equal(payload, req.Body);
    }

    [Fact]
    public void Multiplexed_frames_survive_arbitrary_chunk_boundaries()
    {
        var frames = new MemoryStream();
        frames.Write(FakeUnixServer.Frame(Multiplex.Stdout, "hello "u8));
        var binary = new byte[70_000];
        for (int i = 0; i < binary.Length; i++) binary[i] = (byte)(i * 7);
        frames.Write(FakeUnixServer.Frame(Multiplex.Stdout, binary));
        frames.Write(FakeUnixServer.Frame(Multiplex.Stderr, "oops\n"u8));
        frames.Write(FakeUnixServer.Frame(Multiplex.Stdout, ""u8));
        frames.Write(FakeUnixServer.Frame(Multiplex.System, "42"u8));
        byte[] all = frames.ToArray();

        using var server = new FakeUnixServer((req, s) =>
        {
            FakeUnixServer.StartChunked(s);
            // Odd sizes so that headers and payloads straddle chunks.
            int[] sizes = [3, 1, 7, 5000, 13];
            int pos = 0, k = 0;
            while (pos < all.Length)
            {
                int n = Math.Min(sizes[k++ % sizes.Length], all.Length - pos);
                FakeUnixServer.WriteChunk(s, all.AsSpan(pos, n));
                pos += n;
            }
            FakeUnixServer.EndChunked(s);
        });
        using var r = Client(server).Send("POST", "/containers/x/attach?stream=1&stdout=1&stderr=1");
        var stdout = new MemoryStream();
        var stderr = new MemoryStream();
        var end = MultiplexPump.Pump(r.Body, stdout, stderr);
        Assert.Equal(42, end?.StatusCode);
        Assert.Equal([.. "hello "u8.ToArray(), .. binary], stdout.ToArray());
        Assert.Equal("oops\n", Encoding.UTF8.GetString(stderr.ToArray()));
    }

    [Fact]
    public void Stream_ending_inside_a_frame_is_an_error()
    {
        var truncated = FakeUnixServer.Frame(Multiplex.Stdout, "hello"u8)[..10];
        Assert.Throws<IOException>(() => MultiplexPump.Pump(new MemoryStream(truncated), new MemoryStream(), new MemoryStream()));
        Assert.Throws<IOException>(() => MultiplexPump.Pump(new MemoryStream(truncated[..4]), new MemoryStream(), new MemoryStream()));
    }

    [Fact]
    public void Begin_lets_the_caller_read_the_answer_later()
    {
        var release = new ManualResetEventSlim();
        using var server = new FakeUnixServer((req, s) =>
        {
            release.Wait(TimeSpan.FromSeconds(30));
            FakeUnixServer.Respond(s, 200, "{\"StatusCode\":7}");
        });
        using var exchange = Client(server).Begin("POST", "/containers/x/wait?condition=next-exit");
        Assert.False(exchange.WaitForAnswer(TimeSpan.FromMilliseconds(50)));
        release.Set();
        Assert.True(exchange.WaitForAnswer(TimeSpan.FromSeconds(30)));
        using var r = exchange.ReadResponse();
        Assert.Equal("{\"StatusCode\":7}", r.ReadBodyString());
    }

    [Fact]
    public void Missing_socket_names_the_daemon_and_how_to_start_it()
    {
        var path = Path.Combine(Path.GetTempPath(), "gocker-missing-" + Guid.NewGuid().ToString("N") + ".sock");
        var e = Assert.Throws<DaemonUnreachableException>(() => new UnixHttpClient(path, "unix://" + path).Send("GET", "/_ping"));
        Assert.Equal($"Cannot connect to the Gocker daemon at unix://{path}. Is gockerd running? Start it with: gockerd [--host unix://{path}]", e.Message);
    }

    [Fact]
    public void Refused_connection_is_unreachable_too()
    {
        var dir = Directory.CreateTempSubdirectory("gocker-cli-test-").FullName;
        try
        {
            var path = Path.Combine(dir, "stale.sock");
            // A socket file left behind by a dead daemon: connect gets ECONNREFUSED. (.NET unlinks
            // the file it bound on dispose, so move it aside first.)
            using (var l = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
            {
                l.Bind(new UnixDomainSocketEndPoint(path + ".tmp"));
                File.Move(path + ".tmp", path);
            }
            Assert.True(File.Exists(path));
            var e = Assert.Throws<DaemonUnreachableException>(() => new UnixHttpClient(path, "unix://" + path).Send("GET", "/_ping"));
            Assert.Contains("Is gockerd running?", e.Message);
            Assert.Equal(SocketError.ConnectionRefused, ((SocketException)e.InnerException!).SocketErrorCode);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void Error_answer_carries_the_daemon_message_and_exit_code()
    {
        using var server = new FakeUnixServer((req, s) =>
            FakeUnixServer.Respond(s, 400, "{\"message\":\"exec: \\\"nope\\\": executable file not found\",\"ExitCode\":127}"));
        var client = new GockerClient(Client(server));
        var e = Assert.Throws<ApiException>(() => client.Start("x"));
        Assert.Equal(400, e.StatusCode);
        Assert.Equal(127, e.ExitCode);
        Assert.Equal("exec: \"nope\": executable file not found", e.Message);
    }

    [Fact]
    public void Error_answer_that_is_not_json_is_shown_as_text()
    {
        using var server = new FakeUnixServer((req, s) => FakeUnixServer.Respond(s, 500, "boom", "text/plain"));
        var e = Assert.Throws<ApiException>(() => new GockerClient(Client(server)).Stop("x", 1));
        Assert.Equal("boom", e.Message);
    }

    [Fact]
    public void Json_names_are_read_case_insensitively_like_go()
    {
        using var server = new FakeUnixServer((req, s) => FakeUnixServer.Respond(s, 201, "{\"id\":\"abc\",\"warnings\":[\"w\"]}"));
        var created = new GockerClient(Client(server)).Create(new ContainerCreateRequest { Image = "b" }, null);
        Assert.Equal("abc", created.Id);
        Assert.Equal(["w"], created.Warnings);
        Assert.True(server.Requests.TryDequeue(out var req));
        // Nulls are not sent.
        Assert.Equal("{\"Image\":\"b\",\"AttachStdin\":false,\"AttachStdout\":false,\"AttachStderr\":false,\"Tty\":false,\"OpenStdin\":false,\"StdinOnce\":false}", req.BodyText);
    }
}
