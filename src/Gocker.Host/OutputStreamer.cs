using System.Buffers;
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
    public static async Task FollowAsync(Stream output, IReadOnlyList<Source> sources, Task done, CancellationToken ct)
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
                    if (file is not null) any |= await CopyAvailable(file, stream, output, buffer, ct);
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

    static async Task<bool> CopyAvailable(FileStream file, byte stream, Stream output, byte[] buffer, CancellationToken ct)
    {
        var any = false;
        while (true)
        {
            var n = await file.ReadAsync(buffer.AsMemory(Multiplex.HeaderSize, buffer.Length - Multiplex.HeaderSize), ct);
            if (n <= 0) return any;
            Multiplex.WriteHeader(buffer, stream, n);
            await output.WriteAsync(buffer.AsMemory(0, Multiplex.HeaderSize + n), ct);
            any = true;
        }
    }

    /// <summary>Offset at which the last `lines` lines of a file begin (for logs --tail).</summary>
    public static long TailOffset(string path, int lines)
    {
        if (!File.Exists(path)) return 0;
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var len = fs.Length;
        if (lines <= 0) return len;
        var pos = len;
        var seen = 0;
        var buf = new byte[8192];
        // A trailing newline ends the last line; it does not start a new one.
        var skipFirstNewline = true;
        while (pos > 0)
        {
            var chunk = (int)Math.Min(buf.Length, pos);
            pos -= chunk;
            fs.Seek(pos, SeekOrigin.Begin);
            fs.ReadExactly(buf, 0, chunk);
            for (var i = chunk - 1; i >= 0; i--)
            {
                if (buf[i] != '\n') { skipFirstNewline = false; continue; }
                if (skipFirstNewline && pos + i == len - 1) { skipFirstNewline = false; continue; }
                if (++seen == lines) return pos + i + 1;
            }
        }
        return 0;
    }
}
