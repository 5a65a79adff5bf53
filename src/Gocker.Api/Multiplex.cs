using System.Buffers.Binary;

namespace Gocker.Api;

/// <summary>
/// Docker's stream framing for non-TTY attach/logs: an 8-byte header
/// [stream(1) 0 0 0 size(4, big endian)] then size bytes. stream: 0 stdin, 1 stdout, 2 stderr.
/// Gocker adds stream 3 ("system"): a final frame carrying the run's end, so a client of the
/// attach stream can finish without a separate wait request. gockerd sends it when the attach asks
/// with `gockerWait=next-exit|removed`, as Docker's wait response (JSON); a bare ASCII exit code
/// is read as well.
/// </summary>
public static class Multiplex
{
    public const byte Stdin = 0, Stdout = 1, Stderr = 2, System = 3;
    public const int HeaderSize = 8;

    public static void WriteHeader(Span<byte> header, byte stream, int length)
    {
        header[0] = stream;
        header[1] = header[2] = header[3] = 0;
        BinaryPrimitives.WriteUInt32BigEndian(header[4..], (uint)length);
    }

    public static (byte Stream, int Length) ReadHeader(ReadOnlySpan<byte> header) =>
        (header[0], (int)BinaryPrimitives.ReadUInt32BigEndian(header[4..]));
}
