using System.Buffers;
using System.Globalization;
using System.Text;
using Gocker.Api;

namespace Gocker.Actors.Logs;

/// <summary>
/// Reads a container's log (LogFiles) generation after generation and writes stdout and stderr
/// merged in index order as Docker multiplexed frames (or raw, a tty's single stream), optionally
/// from the last N lines of the merged stream, only chunks logged within [since, until], and with
/// each line prefixed by the RFC3339Nano time of the chunk in which it began (Docker's `-t`). A line
/// is a run of bytes ending in '\n' or at the end of what is logged.
/// A generation's index and data files are opened together and kept open while it is read, so its
/// deletion by a rotation does not cut the reader short. At the end of generation G the reader goes
/// on to the next one only once it exists (the writer creates it after G's last record), after
/// reading G once more: nothing is lost or repeated across a rotation. Generations rotated away
/// before the reader got to them are skipped.
/// </summary>
public sealed class LogReader : IDisposable
{
    readonly string _dataDir;
    readonly bool[] _want;
    readonly bool _timestamps;
    readonly bool _raw;
    readonly long _since, _until;
    Generation? _cur;
    long _next;
    readonly long[] _start = new long[2];
    readonly bool[] _atLineStart = [true, true];
    /// <summary>Per stream: the reader starts where older generations were rotated away, so the
    /// first chunk, if it continues a line begun there, is a fragment to skip up to its end.</summary>
    readonly bool[] _skipFragment = new bool[2];
    /// <summary>Per stream: inside a fragment being skipped (until the next '\n').</summary>
    readonly bool[] _skipping = new bool[2];
    LogPosition? _limit;

    /// <param name="sinceNanos">Only chunks logged at or after this (unix ns).</param>
    /// <param name="untilNanos">Only chunks logged at or before this (unix ns).</param>
    public LogReader(string dataDir, bool stdout, bool stderr, bool timestamps, bool raw = false, long sinceNanos = long.MinValue, long untilNanos = long.MaxValue)
    {
        _dataDir = dataDir;
        _want = [stdout, stderr];
        _timestamps = timestamps;
        _raw = raw;
        _since = sinceNanos;
        _until = untilNanos;
    }

    /// <summary>The generation being read (0: none yet).</summary>
    public long CurrentGeneration => _cur?.Gen ?? 0;

    /// <summary>Reads no further than what is logged now (`logs` without -f).</summary>
    public void StopAtCurrentEnd() => _limit = LogFiles.End(_dataDir);

    /// <summary>Starts at a position (an attached client: LogFiles.End when it attached). The files
    /// of that generation are opened now, if it exists yet.</summary>
    public void Seek(LogPosition p)
    {
        _cur?.Dispose();
        _cur = null;
        _next = p.Record;
        _start[0] = _start[1] = 0;
        _atLineStart[0] = _atLineStart[1] = true;
        _cur = Generation.Open(_dataDir, p.Gen);
        if (_cur is null) { _pendingGen = p.Gen; _next = 0; }
    }

    long _pendingGen;

    /// <summary>Starts at the first record of the oldest generation (tail null), or at the start of
    /// the last `tail` lines over the selected streams.</summary>
    public void SeekTail(int? tail)
    {
        _cur?.Dispose();
        _cur = null;
        _next = 0;
        _start[0] = _start[1] = 0;
        var gens = LogFiles.Generations(_dataDir);
        if (tail is not int n)
        {
            OpenFirst(gens, 0);
            _skipFragment[0] = _skipFragment[1] = true;
            return;
        }
        var remaining = n;
        for (var gi = gens.Count - 1; gi >= 0 && remaining > 0; gi--)
        {
            if (_limit is { } lim && gens[gi] > lim.Gen) continue; // begun after StopAtCurrentEnd
            var g = Generation.Open(_dataDir, gens[gi]);
            if (g is null) continue;
            var chunks = g.Read(0, _limit is { } l && l.Gen == g.Gen ? l.Record : long.MaxValue);
            var (first, starts, seen) = TailIn(g, chunks, remaining);
            if (seen >= remaining)
            {
                _cur = g;
                _next = first;
                for (var s = 0; s < 2; s++) _start[s] = starts[s];
                for (var s = 0; s < 2; s++) _atLineStart[s] = _start[s] == 0 || ByteAt(s, _start[s] - 1) == '\n';
                return;
            }
            remaining -= seen;
            g.Dispose();
        }
        if (n == 0) { OpenLast(gens); return; }
        OpenFirst(gens, 0);
        _skipFragment[0] = _skipFragment[1] = true;
    }

