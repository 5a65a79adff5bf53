using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;

namespace Gocker.Images.Registry;

/// <summary>Reads one blob from a registry, hashing every byte. A connection that drops (or stalls) is
/// reopened with "Range: bytes=N-" and the stream goes on where it broke; a registry that ignores the
/// Range and sends the whole blob again has the first N bytes skipped. Reading past the descriptor's
/// size, or an end whose digest differs, throws <see cref="DigestMismatchException"/>: the caller has
/// unpacked into a work dir it then removes, so nothing of such a blob stays.</summary>
internal sealed class BlobStream : Stream
{
    readonly RegistryClient _client;
    readonly RegistryReference _ref;
    readonly Descriptor _desc;
    readonly Action<long>? _progress;
    readonly CancellationToken _ct;
    readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    HttpResponseMessage? _resp;
    Stream? _body;
    long _pos;
    int _resumes;
    bool _verified;

    public BlobStream(RegistryClient client, RegistryReference r, Descriptor d, Action<long>? progress, CancellationToken ct)
    {
        if (!d.Digest.StartsWith("sha256:", StringComparison.Ordinal) || d.Digest.Length != 71)
            throw new RegistryException($"blob digest {d.Digest}: only sha256 digests are supported");
        _client = client; _ref = r; _desc = d; _progress = progress; _ct = ct;
    }

    /// <summary>How many times the download was resumed after a dropped connection.</summary>
    public int Resumes => _resumes;

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (buffer.Length == 0) return 0;
        // The unpacker reads synchronously on its own thread; the network side is async.
        var rented = System.Buffers.ArrayPool<byte>.Shared.Rent(buffer.Length);
        try
        {
            int n = ReadAsync(rented.AsMemory(0, buffer.Length), _ct).AsTask().GetAwaiter().GetResult();
            rented.AsSpan(0, n).CopyTo(buffer);
            return n;
        }
        finally { System.Buffers.ArrayPool<byte>.Shared.Return(rented); }
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
    {
        if (buffer.Length == 0 || _verified) return 0;
        while (true)
        {
            _ct.ThrowIfCancellationRequested();
            if (_body is null) await OpenAsync();
            int n;
            try
            {
                using var stall = CancellationTokenSource.CreateLinkedTokenSource(_ct, ct);
                stall.CancelAfter(_client.Options.StallTimeout);
                n = await _body!.ReadAsync(buffer, stall.Token);
            }
            catch (Exception ex) when (!_ct.IsCancellationRequested && !ct.IsCancellationRequested && ex is IOException or HttpRequestException or OperationCanceledException)
            {
                await DropAndWait(ex);
                continue;
            }
            if (n == 0)
            {
                if (_desc.Size > 0 && _pos < _desc.Size)
                {
                    // The body ended early: a proxy or the registry cut it. Resume.
                    await DropAndWait(new IOException($"connection closed after {_pos} of {_desc.Size} bytes"));
                    continue;
                }
                Verify();
                return 0;
            }
            if (_desc.Size > 0 && _pos + n > _desc.Size)
                throw new DigestMismatchException($"blob {_desc.Digest} from {_ref.Registry}/{_ref.Repository}: more bytes than its size {_desc.Size}: refused");
            _pos += n;
            _hash.AppendData(buffer.Span[..n]);
            _progress?.Invoke(n);
            if (_desc.Size > 0 && _pos == _desc.Size) Verify(); // the last byte: no need to wait for the close
            return n;
        }
    }

    void Verify()
    {
        if (_verified) return;
        var hex = "sha256:" + Convert.ToHexStringLower(_hash.GetCurrentHash());
        if (hex != _desc.Digest)
            throw new DigestMismatchException($"blob {_desc.Digest} from {_ref.Registry}/{_ref.Repository}: digest mismatch: the content is {hex}: refused");
        _verified = true;
        CloseBody();
    }

    async Task DropAndWait(Exception why)
    {
        CloseBody();
        if (++_resumes >= _client.Options.Attempts)
            throw new RegistryException($"blob {_desc.Digest} from {_ref.Registry}/{_ref.Repository}: download failed after {_resumes} attempts at byte {_pos}: {why.Message}", 0, why);
        await Task.Delay(TimeSpan.FromMilliseconds(_client.Options.FirstBackoff.TotalMilliseconds * Math.Pow(2, _resumes - 1)), _ct);
    }

    async Task OpenAsync()
    {
        var url = _client.BlobUrl(_ref, _desc.Digest);
        long from = _pos;
        var resp = await _client.SendAsync(_ref.Registry, _ref.Repository, "pull", () =>
        {
            var req = new HttpRequestMessage(HttpMethod.Get, url);
            if (from > 0) req.Headers.Range = new RangeHeaderValue(from, null);
            return req;
        }, _ct);
        if (!resp.IsSuccessStatusCode)
        {
            using (resp) throw await RegistryClient.Failure(resp, _ref.Registry, "blob " + _desc.Digest);
        }
        var body = await resp.Content.ReadAsStreamAsync(_ct);
        if (from > 0 && resp.StatusCode != HttpStatusCode.PartialContent)
        {
            // No Range support: the whole blob again; skip what was hashed already.
            var skip = new byte[81920];
            for (long left = from; left > 0;)
            {
                int n = await body.ReadAsync(skip.AsMemory(0, (int)Math.Min(skip.Length, left)), _ct);
                if (n == 0) { resp.Dispose(); throw new IOException($"blob {_desc.Digest}: the registry's body ended before byte {from}"); }
                left -= n;
            }
        }
        else if (from > 0 && resp.Content.Headers.ContentRange is { From: { } start } && start != from)
        {
            resp.Dispose();
            throw new RegistryException($"blob {_desc.Digest}: asked for bytes from {from}, the registry sent from {start}");
        }
        _resp = resp;
        _body = body;
    }

    void CloseBody()
    {
        _body?.Dispose();
        _resp?.Dispose();
        _body = null;
        _resp = null;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) { CloseBody(); _hash.Dispose(); }
        base.Dispose(disposing);
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => _desc.Size;
    public override long Position { get => _pos; set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
