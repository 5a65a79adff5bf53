namespace Gocker.Images;

/// <summary>A read-only pass-through that counts the bytes read and remembers whether the end of
/// the inner stream was seen: lets the unpacker tell an archive that simply ends after its last
/// entry (no end-of-archive blocks) from one cut short.</summary>
internal sealed class CountingReadStream(Stream inner) : Stream
{
    public long Total { get; private set; }
    public bool SawEnd { get; private set; }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var n = inner.Read(buffer);
        if (n == 0 && buffer.Length > 0) SawEnd = true;
        Total += n;
        return n;
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => Total; set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
