using System.Security.Cryptography;

namespace Gocker.Images;

/// <summary>A read-only pass-through that hashes (SHA-256) and counts every byte read from the source,
/// refusing to read past a size limit. Supports peeking at the first bytes (gzip detection) without
/// consuming them.</summary>
internal sealed class HashingReadStream(Stream inner, long maxBytes) : Stream
{
    readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    byte[] _pushback = [];
    int _pushbackPos;

    public long BytesRead { get; private set; }

    /// <summary>Called with the count of every read from the source.</summary>
    public Action<long>? Progress { get; init; }

    /// <summary>Returns up to count leading bytes; they are still returned by the next reads.</summary>
    public ReadOnlySpan<byte> Peek(int count)
    {
        var buf = new byte[count];
        int n = 0;
        while (n < count)
        {
            int r = ReadInner(buf.AsSpan(n));
            if (r == 0) break;
            n += r;
        }
        _pushback = buf[..n];
        _pushbackPos = 0;
        return _pushback;
    }

    /// <summary>True once a read of the source failed (or hit the limit): errors seen downstream are then
    /// this stream's, not the content's.</summary>
    public bool Failed { get; private set; }

    int ReadInner(Span<byte> buffer)
    {
        int n;
        try { n = inner.Read(buffer); }
        catch { Failed = true; throw; }
        if (n > 0)
        {
            BytesRead += n;
            if (BytesRead > maxBytes)
            {
                Failed = true;
                throw new UnsafeArchiveException($"archive is larger than the limit of {maxBytes} bytes");
            }
            _hash.AppendData(buffer[..n]);
            Progress?.Invoke(n);
        }
        return n;
    }

    public override int Read(Span<byte> buffer)
    {
        if (_pushbackPos < _pushback.Length)
        {
            int n = Math.Min(buffer.Length, _pushback.Length - _pushbackPos);
            _pushback.AsSpan(_pushbackPos, n).CopyTo(buffer);
            _pushbackPos += n;
            return n;
        }
        return ReadInner(buffer);
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    /// <summary>Reads the rest of the source so the hash covers the whole archive.</summary>
    public void Drain()
    {
        var buf = new byte[81920];
        while (Read(buf) > 0) { }
    }

    /// <summary>"sha256:&lt;hex&gt;" of everything read so far.</summary>
    public string Id() => "sha256:" + Convert.ToHexStringLower(_hash.GetCurrentHash());

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => BytesRead; set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing) _hash.Dispose();
        base.Dispose(disposing);
    }
}
