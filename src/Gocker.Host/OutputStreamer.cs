using System.Buffers;
using Gocker.Actors.Logs;
using Gocker.Api;

namespace Gocker.Host;

/// <summary>
/// Streams a container's stdout/stderr files to an HTTP response in Docker's multiplexed framing.
/// The container writes its output straight into these files (O_APPEND), never into a pipe held by
/// the daemon, so a daemon crash cannot SIGPIPE a container; the daemon only follows the files.
/// </summary>
public static class OutputStreamer
{
    public sealed record Source(byte Stream, string Path, long Offset);

    /// <summary>Copies new output until `done` completes, then drains what is left and returns.</summary>
    public static Task FollowAsync(Stream output, IReadOnlyList<Source> sources, Task done, CancellationToken ct) =>
        FollowAsync(output, sources, done, raw: false, ct);

    /// <summary>As above; raw: no framing (a tty container's single stream, as Docker sends it).</summary>
    public static async Task FollowAsync(Stream output, IReadOnlyList<Source> sources, Task done, bool raw, CancellationToken ct)
    {
        var files = sources.Select(s => (s.Stream, File: Open(s.Path, s.Offset))).ToList();
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            var idle = 1;
            while (true)
            {
                var finished = done.IsCompleted; // read before draining, so nothing written before the exit is missed
                var any = false;
                foreach (var (stream, file) in files)
                    if (file is not null) any |= await CopyAvailable(file, raw ? null : stream, output, buffer, ct);
                if (any) { await output.FlushAsync(ct); idle = 1; continue; }
                if (finished) return;
                // Poll with a short, growing delay; the exit wakes us at once.
                await Task.WhenAny(done, Task.Delay(idle, ct));
                ct.ThrowIfCancellationRequested();
                idle = Math.Min(idle * 2, 50);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            foreach (var (_, f) in files) f?.Dispose();
        }
    }

    /// <summary>Writes what the files hold now (from their offsets) and returns.</summary>
    public static Task DumpAsync(Stream output, IReadOnlyList<Source> sources, CancellationToken ct) =>
        FollowAsync(output, sources, Task.CompletedTask, ct);

    static FileStream? Open(string path, long offset)
    {
        try
        {
            // FileShare.Delete: `rm` of the container may unlink the file while we drain it.
            var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.None);
            fs.Seek(offset, SeekOrigin.Begin);
            return fs;
        }
        catch (FileNotFoundException) { return null; }
        catch (DirectoryNotFoundException) { return null; }
    }

    static async Task<bool> CopyAvailable(FileStream file, byte? stream, Stream output, byte[] buffer, CancellationToken ct)
    {
        var any = false;
        while (true)
        {
            if (stream is null)
            {
                var r = await file.ReadAsync(buffer, ct);
                if (r <= 0) return any;
                await output.WriteAsync(buffer.AsMemory(0, r), ct);
                any = true;
                continue;
            }
            var n = await file.ReadAsync(buffer.AsMemory(Multiplex.HeaderSize, buffer.Length - Multiplex.HeaderSize), ct);
            if (n <= 0) return any;
            Multiplex.WriteHeader(buffer, stream.Value, n);
            await output.WriteAsync(buffer.AsMemory(0, Multiplex.HeaderSize + n), ct);
            any = true;
        }
    }

    public sealed record LogOptions(bool Stdout, bool Stderr, bool Timestamps, int? Tail)
    {
        /// <summary>Only chunks written at or after this time (unix ns); null = from the start.</summary>
        public long? SinceNanos { get; init; }
        /// <summary>Only chunks written at or before this time (unix ns): a follow ends there.</summary>
        public long? UntilNanos { get; init; }

        internal bool InRange(LogChunk c) => c.UnixNanos >= (SinceNanos ?? long.MinValue) && c.UnixNanos <= (UntilNanos ?? long.MaxValue);
    }

    /// <summary>
    /// `logs`: the container's output merged through its index (log.idx), from the start or the
    /// last `Tail` lines; with `exited` (follow), keeps writing what the indexer adds until the run
    /// has exited, then drains the rest. The indexer is asked to catch up first, so output written
    /// while no daemon ran (or not yet seen) is included.
    /// </summary>
    public static async Task LogsAsync(Stream output, LogIndexer? indexer, string dataDir, LogOptions o, Task? exited, CancellationToken ct)
    {
        var indexPath = LogIndexFile.PathFor(dataDir);
        using var reader = new LogReader(dataDir, o.Stdout, o.Stderr, o.Timestamps);
        indexer?.Sync(dataDir);
        var all = LogIndexFile.Read(indexPath);
        var chunks = o.SinceNanos is null && o.UntilNanos is null ? all : all.Where(o.InRange).ToList();
        await reader.WriteAsync(output, chunks, reader.Begin(chunks, o.Tail), ct);
        if (exited is null) return;
        long next = all.Count;
        while (true)
        {
            var finished = exited.IsCompleted; // read before draining, so nothing indexed before the exit is missed
            var grew = indexer?.NextGrowth(dataDir) ?? Task.CompletedTask;
            if (finished) indexer?.Sync(dataDir);
            var more = LogIndexFile.Read(indexPath, next);
            if (more.Count > 0)
            {
                next += more.Count;
                var shown = more.Where(o.InRange).ToList();
                await reader.WriteAsync(output, shown, 0, ct);
                if (o.UntilNanos is { } end && more[^1].UnixNanos > end) return; // past `until`: the follow ends
                continue;
            }
            if (finished || o.UntilNanos is { } last && DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000 > last) return;
            // Without an indexer (or past inotify's limits) poll now and then.
            await Task.WhenAny(exited, grew.IsCompleted ? Task.Delay(100, ct) : grew, Task.Delay(1000, ct));
            ct.ThrowIfCancellationRequested();
        }
    }
}
