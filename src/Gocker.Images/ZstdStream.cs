using System.Diagnostics;

namespace Gocker.Images;

/// <summary>Decompresses zstd by piping through the host's `zstd -dc` (the BCL has no zstd decoder and
/// Gocker adds no package for it). Without a zstd binary, zstd layers are refused with a clear message.</summary>
internal sealed class ZstdStream : Stream
{
    static readonly string[] Candidates = ["/usr/bin/zstd", "/bin/zstd", "/usr/local/bin/zstd"];
    readonly Process _process;
    readonly Task _pump;
    readonly Stream _out;

    public static bool IsZstd(ReadOnlySpan<byte> head) => head is [0x28, 0xB5, 0x2F, 0xFD, ..];

    public ZstdStream(Stream compressed)
    {
        var exe = Candidates.FirstOrDefault(File.Exists)
                  ?? throw new UnsafeArchiveException("layer is zstd-compressed and no zstd program is installed (apt-get install zstd)");
        var psi = new ProcessStartInfo(exe, ["-dc", "-q"])
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        _process = Process.Start(psi) ?? throw new IOException("cannot start zstd");
        _out = _process.StandardOutput.BaseStream;
        var stdin = _process.StandardInput.BaseStream;
        _pump = Task.Run(() =>
        {
            try { compressed.CopyTo(stdin); }
            catch (IOException) { } // zstd stopped reading (bad data): its exit status says why
            finally { try { stdin.Dispose(); } catch (IOException) { } }
        });
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int n = _out.Read(buffer);
        if (n == 0 && buffer.Length > 0)
        {
            _pump.GetAwaiter().GetResult();
            _process.WaitForExit();
            if (_process.ExitCode != 0)
                throw new InvalidDataException($"zstd: {_process.StandardError.ReadToEnd().Trim()} (exit {_process.ExitCode})");
        }
        return n;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            try { if (!_process.HasExited) _process.Kill(); } catch (InvalidOperationException) { }
            try { _pump.Wait(); } catch (AggregateException) { }
            _process.WaitForExit();
            _process.Dispose();
        }
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
