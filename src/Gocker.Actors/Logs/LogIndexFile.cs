using System.Buffers.Binary;

namespace Gocker.Actors.Logs;

/// <summary>One chunk of output as the daemon saw it arrive: `Length` bytes of stream `Stream`
/// (1 stdout, 2 stderr) at `Offset` of that stream's log file, noticed at `UnixNanos`.
/// ContinuesLine: the first chunk of its stream in a generation whose line began in the previous
/// generation (a reader that did not read that one skips the fragment).</summary>
public readonly record struct LogChunk(byte Stream, long Offset, int Length, long UnixNanos, bool ContinuesLine = false)
{
    public long End => Offset + Length;
}

/// <summary>
/// A log generation's index (LogFiles: DataDir/log/G.idx; DataDir/log.idx before rotation): fixed-size little-endian records (offset 8, nanos 8, length 4,
/// stream 1, flags 1 (bit 0: ContinuesLine), 2 reserved), appended in the order the daemon saw the writes. Fixed size keeps a
/// torn record from a crash detectable (a partial tail is ignored and cut off before the next
/// append) and lets readers resume at a record number.
/// </summary>
public static class LogIndexFile
{
    public const int RecordSize = 24;
    public const string FileName = "log.idx";

    public static string PathFor(string dataDir) => Path.Combine(dataDir, FileName);

    public static void Encode(LogChunk c, Span<byte> dst)
    {
        BinaryPrimitives.WriteInt64LittleEndian(dst, c.Offset);
        BinaryPrimitives.WriteInt64LittleEndian(dst[8..], c.UnixNanos);
        BinaryPrimitives.WriteInt32LittleEndian(dst[16..], c.Length);
        dst[20] = c.Stream;
        dst[21] = c.ContinuesLine ? (byte)1 : (byte)0;
        dst[22] = dst[23] = 0;
    }

    public static LogChunk Decode(ReadOnlySpan<byte> src) =>
        new(src[20], BinaryPrimitives.ReadInt64LittleEndian(src), BinaryPrimitives.ReadInt32LittleEndian(src[16..]),
            BinaryPrimitives.ReadInt64LittleEndian(src[8..]), (src[21] & 1) != 0);

    /// <summary>Records from number `first` on (whole records only). A missing file has none.</summary>
    public static List<LogChunk> Read(string indexPath, long first = 0)
    {
        var result = new List<LogChunk>();
        // Checked first: a new container has no index yet, and the exception would cost every start.
        if (!File.Exists(indexPath)) return result;
        FileStream fs;
        try { fs = OpenRead(indexPath); }
        catch (FileNotFoundException) { return result; }
        catch (DirectoryNotFoundException) { return result; }
        using (fs) return Read(fs, first, fs.Length / RecordSize);
    }

    /// <summary>Records [first, end) of an open index (whole records only).</summary>
    public static List<LogChunk> Read(FileStream fs, long first, long end)
    {
        var result = new List<LogChunk>();
        end = Math.Min(end, fs.Length / RecordSize);
        if (first >= end) return result;
        fs.Seek(first * RecordSize, SeekOrigin.Begin);
        var buf = new byte[RecordSize * 1024];
        var left = end - first;
        while (left > 0)
        {
            var want = (int)Math.Min(left, 1024) * RecordSize;
            var got = fs.ReadAtLeast(buf.AsSpan(0, want), want, throwOnEndOfStream: false) / RecordSize * RecordSize;
            for (var i = 0; i < got; i += RecordSize) result.Add(Decode(buf.AsSpan(i, RecordSize)));
            if (got < want) break; // cut behind our back
            left -= want / RecordSize;
        }
        return result;
    }

    /// <summary>What is indexed so far: the end offset of each stream and the last timestamp, found
    /// by scanning back from the end (cheap even for a long-lived container).</summary>
    public static (long StdoutEnd, long StderrEnd, long LastNanos) Ends(string indexPath)
    {
        // Checked first: a new container has no index yet (the catch below is for a race with rm).
        if (!File.Exists(indexPath)) return (0, 0, 0);
        FileStream fs;
        try { fs = OpenRead(indexPath); }
        catch (FileNotFoundException) { return (0, 0, 0); }
        catch (DirectoryNotFoundException) { return (0, 0, 0); }
        using (fs) return Ends(fs);
    }

    /// <summary>Ends of an open index (see above).</summary>
    public static (long StdoutEnd, long StderrEnd, long LastNanos) Ends(FileStream fs)
    {
        long outEnd = -1, errEnd = -1, last = 0;
        {
            var count = fs.Length / RecordSize;
            var buf = new byte[RecordSize * 256];
            var pos = count;
            while (pos > 0 && (outEnd < 0 || errEnd < 0))
            {
                var n = (int)Math.Min(pos, 256);
                pos -= n;
                fs.Seek(pos * RecordSize, SeekOrigin.Begin);
                fs.ReadExactly(buf, 0, n * RecordSize);
                for (var i = n - 1; i >= 0; i--)
                {
                    var c = Decode(buf.AsSpan(i * RecordSize, RecordSize));
                    if (last == 0) last = c.UnixNanos;
                    if (c.Stream == 1 && outEnd < 0) outEnd = c.End;
                    if (c.Stream == 2 && errEnd < 0) errEnd = c.End;
                }
            }
        }
        return (Math.Max(outEnd, 0), Math.Max(errEnd, 0), last);
    }

    /// <summary>Appends records; first cuts off a torn record left by a crash mid-append.</summary>
    public static void Append(string indexPath, IReadOnlyList<LogChunk> chunks)
    {
        if (chunks.Count == 0) return;
        using var fs = new FileStream(indexPath, new FileStreamOptions
        {
            Mode = FileMode.OpenOrCreate, Access = FileAccess.Write, Share = FileShare.ReadWrite | FileShare.Delete,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        });
        var whole = fs.Length / RecordSize * RecordSize;
        if (whole != fs.Length) fs.SetLength(whole);
        fs.Seek(whole, SeekOrigin.Begin);
        var buf = new byte[chunks.Count * RecordSize];
        for (var i = 0; i < chunks.Count; i++) Encode(chunks[i], buf.AsSpan(i * RecordSize, RecordSize));
        fs.Write(buf);
    }

    public static FileStream OpenRead(string path) =>
        new(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.None);
}