    void OpenFirst(List<long> gens, int from)
    {
        for (var i = from; i < gens.Count && _cur is null; i++) _cur = Generation.Open(_dataDir, gens[i]);
    }

    /// <summary>--tail 0: nothing of what is there; what comes next, if following.</summary>
    void OpenLast(List<long> gens)
    {
        for (var i = gens.Count - 1; i >= 0 && _cur is null; i--) _cur = Generation.Open(_dataDir, gens[i]);
        if (_cur is not null) _next = _cur.Records;
    }

    bool InRange(LogChunk c) => c.UnixNanos >= _since && c.UnixNanos <= _until;

    /// <summary>Where the last `n` lines of one generation begin: the first record to write, the
    /// start offset of each stream, and how many lines were found (fewer than n: all of them).</summary>
    (long First, long[] Starts, int Seen) TailIn(Generation g, List<LogChunk> chunks, int n)
    {
        var ends = new long[2];
        foreach (var c in chunks) if (c.Stream is 1 or 2) ends[c.Stream - 1] = Math.Max(ends[c.Stream - 1], c.End);
        var starts = new long[] { long.MaxValue, long.MaxValue };
        var seen = 0;
        var first = (long)chunks.Count;
        for (var i = chunks.Count - 1; i >= 0 && seen < n; i--)
        {
            var c = chunks[i];
            if (c.Stream is not (1 or 2) || !_want[c.Stream - 1] || !InRange(c)) continue;
            var s = c.Stream - 1;
            foreach (var p in LineStartsBackward(g, s, c))
            {
                starts[s] = p;
                first = i;
                if (++seen == n) break;
            }
        }
        if (seen < n) return (0, [0, 0], seen);
        for (var s = 0; s < 2; s++) if (starts[s] == long.MaxValue) starts[s] = ends[s];
        return (first, starts, seen);
    }

