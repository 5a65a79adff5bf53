using System.Text;
using Gocker.Actors.Containers;
using Gocker.Actors.Logs;
using Gocker.Api;

namespace Gocker.Tests.Logs;

/// <summary>LogWriter's rotation and failures, read back through LogReader, on real files.</summary>
public sealed class LogWriterTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("gocker-logwriter-").FullName;
    readonly List<(string Action, Dictionary<string, string> Attrs)> _reports = [];

    public void Dispose() => Directory.Delete(_dir, true);

    LogWriter Writer(long maxSize, int maxFile) =>
        new(_dir, maxSize, maxFile, (a, attrs) => { lock (_reports) _reports.Add((a, attrs.ToDictionary(x => x.Key, x => x.Value))); });

    static string Line(int i) => $"line {i:D5}\n";

    /// <summary>(stream, text) frames merged per stream run.</summary>
    static List<(byte Stream, string Text)> Frames(byte[] data)
    {
        var result = new List<(byte, string)>();
        for (var i = 0; i < data.Length;)
        {
            var (s, len) = Multiplex.ReadHeader(data.AsSpan(i, Multiplex.HeaderSize));
            result.Add((s, Encoding.UTF8.GetString(data, i + Multiplex.HeaderSize, len)));
            i += Multiplex.HeaderSize + len;
        }
        return result;
    }

    static List<string> Lines(List<(byte Stream, string Text)> frames) =>
        string.Concat(frames.Select(f => f.Text)).Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();

    List<(byte, string)> ReadAll(int? tail = null)
    {
        using var reader = new LogReader(_dir, true, true, false);
        reader.StopAtCurrentEnd();
        reader.SeekTail(tail);
        var ms = new MemoryStream();
        while (reader.PumpAsync(ms, CancellationToken.None).GetAwaiter().GetResult()) { }
        return Frames(ms.ToArray());
    }

    [Fact]
    public void Rotation_keeps_the_log_under_its_cap_and_the_newest_lines_in_order()
    {
        using (var w = Writer(2000, 3))
            for (var i = 0; i < 1000; i++) w.Write(i % 2 + 1, Encoding.ASCII.GetBytes(Line(i)));
        Assert.True(LogFiles.SizeOnDisk(_dir) <= 3 * 2000, $"{LogFiles.SizeOnDisk(_dir)} bytes under {LogFiles.Dir(_dir)}");
        var gens = LogFiles.Generations(_dir);
        Assert.Equal(3, gens.Count);
        Assert.Equal(gens[0] + 2, gens[2]);
        var frames = ReadAll();
        var lines = Lines(frames);
        // A contiguous run of the newest lines, ending with the last one, each once, in write order.
        var first = int.Parse(lines[0]["line ".Length..]);
        Assert.Equal(Enumerable.Range(first, 1000 - first).Select(i => Line(i).TrimEnd('\n')), lines);
        Assert.True(lines.Count > 100, $"only {lines.Count} lines kept");
        // Odd lines went to stderr, even ones to stdout, and the merge keeps each on its stream.
        foreach (var (stream, text) in frames)
            foreach (var l in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
                Assert.Equal(int.Parse(l["line ".Length..]) % 2 + 1, stream);
    }

    [Fact]
    public void Tail_reaches_across_generations()
    {
        using (var w = Writer(1000, 10))
            for (var i = 0; i < 300; i++) w.Write(1, Encoding.ASCII.GetBytes(Line(i)));
        Assert.True(LogFiles.Generations(_dir).Count >= 3, "the lines should span generations");
        Assert.Equal(Enumerable.Range(250, 50).Select(i => Line(i).TrimEnd('\n')), Lines(ReadAll(50)));
        Assert.Empty(ReadAll(0));
    }

    [Fact]
    public void A_follower_goes_on_across_rotations_without_loss_or_repeat()
    {
        // max-file 1: each rotation deletes the generation the follower is still reading.
        using var w = Writer(1000, 1);
        using var reader = new LogReader(_dir, true, true, false);
        reader.Seek(LogFiles.End(_dir));
        var ms = new MemoryStream();
        var gensSeen = new HashSet<long>();
        for (var i = 0; i < 400; i++)
        {
            w.Write(1, Encoding.ASCII.GetBytes(Line(i)));
            // Pump now and then: sometimes the reader is behind by a whole generation's end.
            if (i % 7 == 0) while (reader.PumpAsync(ms, CancellationToken.None).GetAwaiter().GetResult()) gensSeen.Add(reader.CurrentGeneration);
        }
        while (reader.PumpAsync(ms, CancellationToken.None).GetAwaiter().GetResult()) { }
        Assert.True(gensSeen.Count > 5, $"rotated {gensSeen.Count} times only");
        Assert.Equal(Enumerable.Range(0, 400).Select(i => Line(i).TrimEnd('\n')), Lines(Frames(ms.ToArray())));
    }

    [Fact]
    public void A_line_cut_by_a_rotation_is_not_shown_as_a_fragment_once_its_start_is_gone()
    {
        // Each line in two writes (as pipe reads cut lines): every generation here starts with the
        // rest of a line that began in the one before.
        using (var w = Writer(1000, 2))
            for (var i = 0; i < 300; i++)
            {
                var l = Encoding.ASCII.GetBytes(Line(i));
                w.Write(1, l.AsSpan(0, 4));
                w.Write(1, l.AsSpan(4));
            }
        var first = LogFiles.Generations(_dir)[0];
        Assert.StartsWith(" ", File.ReadAllText(LogFiles.Data(_dir, first, 1)));
        var lines = Lines(ReadAll());
        Assert.StartsWith("line ", lines[0]);
        var from = int.Parse(lines[0]["line ".Length..]);
        Assert.Equal(Enumerable.Range(from, 300 - from).Select(i => Line(i).TrimEnd('\n')), lines);
        Assert.Equal(Enumerable.Range(290, 10).Select(i => Line(i).TrimEnd('\n')), Lines(ReadAll(10)));
        // A tail reaching back past the oldest line start gets whole lines only, too.
        Assert.Equal(lines, Lines(ReadAll(10_000)));
    }

    [Fact]
    public void A_chunk_bigger_than_a_generation_is_split_and_read_back_whole()
    {
        var big = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Range(0, 500).Select(Line)));
        using (var w = Writer(1000, 100)) w.Write(2, big);
        foreach (var g in LogFiles.Generations(_dir))
        {
            var size = new FileInfo(LogFiles.Index(_dir, g)).Length + new FileInfo(LogFiles.Data(_dir, g, 1)).Length + new FileInfo(LogFiles.Data(_dir, g, 2)).Length;
            Assert.True(size <= 1000, $"generation {g} holds {size} bytes");
        }
        Assert.Equal(Encoding.ASCII.GetString(big), string.Concat(ReadAll().Select(f => f.Item2)));
    }

    [Fact]
    public void A_failed_write_is_dropped_reported_once_and_writing_resumes()
    {
        // The log dir cannot be made while a file sits on its name: every write fails.
        File.WriteAllText(LogFiles.Dir(_dir), "in the way");
        using var w = Writer(10_000, 2);
        w.Write(1, "lost 1\n"u8);
        w.Write(2, "lost 2\n"u8);
        Assert.Equal(14, w.Dropped);
        Assert.Equal(["log-write-failed"], _reports.Select(r => r.Action));
        Assert.Contains("path", _reports[0].Attrs.Keys);
        File.Delete(LogFiles.Dir(_dir));
        w.Write(1, "kept\n"u8);
        Assert.Equal(["log-write-failed", "log-write-resumed"], _reports.Select(r => r.Action));
        Assert.Equal("14", _reports[1].Attrs["droppedBytes"]);
        Assert.Equal(0, w.Dropped);
        Assert.Equal([(1, "kept\n")], ReadAll());
    }

    [Fact]
    public void A_writer_closed_while_failing_reports_what_it_dropped()
    {
        File.WriteAllText(LogFiles.Dir(_dir), "in the way");
        var w = Writer(10_000, 2);
        w.Write(2, "lost 3\n"u8);
        w.Dispose();
        w.Write(2, "after the close: ignored\n"u8);
        Assert.Equal(["log-write-failed", "log-write-dropped"], _reports.Select(r => r.Action));
        Assert.Equal("7", _reports[1].Attrs["droppedBytes"]);
        File.Delete(LogFiles.Dir(_dir));
    }

    [Fact]
    public void A_log_from_before_rotation_becomes_generation_one_and_goes_on()
    {
        File.WriteAllText(Path.Combine(_dir, "stdout.log"), "old out\n");
        File.WriteAllText(Path.Combine(_dir, "stderr.log"), "old err\n");
        LogIndexFile.Append(LogIndexFile.PathFor(_dir), [new LogChunk(1, 0, 8, 1), new LogChunk(2, 0, 8, 2)]);
        Assert.Equal([0L], LogFiles.Generations(_dir));
        Assert.Equal([(1, "old out\n"), (2, "old err\n")], ReadAll());
        using (var w = Writer(10_000, 2)) w.Write(1, "new\n"u8);
        Assert.Equal([1L], LogFiles.Generations(_dir));
        Assert.False(File.Exists(Path.Combine(_dir, "stdout.log")));
        Assert.Equal([(1, "old out\n"), (2, "old err\n"), (1, "new\n")], ReadAll());
    }

    [Fact]
    public void Output_written_but_never_indexed_is_indexed_by_the_next_writer()
    {
        using (var w = Writer(10_000, 2)) w.Write(1, "a\n"u8);
        // A crash between the data write and its index record.
        File.AppendAllText(LogFiles.Data(_dir, 1, 1), "b\n");
        using (var w = Writer(10_000, 2)) w.Write(2, "c\n"u8);
        Assert.Equal([(1, "a\n"), (1, "b\n"), (2, "c\n")], ReadAll());
    }

    [Fact]
    public void Clear_empties_the_log_and_leaves_an_empty_next_generation()
    {
        using var w = Writer(1000, 3);
        for (var i = 0; i < 100; i++) w.Write(1, Encoding.ASCII.GetBytes(Line(i)));
        var last = LogFiles.Generations(_dir)[^1];
        w.Clear();
        Assert.Equal([last + 1], LogFiles.Generations(_dir));
        Assert.Equal(0, LogFiles.SizeOnDisk(_dir));
        w.Write(1, "next run\n"u8);
        Assert.Equal([(1, "next run\n")], ReadAll());
    }
}

