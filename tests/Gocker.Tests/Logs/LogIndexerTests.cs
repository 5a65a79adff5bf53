using Gocker.Actors.Logs;

namespace Gocker.Tests.Logs;

public sealed class LogIndexerTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("gocker-logindex-").FullName;
    readonly LogIndexer _indexer = new();

    public void Dispose()
    {
        _indexer.Dispose();
        Directory.Delete(_dir, true);
    }

    string Out => Path.Combine(_dir, "stdout.log");
    string Err => Path.Combine(_dir, "stderr.log");
    string Idx => LogIndexFile.PathFor(_dir);

    static void Append(string path, string text)
    {
        // O_APPEND, as the container's fds are.
        using var f = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
        f.Write(System.Text.Encoding.UTF8.GetBytes(text));
    }

    void WaitForRecords(int n)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (LogIndexFile.Read(Idx).Count < n)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"index has {LogIndexFile.Read(Idx).Count} records, wanted {n}");
            Thread.Sleep(5);
        }
    }

    [Fact]
    public void Indexes_writes_in_the_order_they_happen()
    {
        Assert.True(_indexer.UsesInotify);
        File.WriteAllText(Out, "");
        File.WriteAllText(Err, "");
        _indexer.Watch(_dir);
        for (var i = 0; i < 5; i++)
        {
            Append(Out, $"out{i}\n");
            WaitForRecords(2 * i + 1);
            Append(Err, $"err{i}\n");
            WaitForRecords(2 * i + 2);
        }
        _indexer.Unwatch(_dir);
        var chunks = LogIndexFile.Read(Idx);
        Assert.Equal(Enumerable.Range(0, 10).Select(i => (byte)(i % 2 + 1)), chunks.Select(c => c.Stream));
        Assert.Equal(Enumerable.Range(0, 5).Select(i => i * 5L), chunks.Where(c => c.Stream == 1).Select(c => c.Offset));
        Assert.All(chunks, c => Assert.Equal(5, c.Length));
        Assert.Equal(chunks.Select(c => c.UnixNanos).Order(), chunks.Select(c => c.UnixNanos));
        // Unwatched: writes are no longer indexed until someone syncs.
        Append(Out, "late\n");
        Thread.Sleep(100);
        Assert.Equal(10, LogIndexFile.Read(Idx).Count);
        _indexer.Sync(_dir);
        Assert.Equal(new LogChunk(1, 25, 5, 0) with { UnixNanos = LogIndexFile.Read(Idx)[^1].UnixNanos }, LogIndexFile.Read(Idx)[^1]);
    }

    [Fact]
    public void Watch_catches_up_output_written_while_nobody_watched()
    {
        File.WriteAllText(Out, "before\n");
        File.WriteAllText(Err, "e\n");
        _indexer.Watch(_dir);
        var chunks = LogIndexFile.Read(Idx);
        Assert.Equal([(1, 0L, 7), (2, 0L, 2)], chunks.Select(c => ((int)c.Stream, c.Offset, c.Length)));
        _indexer.Unwatch(_dir);
        // A second daemon resumes where the index ends, not from the start.
        Append(Out, "x\n");
        using var other = new LogIndexer();
        other.Watch(_dir);
        other.Unwatch(_dir);
        Assert.Equal([(1, 0L, 7), (2, 0L, 2), (1, 7L, 2)], LogIndexFile.Read(Idx).Select(c => ((int)c.Stream, c.Offset, c.Length)));
    }

    [Fact]
    public void A_torn_record_from_a_crash_is_ignored_and_cut_off()
    {
        File.WriteAllText(Out, "abc\n");
        File.WriteAllText(Err, "");
        LogIndexFile.Append(Idx, [new LogChunk(1, 0, 4, 42)]);
        using (var f = new FileStream(Idx, FileMode.Append)) f.Write(new byte[7]);
        Assert.Single(LogIndexFile.Read(Idx));
        Append(Out, "d\n");
        _indexer.Sync(_dir);
        Assert.Equal([(1, 0L, 4), (1, 4L, 2)], LogIndexFile.Read(Idx).Select(c => ((int)c.Stream, c.Offset, c.Length)));
        Assert.Equal(0, new FileInfo(Idx).Length % LogIndexFile.RecordSize);
    }

    [Fact]
    public void Sync_of_a_removed_container_creates_nothing()
    {
        var gone = Path.Combine(_dir, "gone");
        _indexer.Sync(gone);
        _indexer.Unwatch(gone);
        Assert.False(Directory.Exists(gone));
    }
}