    /// <summary>Positions in the chunk where a line begins, last first.</summary>
    static IEnumerable<long> LineStartsBackward(Generation g, int s, LogChunk c)
    {
        var f = g.Data[s];
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
            var got = f.ReadAtLeast(buf.AsSpan(0, n), n, throwOnEndOfStream: false);
            if (got < n) yield break; // cut behind our back
            for (var k = n - 1; k >= 0; k--)
                if (buf[k] == '\n' && from + k + 1 >= c.Offset) yield return from + k + 1;
            hi = from;
        }
        if (c.Offset == 0 && !c.ContinuesLine) yield return 0;
    }

    /// <summary>Writes everything logged beyond the reader's position (up to StopAtCurrentEnd's
    /// limit), going on through newer generations. True when it wrote or moved on.</summary>
    public async Task<bool> PumpAsync(Stream output, CancellationToken ct)
    {
        var progressed = false;
        while (true)
        {
            if (_cur is null)
            {
                if (!OpenNext()) return progressed;
                progressed = true;
            }
            var cur = _cur!;
            var end = _limit is { } l && l.Gen == cur.Gen ? l.Record : long.MaxValue;
            if (_limit is { } l2 && cur.Gen > l2.Gen) return progressed;
            var count = Math.Min(cur.Records, end);
            if (_next < count)
            {
                var batch = cur.Read(_next, Math.Min(count, _next + 4096));
                if (batch.Count == 0) return progressed; // its index was cut
                await WriteChunks(output, cur, batch, ct);
                _next += batch.Count;
                progressed = true;
                continue;
            }
            if (end != long.MaxValue) return progressed; // the limit's generation is done
            var newer = LogFiles.Generations(_dataDir).Where(g => g > cur.Gen).ToList();
            if (newer.Count == 0) return progressed;
            // G+1 exists, so G is complete: what G got just before that is read first.
            if (cur.Records > _next) continue;
            cur.Dispose();
            _cur = null;
            _pendingGen = newer[0];
            _next = 0;
            _start[0] = _start[1] = 0;
        }
    }

    /// <summary>Opens the generation the reader waits for (or the first newer one that exists).</summary>
    bool OpenNext()
    {
        var want = _pendingGen;
        foreach (var g in LogFiles.Generations(_dataDir))
        {
            if (g < want) continue;
            if (_limit is { } l && g > l.Gen) return false;
            if (Generation.Open(_dataDir, g) is { } opened)
            {
                if (g != want)
                {
                    _next = 0; // the one waited for was rotated away unread
                    _skipFragment[0] = _skipFragment[1] = true;
                }
                _cur = opened;
                _pendingGen = 0;
                return true;
            }
        }
        return false;
    }

    async Task WriteChunks(Stream output, Generation g, List<LogChunk> chunks, CancellationToken ct)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        var frame = ArrayPool<byte>.Shared.Rent(Multiplex.HeaderSize + 64 * 1024 * 2);
        try
        {
            foreach (var c in chunks)
            {
                if (c.Stream is not (1 or 2) || !_want[c.Stream - 1] || !InRange(c)) continue;
                var s = c.Stream - 1;
                if (_skipFragment[s])
                {
                    _skipFragment[s] = false;
                    _skipping[s] = c.ContinuesLine;
                }
                var pos = Math.Max(c.Offset, _start[s]);
                if (pos >= c.End) continue;
                var f = g.Data[s];
                if (f is null) continue;
                if (_skipping[s])
                {
                    // The rest of a line whose start was rotated away: not a line of its own.
                    pos = SkipFragment(f, s, pos, c.End);
                    _start[s] = pos;
                    if (pos >= c.End) continue;
                }
                var stamp = _timestamps ? Encoding.ASCII.GetBytes(FormatNanos(c.UnixNanos) + " ") : [];
                var header = _raw ? 0 : Multiplex.HeaderSize;
                f.Seek(pos, SeekOrigin.Begin);
                while (pos < c.End)
                {
                    var want = (int)Math.Min(c.End - pos, _timestamps ? 16 * 1024 : 64 * 1024);
                    var got = f.ReadAtLeast(buffer.AsSpan(0, want), want, throwOnEndOfStream: false);
                    if (got <= 0) break; // the file was cut behind our back
                    var len = header;
                    for (var k = 0; k < got; k++)
                    {
                        if (_atLineStart[s] && stamp.Length > 0)
                        {
                            // Worst case a stamp per byte ("\n\n\n..."): flush before overflowing.
                            if (len + stamp.Length + 1 > frame.Length) { await Emit(output, frame, s, len, header, ct); len = header; }
                            stamp.CopyTo(frame, len);
                            len += stamp.Length;
                        }
                        if (len + 1 > frame.Length) { await Emit(output, frame, s, len, header, ct); len = header; }
                        frame[len++] = buffer[k];
                        _atLineStart[s] = buffer[k] == '\n';
                    }
                    await Emit(output, frame, s, len, header, ct);
                    pos += got;
                }
                _start[s] = pos;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            ArrayPool<byte>.Shared.Return(frame);
        }
    }

    /// <summary>Skips to just after the next '\n' in [pos, end) (ends skipping) or to end.</summary>
    long SkipFragment(FileStream f, int s, long pos, long end)
    {
        var buf = new byte[8192];
        f.Seek(pos, SeekOrigin.Begin);
        while (pos < end)
        {
            var got = f.Read(buf, 0, (int)Math.Min(buf.Length, end - pos));
            if (got <= 0) return end;
            var nl = Array.IndexOf(buf, (byte)'\n', 0, got);
            if (nl >= 0)
            {
                _skipping[s] = false;
                return pos + nl + 1;
            }
            pos += got;
        }
        return pos;
    }

    static async Task Emit(Stream output, byte[] frame, int s, int len, int header, CancellationToken ct)
    {
        if (len <= header) return;
        if (header > 0) Multiplex.WriteHeader(frame, (byte)(s + 1), len - header);
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
        var f = _cur?.Data[s];
        if (f is null) return -1;
        f.Seek(pos, SeekOrigin.Begin);
        return f.ReadByte();
    }

    public void Dispose() => _cur?.Dispose();

    /// <summary>One generation's files, open.</summary>
    sealed class Generation : IDisposable
    {
        public long Gen { get; private init; }
        FileStream _idx = null!;
        public FileStream?[] Data { get; } = new FileStream?[2];

        public static Generation? Open(string dataDir, long gen)
        {
            FileStream idx;
            try { idx = OpenRead(LogFiles.Index(dataDir, gen)); }
            catch (FileNotFoundException) { return null; }
            catch (DirectoryNotFoundException) { return null; }
            var g = new Generation { Gen = gen, _idx = idx };
            for (var s = 0; s < 2; s++)
            {
                try { g.Data[s] = OpenRead(LogFiles.Data(dataDir, gen, s + 1)); }
                catch (FileNotFoundException) { }
                catch (DirectoryNotFoundException) { }
            }
            return g;
        }

        // FileShare.Delete: a rotation or `rm` may unlink the files while we read them.
        static FileStream OpenRead(string path) =>
            new(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.None);

        public long Records => _idx.Length / LogIndexFile.RecordSize;

        public List<LogChunk> Read(long first, long end) => LogIndexFile.Read(_idx, first, end);

        public void Dispose()
        {
            _idx.Dispose();
            foreach (var f in Data) f?.Dispose();
        }
    }
}
