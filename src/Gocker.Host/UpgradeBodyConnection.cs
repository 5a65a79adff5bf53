using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Microsoft.AspNetCore.Connections;

namespace Gocker.Host;

/// <summary>
/// Lets an upgrade request carry a body, as Docker's clients send `POST /exec/{id}/start`: an
/// upgrade to tcp with a JSON body ({"Detach":false,"Tty":true,"ConsoleSize":[h,w]}). Kestrel
/// serves such a request as a plain one (it ignores `Connection: Upgrade` when there is a body,
/// dotnet/aspnetcore#17081), answers 200 instead of 101, and the docker CLI gives up with "unable
/// to upgrade to tcp, received 200".
///
/// This connection middleware looks at the first request of a connection (Docker dials a new
/// connection for every hijack). When it is an upgrade with a small Content-Length body, the body
/// moves into the <see cref="Header"/> header (base64) and Content-Length goes, so Kestrel upgrades
/// it; the route reads the body from the header (<see cref="Body"/>). Any other request is not
/// touched: the peeked bytes are left unconsumed, and Kestrel reads them as it would have.
/// </summary>
internal static class UpgradeBodyConnection
{
    public const string Header = "X-Gocker-Upgrade-Body";
    const int MaxHead = 8192;
    const int MaxBody = 64 * 1024;

    /// <summary>For ListenOptions.Use: every connection of the listener goes through it.</summary>
    public static ConnectionDelegate Middleware(ConnectionDelegate next) => async context =>
    {
        var input = context.Transport.Input;
        var rewritten = await RewriteFirstRequest(input, context.ConnectionClosed);
        if (rewritten is not null)
            context.Transport = new Duplex(new PrefixReader(rewritten, input), context.Transport.Output);
        await next(context);
    };

    /// <summary>The body an upgraded request carried in <see cref="Header"/>, or null.</summary>
    public static byte[]? Body(Microsoft.AspNetCore.Http.HttpContext ctx)
    {
        var v = ctx.Request.Headers[Header].ToString();
        if (v.Length == 0) return null;
        try { return Convert.FromBase64String(v); }
        catch (FormatException) { return null; }
    }

    /// <summary>The rewritten head (its bytes consumed from <paramref name="input"/>), or null when
    /// the first request is not an upgrade with a body (nothing consumed).</summary>
    static async Task<byte[]?> RewriteFirstRequest(PipeReader input, CancellationToken ct)
    {
        ReadResult r;
        try { r = await input.ReadAsync(ct); }
        catch (Exception) { return null; } // Kestrel sees the same end on its own read
        var buffer = r.Buffer;
        // Only what the first read brought: a request head is one write, and a head split across
        // reads is served as before (the peek must not mark bytes examined that Kestrel waits on).
        var head = HeadLength(buffer);
        if (head < 0 || !Mentions(buffer.Slice(0, head), "pgrade:"u8) || ParseUpgradeBody(buffer.Slice(0, head)) is not { } parsed)
        {
            input.AdvanceTo(buffer.Start, buffer.Start);
            return null;
        }
        // An upgrade with a body: read the whole body (a few hundred bytes, in the same write).
        while (buffer.Length < head + parsed.BodyLength && !r.IsCompleted)
        {
            input.AdvanceTo(buffer.Start, buffer.End);
            try { r = await input.ReadAsync(ct); }
            catch (Exception) { return null; }
            buffer = r.Buffer;
        }
        if (buffer.Length < head + parsed.BodyLength)
        {
            // The client went away mid-body: hand Kestrel the bytes as they were.
            var whole = buffer.ToArray();
            input.AdvanceTo(buffer.End);
            return whole;
        }
        var body = buffer.Slice(head, parsed.BodyLength).ToArray();
        var rewritten = parsed.HeadWithoutLength + Header + ": " + Convert.ToBase64String(body) + "\r\n\r\n";
        input.AdvanceTo(buffer.GetPosition(head + parsed.BodyLength));
        return Encoding.Latin1.GetBytes(rewritten);
    }

