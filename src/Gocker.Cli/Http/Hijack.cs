using System.Text;

namespace Gocker.Cli.Http;

/// <summary>
/// Docker's hijacked connection: a request with `Connection: Upgrade, Upgrade: tcp` answered 101,
/// after which the socket carries raw bytes both ways (stdin to the daemon; output, multiplexed or
/// raw, back). <see cref="CloseWrite"/> half-closes: the daemon sees stdin's EOF and keeps sending.
/// </summary>
public sealed class HijackedStream : Stream
{
    private readonly UnixSocket _socket;
    private readonly SocketReader _reader;

    internal HijackedStream(UnixSocket socket, SocketReader reader)
    {
        _socket = socket;
        _reader = reader;
    }

    /// <summary>Sends the request and reads the answer head. 101: the hijacked stream; 2xx without an
    /// upgrade: the body (output only); otherwise the daemon's error as <see cref="ApiException"/>.</summary>
    public static Stream Open(UnixHttpClient http, string method, string target)
    {
        var socket = http.Connect();
        try
        {
            // No body: Kestrel refuses an upgrade request that has one.
            var head = Encoding.ASCII.GetBytes($"{method} {target} HTTP/1.1\r\nHost: gocker\r\nUser-Agent: gocker-cli\r\n" +
                                               "Connection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n");
            socket.Send(head);
            var reader = new SocketReader(socket);
            var response = HttpResponse.Read(reader, method);
            if (response.StatusCode == 101) return new HijackedStream(socket, reader);
            GockerClient.EnsureSuccess(response);
            return new OwningStream(response);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public void CloseWrite()
    {
        try { _socket.ShutdownWrite(); }
        catch (IOException) { }
        catch (ObjectDisposedException) { }
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override int Read(byte[] buffer, int offset, int count) => _reader.Read(buffer.AsSpan(offset, count));
    public override int Read(Span<byte> buffer) => _reader.Read(buffer);
    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
    public override void Write(ReadOnlySpan<byte> buffer)
    {
        _socket.Send(buffer);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _socket.Dispose();
        base.Dispose(disposing);
    }

    /// <summary>A plain response body that closes its connection when disposed.</summary>
    private sealed class OwningStream(HttpResponse response) : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override int Read(byte[] buffer, int offset, int count) => response.Body.Read(buffer, offset, count);
        public override int Read(Span<byte> buffer) => response.Body.Read(buffer);
        protected override void Dispose(bool disposing)
        {
            if (disposing) response.Dispose();
            base.Dispose(disposing);
        }
    }
}
