using System.Globalization;

namespace Gocker.Cli.Http;

/// <summary>Read-only stream over a response body; the framing (length, chunked, until close)
/// is the subclass's concern.</summary>
internal abstract class BodyStream : Stream
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
    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));
    public abstract override int Read(Span<byte> buffer);
}

internal sealed class EmptyBody : BodyStream
{
    public static readonly EmptyBody Instance = new();
    public override int Read(Span<byte> buffer) => 0;
}

internal sealed class ContentLengthBody(SocketReader reader, long length) : BodyStream
{
    private long _remaining = length;

    public override int Read(Span<byte> buffer)
    {
        if (_remaining == 0 || buffer.IsEmpty) return 0;
        int n = reader.Read(buffer[..(int)Math.Min(buffer.Length, _remaining)]);
        if (n == 0) throw new IOException($"connection closed with {_remaining} body bytes unread");
        _remaining -= n;
        return n;
    }
}

internal sealed class UntilCloseBody(SocketReader reader) : BodyStream
{
    public override int Read(Span<byte> buffer) => reader.Read(buffer);
}

/// <summary>RFC 9112 §7.1 chunked transfer coding: "hex-size[;ext]CRLF data CRLF" ... "0CRLF [trailers] CRLF".</summary>
internal sealed class ChunkedBody(SocketReader reader) : BodyStream
{
    private long _chunkRemaining;
    private bool _done;

    public override int Read(Span<byte> buffer)
    {
        if (_done || buffer.IsEmpty) return 0;
        if (_chunkRemaining == 0)
        {
            _chunkRemaining = ReadChunkSize();
            if (_chunkRemaining == 0)
            {
                // Trailer fields (ignored) end with an empty line.
                while (true)
                {
                    string? trailer = reader.ReadLine() ?? throw new IOException("connection closed inside the chunked trailer");
                    if (trailer.Length == 0) break;
                }
                _done = true;
                return 0;
            }
        }
        int n = reader.Read(buffer[..(int)Math.Min(buffer.Length, _chunkRemaining)]);
        if (n == 0) throw new IOException("connection closed in the middle of a chunk");
        _chunkRemaining -= n;
        if (_chunkRemaining == 0)
        {
            string? crlf = reader.ReadLine();
            if (crlf is not "") throw new IOException("malformed chunked body: chunk data not followed by CRLF");
        }
        return n;
    }

    private long ReadChunkSize()
    {
        string line = reader.ReadLine() ?? throw new IOException("connection closed before the end of the chunked body");
        int semi = line.IndexOf(';');
        var hex = (semi < 0 ? line : line[..semi]).Trim();
        if (hex.Length == 0 || hex.Length > 15 ||
            !long.TryParse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out long size))
            throw new IOException($"malformed chunk size line '{line}'");
        return size;
    }
}