/// <summary>Docker's log option values (go-units FromHumanSize) and LogConfig's validation.</summary>
public sealed class LogSettingsTests
{
    [Theory]
    [InlineData("10k", 10_000)]
    [InlineData("10K", 10_000)]
    [InlineData("10kb", 10_000)]
    [InlineData("10KiB", 10_000)]
    [InlineData("10 k", 10_000)]
    [InlineData("10m", 10_000_000)]
    [InlineData("10MB", 10_000_000)]
    [InlineData("1g", 1_000_000_000)]
    [InlineData("1.5k", 1_500)]
    [InlineData("2t", 2_000_000_000_000)]
    [InlineData("1p", 1_000_000_000_000_000)]
    [InlineData("100", 100)]
    [InlineData("100b", 100)]
    [InlineData("100B", 100)]
    [InlineData("1e3", 1_000)]
    public void Sizes_parse_as_dockers(string text, long expected) => Assert.Equal(expected, HumanSize.Parse(text));

    [Theory]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData("10x")]
    [InlineData("10kbb")]
    [InlineData("10mx")]
    [InlineData("10kibb")]
    [InlineData("-1")]
    [InlineData("10bk")]
    [InlineData("1..2k")]
    public void Bad_sizes_are_refused(string text) => Assert.Throws<FormatException>(() => HumanSize.Parse(text));

    static readonly LogSettings Defaults = LogSettings.Default;

    [Fact]
    public void Empty_config_is_the_default_and_json_file_and_local_take_options()
    {
        Assert.Equal(Defaults, LogSettings.FromApi(null, null, Defaults));
        Assert.Equal(Defaults, LogSettings.FromApi("", new Dictionary<string, string>(), Defaults));
        var l = LogSettings.FromApi("local", new Dictionary<string, string> { ["max-size"] = "64k", ["max-file"] = "2" }, Defaults);
        Assert.Equal(new LogSettings("local", 64_000, 2, "64k"), l);
        Assert.Equal(new Dictionary<string, string> { ["max-size"] = "64k", ["max-file"] = "2" }, l.Config);
        var j = LogSettings.FromApi("json-file", new Dictionary<string, string> { ["max-file"] = "5" }, Defaults);
        Assert.Equal((Defaults.MaxSize, 5), (j.MaxSize, j.MaxFile));
        var none = LogSettings.FromApi("none", null, Defaults);
        Assert.False(none.Readable);
        Assert.Empty(none.Config);
    }

    [Theory]
    [InlineData("syslog", null, null, "syslog")]
    [InlineData("json-file", "compress", "true", "compress")]
    [InlineData("local", "labels", "a", "labels")]
    [InlineData("none", "max-size", "1m", "max-size")]
    [InlineData("json-file", "max-size", "0", "positive")]
    [InlineData("json-file", "max-size", "12q", "12q")]
    [InlineData("json-file", "max-size", "999", "at least 1k")]
    [InlineData("json-file", "max-file", "0", "less than 1")]
    [InlineData("json-file", "max-file", "two", "two")]
    [InlineData("json-file", "max-size", "0000000000000000000000000000000000000001k", "too long")]
    public void Unknown_types_options_and_bad_values_are_refused_by_name(string type, string? key, string? value, string named)
    {
        var config = key is null ? null : new Dictionary<string, string> { [key] = value! };
        var ex = Assert.Throws<BadRequestException>(() => LogSettings.FromApi(type, config, Defaults));
        Assert.Contains(named, ex.Message);
    }
}
