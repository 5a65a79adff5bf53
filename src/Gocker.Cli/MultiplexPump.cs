using System.Globalization;
using System.Text;
using Gocker.Api;

namespace Gocker.Cli;

/// <summary>Copies a multiplexed attach/logs stream (8-byte headers, see <see cref="Multiplex"/>)
/// to stdout/stderr, byte for byte.</summary>
public static class MultiplexPump
{
    /// <summary>Pumps until the stream ends at a frame boundary. Returns the run's end carried by a
    /// final "system" frame (stream 3), if the daemon sent one (see <see cref="Multiplex"/>).</summary>
    public static WaitResponse? Pump(Stream source, Stream stdout, Stream stderr)
    {
        var header = new byte[Multiplex.HeaderSize];
        var buffer = new byte[32 * 1024];
        var outTarget = new Target(stdout);
        var errTarget = new Target(stderr);
        WaitResponse? end = null;
        while (true)
        {
            int got = source.ReadAtLeast(header, header.Length, throwOnEndOfStream: false);
            if (got == 0) return end;
            if (got < header.Length) throw new IOException("the stream ended inside a frame header");
            var (stream, length) = Multiplex.ReadHeader(header);
            if (length < 0) throw new IOException($"invalid frame length {length}");
            if (stream == Multiplex.System)
            {
                // Small: the wait's answer (JSON), or a bare exit code in ASCII.
                if (length > 64 * 1024) throw new IOException($"system frame of {length} bytes is too large");
                var payload = new byte[length];
                source.ReadExactly(payload);
                end = SystemFrame(payload) ?? end;
                continue;
            }
            var target = stream switch
            {
                Multiplex.Stdin or Multiplex.Stdout => outTarget,
                Multiplex.Stderr => errTarget,
                _ => throw new IOException($"unknown stream id {stream} in a multiplexed stream"),
            };
            while (length > 0)
            {
                int n = source.Read(buffer, 0, Math.Min(buffer.Length, length));
                if (n == 0) throw new IOException("the stream ended inside a frame");
                target.Write(buffer.AsSpan(0, n));
                length -= n;
            }
            target.Flush();
        }
    }

    static WaitResponse? SystemFrame(byte[] payload)
    {
        var text = payload.AsSpan().Trim(" \t\r\n"u8);
        if (text.Length > 0 && text[0] == (byte)'{')
        {
            try { return SmallAnswers.WaitResponse(payload); }
            catch (System.Text.Json.JsonException) { return null; }
        }
        return int.TryParse(Encoding.ASCII.GetString(text), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int code)
            ? new WaitResponse { StatusCode = code } : null;
    }

    /// <summary>Copies a raw (non-multiplexed, TTY) stream as is.</summary>
    public static void PumpRaw(Stream source, Stream stdout)
    {
        var target = new Target(stdout);
        var buffer = new byte[32 * 1024];
        int n;
        while ((n = source.Read(buffer, 0, buffer.Length)) > 0)
        {
            target.Write(buffer.AsSpan(0, n));
            target.Flush();
        }
    }

    /// <summary>An output that may go away (`gocker run ... | head -1`): once writing fails, the
    /// rest is drained and dropped, so that the exit code still arrives.</summary>
    private sealed class Target(Stream stream)
    {
        private bool _broken;

        public void Write(ReadOnlySpan<byte> data)
        {
            if (_broken) return;
            try { stream.Write(data); }
            catch (IOException) { _broken = true; }
        }

        public void Flush()
        {
            if (_broken) return;
            try { stream.Flush(); }
            catch (IOException) { _broken = true; }
        }
    }
}
