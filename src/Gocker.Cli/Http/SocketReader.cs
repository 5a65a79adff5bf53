using System.Text;

namespace Gocker.Cli.Http;

/// <summary>Buffered, synchronous reads from a connected socket. Sync on purpose: the console does
/// one thing at a time and async state machines cost startup time for nothing.</summary>
internal sealed class SocketReader(UnixSocket socket)
{
    // Response heads bigger than this are not something gockerd sends; refuse rather than grow.
    public const int MaxLineLength = 16 * 1024;

    private readonly byte[] _buffer = new byte[16 * 1024];
    private int _pos, _len;

    public UnixSocket Socket => socket;

    public bool HasBufferedData => _pos < _len;

    /// <summary>Reads up to destination.Length bytes; 0 means the peer closed the connection.</summary>
    public int Read(Span<byte> destination)
    {
        if (destination.IsEmpty) return 0;
        if (_pos < _len)
        {
            int n = Math.Min(destination.Length, _len - _pos);
            _buffer.AsSpan(_pos, n).CopyTo(destination);
            _pos += n;
            return n;
        }
        // Large reads bypass the buffer: no point copying frames twice.
        if (destination.Length >= _buffer.Length) return socket.Receive(destination);
        if (!Fill()) return 0;
        return Read(destination);
    }

    /// <summary>Reads one CRLF- (or LF-) terminated line as ASCII, without the terminator.
    /// Returns null on EOF before any byte of the line.</summary>
    public string? ReadLine()
    {
        var line = new StringBuilder();
        while (true)
        {
            if (_pos >= _len && !Fill())
            {
                if (line.Length == 0) return null;
                throw new IOException("connection closed in the middle of a response line");
            }
            int start = _pos;
            int idx = Array.IndexOf(_buffer, (byte)'\n', _pos, _len - _pos);
            int end = idx < 0 ? _len : idx;
            line.Append(Encoding.Latin1.GetString(_buffer, start, end - start));
            if (line.Length > MaxLineLength) throw new IOException($"response line longer than {MaxLineLength} bytes");
            if (idx >= 0)
            {
                _pos = idx + 1;
                if (line.Length > 0 && line[^1] == '\r') line.Length--;
                return line.ToString();
            }
            _pos = _len;
        }
    }

    private bool Fill()
    {
        _pos = 0;
        _len = socket.Receive(_buffer);
        return _len > 0;
    }
}
