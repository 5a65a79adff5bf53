using System.Buffers;
using System.Globalization;
using System.Text;
using Gocker.Api;

namespace Gocker.Actors.Logs;

/// <summary>
/// Writes a container's stdout and stderr merged in index order (see <see cref="LogIndexer"/>) as
/// Docker multiplexed frames, optionally limited to the last N lines of the merged stream and with
/// each line prefixed by the RFC3339Nano time of the chunk in which it began (Docker's `-t`).
/// A line is a run of bytes ending in '\n' or at the end of the indexed output.
/// </summary>
public sealed class LogReader : IDisposable
{
    readonly string[] _paths;
    readonly bool[] _want;
    readonly bool _timestamps;
    readonly FileStream?[] _files = new FileStream?[2];
    readonly long[] _start = new long[2];
    readonly bool[] _atLineStart = [true, true];

    public LogReader(string dataDir, bool stdout, bool stderr, bool timestamps)
    {
        _paths = [Path.Combine(dataDir, "stdout.log"), Path.Combine(dataDir, "stderr.log")];
        _want = [stdout, stderr];
        _timestamps = timestamps;
    }

    /// <summary>Chooses where output starts: everything (tail null), or the last `tail` lines over
    /// the selected streams. Returns the number of the first record to write.</summary>
    public int Begin(IReadOnlyList<LogChunk> chunks, int? tail)
    {
        var first = 0;
        if (tail is int n)
        {
            var ends = new long[2];
            foreach (var c in chunks) if (c.Stream is 1 or 2) ends[c.Stream - 1] = Math.Max(ends[c.Stream - 1], c.End);
            var starts = new long[] { long.MaxValue, long.MaxValue };
            var seen = 0;
            first = chunks.Count;
            for (var i = chunks.Count - 1; i >= 0 && seen < n; i--)
            {
                var c = chunks[i];
                if (c.Stream is not (1 or 2) || !_want[c.Stream - 1]) continue;
                var s = c.Stream - 1;
                foreach (var p in LineStartsBackward(s, c))
                {
                    starts[s] = p;
                    first = i;
                    if (++seen == n) break;
                }
            }
            if (seen < n) { first = 0; starts[0] = starts[1] = 0; }
            for (var s = 0; s < 2; s++) _start[s] = starts[s] == long.MaxValue ? ends[s] : starts[s];
        }
        for (var s = 0; s < 2; s++) _atLineStart[s] = _start[s] == 0 || ByteAt(s, _start[s] - 1) == '\n';
        return first;
    }

    /// <summary>Positions in the chunk where a line begins, last first.</summary>
    IEnumerable<long> LineStartsBackward(int s, LogChunk c)
    {
        var f = File(s);
        if (f is null) yield break;
        var buf = new byte[8192];
        // Position p starts a line when p == 0 or the byte at p-1 is '\n': scan [Offset-1, End-1).
        var hi = c.End - 1;
        var lo = Math.Max(c.Offset - 1, 0);
        while (hi > lo)
        {
            var n = (int)Math.Min(buf.Length, hi - lo);
            var from = hi - n;
            f.Seek(from, SeekOrigin.Begin);
            f.ReadExactly(buf, 0, n);
            for (var k = n - 1; k >= 0; k--)
                if (buf[k] == '\n' && from + k + 1 >= c.Offset) yield return from + k + 1;
            hi = from;
        }
        if (c.Offset == 0) yield return 0;
    }

    /// <summary>Writes chunks[first..] (clipped to the chosen start of each stream).</summary>
    public async Task WriteAsync(Stream output, IReadOnlyList<LogChunk> chunks, int first, CancellationToken ct)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        var frame = ArrayPool<byte>.Shared.Rent(Multiplex.HeaderSize + 64 * 1024 * 2);
        try
        {
            for (var i = first; i < chunks.Count; i++)
            {
                var c = chunks[i];
                if (c.Stream is not (1 or 2) || !_want[c.Stream - 1]) continue;
                var s = c.Stream - 1;
                var pos = Math.Max(c.Offset, _start[s]);
                if (pos >= c.End) continue;
                var f = File(s);
                if (f is null) continue;
                var stamp = _timestamps ? Encoding.ASCII.GetBytes(FormatNanos(c.UnixNanos) + " ") : [];
                f.Seek(pos, SeekOrigin.Begin);
                while (pos < c.End)
                {
                    var want = (int)Math.Min(c.End - pos, _timestamps ? 16 * 1024 : 64 * 1024);
                    var got = f.ReadAtLeast(buffer.AsSpan(0, want), want, throwOnEndOfStream: false);
                    if (got <= 0) break; // the file was cut behind our back
                    var len = Multiplex.HeaderSize;
                    for (var k = 0; k < got; k++)
                    {
                        if (_atLineStart[s] && stamp.Length > 0)
                        {
                            // Worst case a stamp per byte ("\n\n\n..."): flush before overflowing.
                            if (len + stamp.Length + 1 > frame.Length) { await Emit(output, frame, s, len, ct); len = Multiplex.HeaderSize; }
                            stamp.CopyTo(frame, len);
                            len += stamp.Length;
                        }
                        if (len + 1 > frame.Length) { await Emit(output, frame, s, len, ct); len = Multiplex.HeaderSize; }
                        frame[len++] = buffer[k];
                        _atLineStart[s] = buffer[k] == '\n';
                    }
                    await Emit(output, frame, s, len, ct);
                    pos += got;
                }
                _start[s] = pos;
            }
            await output.FlushAsync(ct);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            ArrayPool<byte>.Shared.Return(frame);
        }
    }

    static async Task Emit(Stream output, byte[] frame, int s, int len, CancellationToken ct)
    {
        if (len <= Multiplex.HeaderSize) return;
        Multiplex.WriteHeader(frame, (byte)(s + 1), len - Multiplex.HeaderSize);
        await output.WriteAsync(frame.AsMemory(0, len), ct);
    }

    /// <summary>Docker's RFC3339NanoFixed: always nine fraction digits, UTC.</summary>
    public static string FormatNanos(long unixNanos)
    {
        var secs = Math.DivRem(unixNanos, 1_000_000_000L, out var frac);
        var t = DateTime.UnixEpoch.AddSeconds(secs);
        return t.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture) + "." + frac.ToString("D9", CultureInfo.InvariantCulture) + "Z";
    }

    int ByteAt(int s, long pos)
    {
        var f = File(s);
        if (f is null) return -1;
        f.Seek(pos, SeekOrigin.Begin);
        return f.ReadByte();
    }

    FileStream? File(int s)
    {
        if (_files[s] is { } f) return f;
        try
        {
            // FileShare.Delete: `rm` of the container may unlink the file while we read it.
            return _files[s] = new FileStream(_paths[s], FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.None);
        }
        catch (FileNotFoundException) { return null; }
        catch (DirectoryNotFoundException) { return null; }
    }

    public void Dispose()
    {
        foreach (var f in _files) f?.Dispose();
    }
}
