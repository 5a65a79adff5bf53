using System.Net.Sockets;
using System.Text;
using Gocker.Cli;
using Gocker.Cli.Http;

namespace Gocker.Tests.Cli;

/// <summary>The console's raw-fd Unix socket against a real listening socket (System.Net.Sockets on
/// the test's side).</summary>
public sealed class UnixSocketTests : IDisposable
{
    static readonly TimeSpan Long = TimeSpan.FromSeconds(30);

    readonly string _dir = Directory.CreateTempSubdirectory("gocker-unixsock-").FullName;
    readonly string _path;
    readonly Socket _listener;

    public UnixSocketTests()
    {
        _path = Path.Combine(_dir, "s.sock");
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _listener.Bind(new UnixDomainSocketEndPoint(_path));
        _listener.Listen(4);
    }

    public void Dispose()
    {
        _listener.Dispose();
        Directory.Delete(_dir, true);
    }

    (UnixSocket Client, Socket Server) Pair()
    {
        var client = UnixSocket.Connect(_path);
        return (client, _listener.Accept());
    }

    static byte[] ReadExactly(Socket s, int n)
    {
        var buf = new byte[n];
        int got = 0;
        while (got < n)
        {
            int r = s.Receive(buf.AsSpan(got));
            Assert.NotEqual(0, r);
            got += r;
        }
        return buf;
    }

    [Fact]
    public void Sends_and_receives_both_ways()
    {
        var (client, server) = Pair();
        using (client)
        using (server)
        {
            client.Send("hello"u8);
            Assert.Equal("hello", Encoding.ASCII.GetString(ReadExactly(server, 5)));
            server.Send("world!"u8);
            var buf = new byte[64];
            int got = 0;
            while (got < 6) got += client.Receive(buf.AsSpan(got));
            Assert.Equal("world!", Encoding.ASCII.GetString(buf, 0, got));
        }
    }

    [Fact]
    public void Large_send_arrives_whole_across_partial_writes()
    {
        // Far more than the socket buffer: send(2) returns short and the loop must carry on.
        var payload = new byte[4 * 1024 * 1024 + 13];
        new Random(7).NextBytes(payload);
        var (client, server) = Pair();
        using (client)
        using (server)
        {
            byte[]? received = null;
            var reader = new Thread(() => received = ReadExactly(server, payload.Length));
            reader.Start();
            client.Send(payload);
            Assert.True(reader.Join(Long));
            Assert.Equal(payload, received);
        }
    }

    [Fact]
    public void Receive_returns_zero_when_the_peer_closes()
    {
        var (client, server) = Pair();
        using (client)
        {
            server.Send("x"u8);
            server.Dispose();
            var buf = new byte[16];
            Assert.Equal(1, client.Receive(buf));
            Assert.Equal(0, client.Receive(buf));
            Assert.Equal(0, client.Receive(buf));
        }
    }

    [Fact]
    public void Poll_times_out_without_data_and_sees_data_and_eof()
    {
        var (client, server) = Pair();
        using (client)
        {
            Assert.False(client.Poll(TimeSpan.FromMilliseconds(20)));
            Assert.False(client.Poll(TimeSpan.Zero));
            server.Send("y"u8);
            Assert.True(client.Poll(Long));
            Assert.Equal(1, client.Receive(new byte[4]));
            Assert.False(client.Poll(TimeSpan.Zero));
            server.Dispose();
            Assert.True(client.Poll(Long)); // EOF is readable
            Assert.Equal(0, client.Receive(new byte[4]));
        }
    }

    [Fact]
    public void Shutdown_write_is_seen_by_the_peer_and_reads_go_on()
    {
        var (client, server) = Pair();
        using (client)
        using (server)
        {
            client.Send("in"u8);
            client.ShutdownWrite();
            Assert.Equal("in", Encoding.ASCII.GetString(ReadExactly(server, 2)));
            Assert.Equal(0, server.Receive(new byte[4])); // the half-close
            server.Send("out"u8);
            var buf = new byte[8];
            int got = 0;
            while (got < 3) got += client.Receive(buf.AsSpan(got));
            Assert.Equal("out", Encoding.ASCII.GetString(buf, 0, got));
            Assert.Throws<IOException>(() => client.Send("more"u8)); // EPIPE: an error, not a signal
        }
    }

    [Fact]
    public void Shutdown_both_wakes_a_read_blocked_on_another_thread()
    {
        var (client, server) = Pair();
        using (client)
        using (server)
        {
            int? result = null;
            var reader = new Thread(() => result = client.Receive(new byte[16]));
            reader.Start();
            client.ShutdownBoth();
            Assert.True(reader.Join(Long));
            Assert.Equal(0, result);
            Assert.Equal(0, server.Receive(new byte[4])); // the peer sees EOF too
        }
    }

