namespace Gocker.Host;

/// <summary>A synchronous write-only view of Kestrel's response body (which refuses synchronous I/O),
/// for writers like TarWriter. Used on a pool thread, never on a request thread.</summary>
internal sealed class SyncOverAsyncStream(Stream inner, CancellationToken aborted) : Stream
{
    public override void Write(byte[] buffer, int offset, int count) =>
        inner.WriteAsync(buffer.AsMemory(offset, count), aborted).AsTask().GetAwaiter().GetResult();

    public override void Write(ReadOnlySpan<byte> buffer) => Write(buffer.ToArray(), 0, buffer.Length);

    public override void Flush() => inner.FlushAsync(aborted).GetAwaiter().GetResult();

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
