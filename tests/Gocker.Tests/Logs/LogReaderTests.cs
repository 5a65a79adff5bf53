using System.Text;
using Gocker.Actors.Logs;
using Gocker.Api;

namespace Gocker.Tests.Logs;

/// <summary>LogReader on a log written before rotation (read as generation 0).</summary>
public sealed class LogReaderTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("gocker-logreader-").FullName;
    readonly List<LogChunk> _chunks = [];
    readonly long[] _ends = new long[2];
    long _t = 1_700_000_000_000_000_000;

    public void Dispose() => Directory.Delete(_dir, true);

    void Write(byte stream, string text)
    {
        var path = Path.Combine(_dir, stream == 1 ? "stdout.log" : "stderr.log");
        var bytes = Encoding.UTF8.GetBytes(text);
        using (var f = new FileStream(path, FileMode.Append)) f.Write(bytes);
        _chunks.Add(new LogChunk(stream, _ends[stream - 1], bytes.Length, _t += 1_000_123));
        _ends[stream - 1] += bytes.Length;
    }

    List<(byte Stream, string Text)> Read(int? tail, bool timestamps = false, bool stdout = true, bool stderr = true)
    {
        LogIndexFile.Append(LogIndexFile.PathFor(_dir), _chunks);
        _chunks.Clear();
        // The log as it was before rotation (DataDir/{stdout.log, stderr.log, log.idx}): generation 0.
        using var reader = new LogReader(_dir, stdout, stderr, timestamps);
        var ms = new MemoryStream();
        reader.SeekTail(tail);
        while (reader.PumpAsync(ms, CancellationToken.None).GetAwaiter().GetResult()) { }
        File.Delete(LogIndexFile.PathFor(_dir));
        var result = new List<(byte, string)>();
        var data = ms.ToArray();
        for (var i = 0; i < data.Length;)
        {
            var (s, len) = Multiplex.ReadHeader(data.AsSpan(i, Multiplex.HeaderSize));
            var text = Encoding.UTF8.GetString(data, i + Multiplex.HeaderSize, len);
            // Merge adjacent frames of one stream: framing is not part of the contract.
            if (result.Count > 0 && result[^1].Item1 == s) result[^1] = (s, result[^1].Item2 + text);
            else result.Add((s, text));
            i += Multiplex.HeaderSize + len;
        }
        return result;
    }

    [Fact]
    public void Merges_streams_in_index_order()
    {
        Write(1, "a\n"); Write(2, "X\n"); Write(1, "b\n"); Write(2, "Y\nZ\n");
        Assert.Equal([(1, "a\n"), (2, "X\n"), (1, "b\n"), (2, "Y\nZ\n")], Read(null));
        Write(1, "a\n"); Write(2, "X\n"); Write(1, "b\n"); Write(2, "Y\nZ\n");
        Assert.Equal([(2, "X\nY\nZ\n")], Read(null, stdout: false));
    }

    [Fact]
    public void Tail_counts_lines_over_the_merged_stream()
    {
        Write(1, "a\n"); Write(2, "X\n"); Write(1, "b\n"); Write(2, "Y\nZ\n"); Write(1, "c");
        Assert.Equal([(2, "Z\n"), (1, "c")], Read(2));
        Write(1, "a\n"); Write(2, "X\n"); Write(1, "b\n"); Write(2, "Y\nZ\n"); Write(1, "c");
        Assert.Equal([(1, "b\n"), (2, "Y\nZ\n"), (1, "c")], Read(4));
    }

    [Fact]
    public void Tail_zero_and_tail_beyond_the_start()
    {
        Write(1, "a\n"); Write(2, "X\n");
        Assert.Empty(Read(0));
        Write(1, "a\n"); Write(2, "X\n");
        Assert.Equal([(1, "a\n"), (2, "X\n")], Read(100));
    }

    [Fact]
    public void A_line_split_across_chunks_belongs_to_the_chunk_where_it_began()
    {
        Write(1, "par"); Write(2, "E\n"); Write(1, "tial\n");
        // The last line to begin is stderr's; stdout's line began before it.
        Assert.Equal([(2, "E\n")], Read(1));
        Write(1, "par"); Write(2, "E\n"); Write(1, "tial\n");
        Assert.Equal([(1, "par"), (2, "E\n"), (1, "tial\n")], Read(2));
    }

    [Fact]
    public void Timestamps_prefix_each_line_with_the_time_of_its_first_chunk()
    {
        var t0 = _t;
        Write(1, "one\ntw"); Write(2, "E\n"); Write(1, "o\nthree\n");
        var ts = (long n) => LogReader.FormatNanos(n);
        Assert.Equal([
            (1, $"{ts(t0 + 1_000_123)} one\n{ts(t0 + 1_000_123)} tw"),
            (2, $"{ts(t0 + 2_000_246)} E\n"),
            (1, $"o\n{ts(t0 + 3_000_369)} three\n"),
        ], Read(null, timestamps: true));
    }

    [Fact]
    public void FormatNanos_is_docker_rfc3339nano_fixed()
    {
        Assert.Equal("2023-11-14T22:13:20.000000001Z", LogReader.FormatNanos(1_700_000_000_000_000_001));
        Assert.Equal("1970-01-01T00:00:00.000000000Z", LogReader.FormatNanos(0));
    }
}
