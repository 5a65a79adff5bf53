using System.Buffers;
using Gocker.Actors.Logs;
using Gocker.Api;

namespace Gocker.Host;

/// <summary>
/// Streams a container's output from its log (LogFiles, LogReader) to an HTTP response in Docker's
/// multiplexed framing (raw for a tty). The daemon writes the log as it reads the container's pipes
/// or terminal; attached clients and `logs` only read it, across its rotated generations.
/// </summary>
public static class OutputStreamer
{
    /// <summary>Attach: the output logged after `from` (LogFiles.End when the client attached),
    /// until `done` completes, then what is left. raw: no framing (a tty container's single stream,
    /// as Docker sends it). The files at `from` are opened before this returns its task, so a
    /// short `run --rm` container's output is read even if its dir goes before we get to it.</summary>
    public static Task FollowAsync(Stream output, ContainerLogs? logs, string dataDir, LogPosition from, bool stdout, bool stderr,
        Task done, bool raw, CancellationToken ct)
    {
        var reading = logs?.AddReader(dataDir);
        var reader = new LogReader(dataDir, stdout || raw, stderr && !raw, timestamps: false, raw: raw);
        reader.Seek(from);
        return PumpUntil(output, reader, logs, dataDir, done, dispose: true, ct, reading);
    }

    static async Task PumpUntil(Stream output, LogReader reader, ContainerLogs? logs, string dataDir, Task done, bool dispose, CancellationToken ct,
        IDisposable? reading = null)
    {
        try
        {
            while (true)
            {
                var finished = done.IsCompleted; // read before draining, so nothing logged before the exit is missed
                var grew = logs?.NextGrowth(dataDir);
                if (await reader.PumpAsync(output, ct)) { await output.FlushAsync(ct); continue; }
                if (finished) { await output.FlushAsync(ct); return; }
                // No writer open (not started yet, or re-adopted later): poll now and then.
                await Task.WhenAny(done, grew is { IsCompleted: false } ? grew : Task.Delay(50, ct), Task.Delay(1000, ct));
                ct.ThrowIfCancellationRequested();
            }
        }
        finally
        {
            if (dispose) reader.Dispose();
            reading?.Dispose();
        }
    }

    public sealed record LogOptions(bool Stdout, bool Stderr, bool Timestamps, int? Tail, long SinceNanos = 0, long UntilNanos = 0);

    /// <summary>
    /// `logs`: the container's output merged through its index, from the start or the last `Tail`
    /// lines (only what was logged within Since..Until); with `exited` (follow), keeps writing what
    /// is logged until the run has exited, then drains the rest; without, stops at what was logged
    /// when it began. Across rotated generations, oldest first.
    /// </summary>
    public static async Task LogsAsync(Stream output, ContainerLogs? logs, string dataDir, LogOptions o, Task? exited, CancellationToken ct)
    {
        using var reading = logs?.AddReader(dataDir);
        using var reader = new LogReader(dataDir, o.Stdout, o.Stderr, o.Timestamps, sinceNanos: o.SinceNanos, untilNanos: o.UntilNanos);
        if (exited is null) reader.StopAtCurrentEnd();
        reader.SeekTail(o.Tail);
        await PumpUntil(output, reader, logs, dataDir, exited ?? Task.CompletedTask, dispose: false, ct);
    }

    /// <summary>Docker's since/until: unix seconds with an optional fraction ("1700000000.5"), or
    /// empty (no bound). Null when the text is neither.</summary>
    public static long? ParseUnixNanos(string text)
    {
        if (text.Length == 0) return 0;
        var parts = text.Split('.');
        if (parts.Length > 2 || !long.TryParse(parts[0], System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var secs))
            return null;
        long frac = 0;
        if (parts.Length == 2)
        {
            var f = parts[1];
            if (f.Length is 0 or > 9 || !f.All(char.IsAsciiDigit)) return null;
            frac = long.Parse(f.PadRight(9, '0'), System.Globalization.CultureInfo.InvariantCulture);
        }
        if (secs < 0 || secs > long.MaxValue / 1_000_000_000 - 1) return null;
        return secs * 1_000_000_000 + frac;
    }
}
