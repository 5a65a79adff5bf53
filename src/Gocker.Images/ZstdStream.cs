namespace Gocker.Images;

/// <summary>zstd layers (OCI's tar+zstd), decoded in process by ZstdSharp (a managed port of the
/// reference zstd): no host program, nothing forked per layer.</summary>
internal static class ZstdStream
{
    public static bool IsZstd(ReadOnlySpan<byte> head) => head is [0x28, 0xB5, 0x2F, 0xFD, ..];

    /// <summary>A decompressing reader over compressed (which it leaves open). Corrupt input fails a
    /// read with <see cref="InvalidDataException"/>, as GZipStream does, so callers treat both alike.</summary>
    public static Stream Open(Stream compressed) => new Decoder(compressed);

    sealed class Decoder(Stream compressed) : Stream
    {
        readonly ZstdSharp.DecompressionStream _inner = new(compressed, leaveOpen: true);

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            try { return _inner.Read(buffer); }
            catch (ZstdSharp.ZstdException ex) { throw new InvalidDataException($"zstd: {ex.Message}", ex); }
            catch (EndOfStreamException ex) { throw new InvalidDataException($"zstd: truncated frame: {ex.Message}", ex); }
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) _inner.Dispose();
            base.Dispose(disposing);
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