    [Fact]
    public void Dispose_wakes_a_blocked_read_and_later_calls_fail_cleanly()
    {
        var (client, server) = Pair();
        using (server)
        {
            Exception? error = null;
            int? result = null;
            var reader = new Thread(() =>
            {
                try { result = client.Receive(new byte[16]); }
                catch (Exception e) { error = e; }
            });
            reader.Start();
            client.Dispose();
            Assert.True(reader.Join(Long));
            // Either the read was in flight (woken: EOF) or it had not started (disposed).
            Assert.True(result == 0 || error is ObjectDisposedException, $"result {result}, error {error}");
            client.Dispose(); // twice is fine
            Assert.Throws<ObjectDisposedException>(() => client.Send("x"u8));
            Assert.Throws<ObjectDisposedException>(() => client.Receive(new byte[1]));
            Assert.Throws<ObjectDisposedException>(() => client.Poll(TimeSpan.Zero));
            Assert.Throws<ObjectDisposedException>(() => client.ShutdownWrite());
            Assert.Equal(0, server.Receive(new byte[4]));
        }
    }

    [Fact]
    public void Dispose_wakes_a_send_blocked_on_a_full_buffer()
    {
        var (client, server) = Pair();
        using (server)
        {
            Exception? error = null;
            // The peer never reads: the send fills the buffers and blocks.
            var sender = new Thread(() =>
            {
                try { client.Send(new byte[16 * 1024 * 1024]); }
                catch (Exception e) { error = e; }
            });
            sender.Start();
            client.Dispose();
            Assert.True(sender.Join(Long));
            Assert.True(error is IOException or ObjectDisposedException, $"error {error}");
        }
    }

    [Fact]
    public void Send_to_a_closed_peer_is_an_io_exception()
    {
        var (client, server) = Pair();
        using (client)
        {
            server.Dispose();
            var e = Assert.Throws<IOException>(() =>
            {
                for (int i = 0; i < 100; i++) client.Send(new byte[64 * 1024]);
            });
            Assert.StartsWith("send: ", e.Message);
        }
    }

    [Fact]
    public void Connect_to_a_missing_path_names_it()
    {
        var missing = Path.Combine(_dir, "missing.sock");
        var e = Assert.Throws<SocketException>(() => UnixSocket.Connect(missing));
        Assert.Equal(SocketError.AddressNotAvailable, e.SocketErrorCode);
        Assert.Contains(missing, e.Message);
        Assert.Contains("No such file or directory", e.Message);
    }

    [Fact]
    public void Connect_to_a_regular_file_is_refused()
    {
        var file = Path.Combine(_dir, "plain");
        File.WriteAllText(file, "not a socket");
        var e = Assert.Throws<SocketException>(() => UnixSocket.Connect(file));
        Assert.Equal(SocketError.ConnectionRefused, e.SocketErrorCode);
        Assert.Contains(file, e.Message);
    }

    [Fact]
    public void Connect_to_a_socket_nobody_listens_on_is_refused()
    {
        var stale = Path.Combine(_dir, "stale.sock");
        using (var l = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            l.Bind(new UnixDomainSocketEndPoint(stale + ".tmp"));
            File.Move(stale + ".tmp", stale); // .NET unlinks what it bound on dispose
        }
        var e = Assert.Throws<SocketException>(() => UnixSocket.Connect(stale));
        Assert.Equal(SocketError.ConnectionRefused, e.SocketErrorCode);
    }

    [Fact]
    public void A_path_longer_than_a_socket_address_is_refused_up_front()
    {
        var tooLong = "/tmp/" + new string('a', UnixSocket.MaxPathBytes - 4);
        var e = Assert.Throws<ArgumentException>(() => UnixSocket.Connect(tooLong));
        Assert.Contains($"is {UnixSocket.MaxPathBytes + 1} bytes long", e.Message);
        Assert.Throws<ArgumentException>(() => UnixSocket.Connect(""));
        Assert.Throws<ArgumentException>(() => UnixSocket.Connect("/tmp/a\0b"));
    }

    [Fact]
    public void The_longest_path_that_fits_connects()
    {
        // Exactly MaxPathBytes (107, its NUL fills sun_path): the limit .NET's endpoint had too.
        var dir = _dir;
        var name = new string('b', UnixSocket.MaxPathBytes - dir.Length - 1);
        var path = Path.Combine(dir, name);
        Assert.Equal(UnixSocket.MaxPathBytes, Encoding.UTF8.GetByteCount(path));
        using var l = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        l.Bind(new UnixDomainSocketEndPoint(path));
        l.Listen(1);
        using var client = UnixSocket.Connect(path);
        using var server = l.Accept();
        client.Send("z"u8);
        Assert.Equal("z", Encoding.ASCII.GetString(ReadExactly(server, 1)));
    }

    [Fact]
    public void Console_gives_a_usage_error_for_a_host_path_too_long()
    {
        var uri = "unix:///" + new string('c', UnixSocket.MaxPathBytes);
        var e = Assert.Throws<UsageException>(() => HostAddress.Resolve(uri, _ => null));
        Assert.Contains("bytes long", e.Message);
    }

    [Fact]
    public void Http_client_on_a_regular_file_is_daemon_unreachable()
    {
        var file = Path.Combine(_dir, "plain");
        File.WriteAllText(file, "");
        var e = Assert.Throws<DaemonUnreachableException>(() => new UnixHttpClient(file, "unix://" + file).Send("GET", "/_ping"));
        Assert.Equal($"Cannot connect to the Gocker daemon at unix://{file}. Is gockerd running? Start it with: gockerd [--host unix://{file}]", e.Message);
        Assert.IsType<SocketException>(e.InnerException);
    }
}
