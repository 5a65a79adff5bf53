using System.Diagnostics;
using System.Globalization;

namespace Gocker.Cli;

/// <summary>A one-line progress bar on stderr for long loads and saves: only when stderr is a terminal
/// (never in pipes, logs or tests), redrawn at most 10 times a second, erased when done.</summary>
public sealed class ProgressBar : IDisposable
{
    readonly TextWriter _err;
    readonly string _label;
    readonly long _total;
    readonly Stopwatch _clock = Stopwatch.StartNew();
    long _done;
    long _lastDraw = -1000;

    ProgressBar(TextWriter err, string label, long total)
    {
        _err = err;
        _label = label;
        _total = total;
    }

    /// <summary>Null when stderr is not a terminal or GOCKER_NO_PROGRESS is set.</summary>
    public static ProgressBar? Start(CliContext ctx, string label, long total)
    {
        if (Console.IsErrorRedirected || !string.IsNullOrEmpty(ctx.GetEnv("GOCKER_NO_PROGRESS"))) return null;
        return new ProgressBar(ctx.IO.Err, label, total);
    }

    public void Add(long bytes)
    {
        _done += bytes;
        var now = _clock.ElapsedMilliseconds;
        if (now - _lastDraw < 100) return;
        _lastDraw = now;
        Draw();
    }

    void Draw()
    {
        double secs = Math.Max(_clock.Elapsed.TotalSeconds, 0.001);
        var rate = Format.HumanSize((long)(_done / secs)) + "/s";
        string line;
        if (_total > 0)
        {
            const int width = 30;
            double frac = Math.Clamp((double)_done / _total, 0, 1);
            int filled = (int)(frac * width);
            var bar = new string('=', filled) + (filled < width ? ">" + new string(' ', width - filled - 1) : "");
            line = $"{_label} [{bar}] {Format.HumanSize(_done)}/{Format.HumanSize(_total)} {rate}";
        }
        else line = $"{_label} {Format.HumanSize(_done)} {rate}";
        _err.Write("\r\x1b[K" + line);
        _err.Flush();
    }

    public void Dispose()
    {
        _err.Write("\r\x1b[K");
        _err.Flush();
    }

    public static string Invariant(long n) => n.ToString(CultureInfo.InvariantCulture);
}

/// <summary>A pass-through stream that reports the bytes read or written to a progress bar.</summary>
public sealed class ProgressStream(Stream inner, ProgressBar? bar) : Stream
{
    public override int Read(byte[] buffer, int offset, int count)
    {
        int n = inner.Read(buffer, offset, count);
        bar?.Add(n);
        return n;
    }

    public override int Read(Span<byte> buffer)
    {
        int n = inner.Read(buffer);
        bar?.Add(n);
        return n;
    }

    public override void Write(byte[] buffer, int offset, int count)
    {
        inner.Write(buffer, offset, count);
        bar?.Add(count);
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        inner.Write(buffer);
        bar?.Add(buffer.Length);
    }

    public override bool CanRead => inner.CanRead;
    public override bool CanSeek => false;
    public override bool CanWrite => inner.CanWrite;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() => inner.Flush();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