    /// <summary>Bytes up to and including the blank line, or -1 when the head is not all there.</summary>
    static int HeadLength(ReadOnlySequence<byte> buffer)
    {
        var reader = new SequenceReader<byte>(buffer.Length > MaxHead ? buffer.Slice(0, MaxHead) : buffer);
        return reader.TryReadTo(out ReadOnlySequence<byte> _, "\r\n\r\n"u8, advancePastDelimiter: true) ? (int)reader.Consumed : -1;
    }

    /// <summary>A cheap look for the Upgrade header before any parsing: most requests have none.</summary>
    static bool Mentions(ReadOnlySequence<byte> head, ReadOnlySpan<byte> what)
    {
        var reader = new SequenceReader<byte>(head);
        return reader.TryReadTo(out ReadOnlySequence<byte> _, what, advancePastDelimiter: false);
    }

    sealed record Parsed(string HeadWithoutLength, int BodyLength);

    /// <summary>For a head with `Connection: upgrade`, an `Upgrade` header and a Content-Length body
    /// (no chunked body): the head minus its Content-Length line and final blank line.</summary>
    static Parsed? ParseUpgradeBody(ReadOnlySequence<byte> headBytes)
    {
        var text = Encoding.Latin1.GetString(headBytes);
        var lines = text.Split("\r\n");
        bool connectionUpgrade = false, upgrade = false;
        int length = -1, lengthLine = -1;
        // lines[0] is the request line; the head ends with two empty strings (the blank line).
        for (int i = 1; i < lines.Length; i++)
        {
            var line = lines[i];
            var colon = line.IndexOf(':');
            if (colon <= 0) continue;
            var name = line.AsSpan(0, colon).Trim();
            var value = line.AsSpan(colon + 1).Trim();
            if (name.Equals("Connection", StringComparison.OrdinalIgnoreCase))
                connectionUpgrade |= value.Contains("upgrade", StringComparison.OrdinalIgnoreCase);
            else if (name.Equals("Upgrade", StringComparison.OrdinalIgnoreCase))
                upgrade = value.Length > 0;
            else if (name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase))
                return null;
            else if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                // Two lengths are a smuggling attempt: Kestrel refuses those itself, left as they are.
                if (lengthLine >= 0 || !int.TryParse(value, System.Globalization.NumberStyles.None, null, out length)) return null;
                lengthLine = i;
            }
        }
        if (!connectionUpgrade || !upgrade || length is <= 0 or > MaxBody) return null;
        var sb = new StringBuilder(text.Length + 64);
        for (int i = 0; i < lines.Length; i++)
        {
            if (i == lengthLine || lines[i].Length == 0) continue;
            sb.Append(lines[i]).Append("\r\n");
        }
        return new Parsed(sb.ToString(), length);
    }

    sealed class Duplex(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;
        public PipeWriter Output { get; } = output;
    }

    /// <summary>Reads <c>prefix</c> first, then the connection's own reader.</summary>
    sealed class PrefixReader(byte[] prefix, PipeReader inner) : PipeReader
    {
        ReadOnlySequence<byte> _prefix = new(prefix);

        public override bool TryRead(out ReadResult result)
        {
            if (!_prefix.IsEmpty) { result = new ReadResult(_prefix, false, false); return true; }
            return inner.TryRead(out result);
        }

        public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default) =>
            _prefix.IsEmpty ? inner.ReadAsync(cancellationToken) : new(new ReadResult(_prefix, false, false));

        public override void AdvanceTo(SequencePosition consumed) => AdvanceTo(consumed, consumed);

        public override void AdvanceTo(SequencePosition consumed, SequencePosition examined)
        {
            if (_prefix.IsEmpty) { inner.AdvanceTo(consumed, examined); return; }
            _prefix = _prefix.Slice(consumed);
        }

        public override void CancelPendingRead() => inner.CancelPendingRead();
        public override void Complete(Exception? exception = null) => inner.Complete(exception);
        public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);
    }
}
