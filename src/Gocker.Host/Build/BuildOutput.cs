using System.Text;
using System.Text.Json;
using Gocker.Api;

namespace Gocker.Host.Build;

/// <summary>Docker's build progress stream: one JSON object a line, {"stream": text},
/// {"aux": {"ID": "sha256:..."}} and {"errorDetail": {"message": ...}, "error": ...}.</summary>
public sealed class BuildOutput(Stream body, bool quiet, CancellationToken ct)
{
    readonly SemaphoreSlim _gate = new(1, 1);

    /// <summary>Quiet mode (q=1) shows nothing but errors and, at the end, the id.</summary>
    public bool Quiet => quiet;

    public Task Stream(string text) => quiet ? Task.CompletedTask : StreamAlways(text);

    public Task StreamAlways(string text) => Write(w => w.WriteString("stream", text));

    public Task Aux(string id) => Write(w =>
    {
        w.WritePropertyName("aux");
        w.WriteStartObject();
        w.WriteString("ID", id);
        w.WriteEndObject();
    });

    public Task Error(string message) => Write(w =>
    {
        w.WritePropertyName("errorDetail");
        w.WriteStartObject();
        w.WriteString("message", message);
        w.WriteEndObject();
        w.WriteString("error", message);
    });

    async Task Write(Action<Utf8JsonWriter> fill)
    {
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            fill(w);
            w.WriteEndObject();
        }
        buffer.WriteByte((byte)'\r');
        buffer.WriteByte((byte)'\n');
        await _gate.WaitAsync(ct);
        try
        {
            await body.WriteAsync(buffer.GetBuffer().AsMemory(0, (int)buffer.Length), ct);
            await body.FlushAsync(ct);
        }
        finally { _gate.Release(); }
    }

    /// <summary>A stream that takes a RUN container's multiplexed output (8-byte frame headers, as the
    /// attach follow writes it) and passes each frame's text on as {"stream": ...}.</summary>
    public Stream RunOutput() => new Demux(this);

    sealed class Demux(BuildOutput owner) : System.IO.Stream
    {
        readonly List<byte> _pending = [];
        readonly Decoder _utf8 = Encoding.UTF8.GetDecoder();

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken ct = default)
        {
            _pending.AddRange(buffer.ToArray());
            var text = new StringBuilder();
            while (_pending.Count >= Multiplex.HeaderSize)
            {
                int size = (_pending[4] << 24) | (_pending[5] << 16) | (_pending[6] << 8) | _pending[7];
                if (_pending.Count < Multiplex.HeaderSize + size) break;
                var payload = _pending.GetRange(Multiplex.HeaderSize, size).ToArray();
                _pending.RemoveRange(0, Multiplex.HeaderSize + size);
                var chars = new char[_utf8.GetCharCount(payload, 0, payload.Length)];
                _utf8.GetChars(payload, 0, payload.Length, chars, 0);
                text.Append(chars);
            }
            if (text.Length > 0) await owner.Stream(text.ToString());
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken ct) =>
            WriteAsync(buffer.AsMemory(offset, count), ct).AsTask();
        public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count, default).GetAwaiter().GetResult();
        public override void Flush() { }
        public override Task FlushAsync(CancellationToken ct) => Task.CompletedTask;
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => 0; set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
