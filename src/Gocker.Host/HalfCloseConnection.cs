using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using Tmds.Linux;

namespace Gocker.Host;

/// <summary>
/// Lets a client half-close: docker's CLI ends its input on a hijacked attach/exec connection with
/// shutdown(SHUT_WR) and then reads the rest of the output. Kestrel (socket transport) takes any FIN
/// for the end of the connection: its receive loop completes the input and fires the connection's
/// ConnectionClosed token, on which HttpConnection calls Http1Connection.OnInputOrOutputCompleted,
/// which aborts the response output (and the socket): the output after the half-close was lost.
///
/// This connection middleware gives Kestrel's HTTP layer a ConnectionClosed token of its own that
/// fires only when the client is really gone. On a Unix socket the two are told apart exactly: a
/// peer that closed (or whose socket died) leaves ours fully shut down (POLLHUP); a peer that only
/// shut its write side leaves POLLRDHUP alone. After a half-close the input still ends as before (a
/// 0-byte read: stdin's EOF for attach and exec), the output keeps flowing, and a poll every
/// <see cref="WatchPeriod"/> notices when the client goes for good (then ConnectionClosed fires, as
/// Kestrel would have).
/// </summary>
internal sealed class HalfCloseConnection : ConnectionContext
{
    static readonly TimeSpan WatchPeriod = TimeSpan.FromMilliseconds(250);

    readonly ConnectionContext _inner;
    readonly CancellationTokenSource _closed = new();
    readonly Socket? _socket;
    Timer? _watch;

    HalfCloseConnection(ConnectionContext inner)
    {
        _inner = inner;
        _socket = inner.Features.Get<IConnectionSocketFeature>()?.Socket;
        ConnectionClosed = _closed.Token;
        inner.ConnectionClosed.UnsafeRegister(static s => ((HalfCloseConnection)s!).OnTransportClosed(), this);
    }

    /// <summary>For ListenOptions.Use: every connection of the listener goes through it.</summary>
    public static ConnectionDelegate Middleware(ConnectionDelegate next) =>
        context => next(new HalfCloseConnection(context));

    void OnTransportClosed()
    {
        if (PeerGone()) { Close(); return; }
        // Half-closed: the client still reads. Watch for its real end.
        _watch = new Timer(static s =>
        {
            var c = (HalfCloseConnection)s!;
            if (c.PeerGone()) c.Close();
        }, this, WatchPeriod, WatchPeriod);
    }

    void Close()
    {
        _watch?.Dispose();
        try { _closed.Cancel(); } catch (ObjectDisposedException) { }
    }

    /// <summary>True unless the socket is open and only its read side is shut (no POLLHUP/POLLERR).
    /// Without the socket (another transport) there is no telling: gone, as Kestrel assumes.</summary>
    unsafe bool PeerGone()
    {
        if (_socket is null) return true;
        // Disposed by the transport (the usual end of a request's connection): gone. Checked first
        // because SafeHandle throws ObjectDisposedException then, an exception on every connection.
        if (!_socket.Connected) return true;
        var handle = _socket.SafeHandle;
        bool added = false;
        try
        {
            // The reference keeps the descriptor from being closed (and its number reused) under the poll.
            handle.DangerousAddRef(ref added);
            if (handle.IsClosed || handle.IsInvalid) return true;
            var p = new pollfd { fd = (int)handle.DangerousGetHandle(), events = 0 };
            int n = LibC.poll(&p, 1, 0);
            int hangups = (ushort)LibC.POLLHUP | (ushort)LibC.POLLERR | (ushort)LibC.POLLNVAL;
            return n != 0 && (n < 0 || ((ushort)p.revents & hangups) != 0);
        }
        catch (ObjectDisposedException) { return true; }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    public override string ConnectionId { get => _inner.ConnectionId; set => _inner.ConnectionId = value; }
    public override IFeatureCollection Features => _inner.Features;
    public override IDictionary<object, object?> Items { get => _inner.Items; set => _inner.Items = value; }
    public override System.IO.Pipelines.IDuplexPipe Transport { get => _inner.Transport; set => _inner.Transport = value; }
    public override System.Net.EndPoint? LocalEndPoint { get => _inner.LocalEndPoint; set => _inner.LocalEndPoint = value; }
    public override System.Net.EndPoint? RemoteEndPoint { get => _inner.RemoteEndPoint; set => _inner.RemoteEndPoint = value; }
    public override void Abort(ConnectionAbortedException abortReason) => _inner.Abort(abortReason);

    public override ValueTask DisposeAsync()
    {
        Close();
        return _inner.DisposeAsync();
    }
}
