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

    /// <param name="until">A follow ends once this time (unix ns) has passed (what is logged later is
    /// not shown anyway).</param>
    static async Task PumpUntil(Stream output, LogReader reader, ContainerLogs? logs, string dataDir, Task done, bool dispose, CancellationToken ct,
        IDisposable? reading = null, long? until = null)
    {
        try
        {
            while (true)
            {
                // Read before draining, so nothing logged before the exit (or `until`) is missed.
                var finished = done.IsCompleted || (until is { } u && LogWriter.NowNanos() > u);
                var grew = logs?.NextGrowth(dataDir);
                if (await reader.PumpAsync(output, ct)) { await output.FlushAsync(ct); continue; }
                if (finished) { await output.FlushAsync(ct); return; }
                // No writer open (not started yet, or re-adopted later): poll now and then.
                var tick = until is { } end ? Math.Clamp((end - LogWriter.NowNanos()) / 1_000_000 + 1, 1, 1000) : 1000;
                await Task.WhenAny(done, grew is { IsCompleted: false } ? grew : Task.Delay(50, ct), Task.Delay((int)tick, ct));
                ct.ThrowIfCancellationRequested();
            }
        }
        finally
        {
            if (dispose) reader.Dispose();
            reading?.Dispose();
        }
    }

    public sealed record LogOptions(bool Stdout, bool Stderr, bool Timestamps, int? Tail)
    {
        /// <summary>Only chunks written at or after this time (unix ns); null = from the start.</summary>
        public long? SinceNanos { get; init; }
        /// <summary>Only chunks written at or before this time (unix ns): a follow ends there.</summary>
        public long? UntilNanos { get; init; }
    }

    /// <summary>
    /// `logs`: the container's output merged through its index, from the start or the last `Tail`
    /// lines (only what was logged within Since..Until); with `exited` (follow), keeps writing what
    /// is logged until the run has exited, then drains the rest; without, stops at what was logged
    /// when it began. Across rotated generations, oldest first.
    /// </summary>
    public static async Task LogsAsync(Stream output, ContainerLogs? logs, string dataDir, LogOptions o, Task? exited, CancellationToken ct)
    {
        using var reading = logs?.AddReader(dataDir);
        using var reader = new LogReader(dataDir, o.Stdout, o.Stderr, o.Timestamps,
            sinceNanos: o.SinceNanos ?? long.MinValue, untilNanos: o.UntilNanos ?? long.MaxValue);
        if (exited is null) reader.StopAtCurrentEnd();
        reader.SeekTail(o.Tail);
        await PumpUntil(output, reader, logs, dataDir, exited ?? Task.CompletedTask, dispose: false, ct, until: o.UntilNanos);
    }
}
