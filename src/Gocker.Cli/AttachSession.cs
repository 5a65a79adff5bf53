using System.Net.Sockets;
using System.Runtime.InteropServices;
using Gocker.Cli.Http;
using Gocker.Syscalls.Terminal;

namespace Gocker.Cli;

/// <summary>How the console attaches: a terminal (raw mode, window size, detach keys) or not, with
/// our stdin forwarded or not, signals proxied (non-tty) or not.</summary>
public sealed record AttachOptions(bool Tty, bool Stdin, byte[] DetachKeys, bool SigProxy);

/// <summary>
/// One hijacked attach (docker's shape): the daemon answers 101 and the connection carries the
/// container's output to us and our stdin to the container. With a tty the user's terminal is in raw
/// mode for exactly as long as we are attached, restored on every way out (return, exception,
/// SIGTERM/SIGHUP/SIGQUIT); its size is sent at start and on every SIGWINCH; the detach keys
/// (Ctrl-P Ctrl-Q) end the session and leave the container running.
/// </summary>
public sealed class AttachSession
{
    static readonly TimeSpan HeadTimeout = TimeSpan.FromSeconds(2);
    static readonly TimeSpan WaitAfterExitTimeout = TimeSpan.FromSeconds(10);

    readonly CliContext _ctx;
    readonly string _id;
    readonly AttachOptions _o;
    volatile bool _detached;

    AttachSession(CliContext ctx, string id, AttachOptions o) { _ctx = ctx; _id = id; _o = o; }

    /// <summary>Attaches (and, for run/start, starts: attach and wait are in place first so nothing is
    /// missed), relays until the container exits or the user detaches. Returns the exit code to use.</summary>
    public static int Run(CliContext ctx, string id, AttachOptions o, bool start, string waitCondition) =>
        new AttachSession(ctx, id, o).Run(start, waitCondition);

    int Run(bool start, string waitCondition)
    {
        var client = _ctx.Client;
        using var attachExchange = client.BeginHijack(_id, _o.Stdin);
        using var waitExchange = client.BeginWait(_id, waitCondition);
        using var proxy = !_o.Tty && _o.SigProxy ? SignalProxy.Install(signal => client.Kill(_id, signal)) : null;
        using var attach = attachExchange.ReadResponse();
        if (attach.StatusCode != 101)
        {
            GockerClient.EnsureSuccess(attach);
            throw new IOException($"the daemon answered the attach with {attach.StatusCode} instead of upgrading the connection");
        }
        waitExchange.WaitForAnswer(HeadTimeout);
        if (start)
        {
            try { client.Start(_id); }
            catch (ApiException e)
            {
                _ctx.IO.Error("Error response from daemon: " + e.Message);
                return e.ExitCode ?? 125;
            }
        }
        _ctx.IO.Flush();

        TerminalMode? raw = null;
        var registrations = new List<PosixSignalRegistration>();
        try
        {
            if (_o.Tty && _o.Stdin)
            {
                raw = TerminalMode.MakeRaw(0);
                // A signal that ends the console must not leave the user's terminal raw.
                foreach (var sig in new[] { PosixSignal.SIGTERM, PosixSignal.SIGHUP, PosixSignal.SIGQUIT })
                    registrations.Add(PosixSignalRegistration.Create(sig, _ => raw?.Restore()));
            }
            if (_o.Tty)
            {
                registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGWINCH, c =>
                {
                    c.Cancel = true;
                    ThreadPool.QueueUserWorkItem(_ => SendSize());
                }));
                SendSize();
            }
            if (_o.Stdin)
                new Thread(() => PumpInput(attach.Connection)) { IsBackground = true, Name = "stdin" }.Start();

            int? streamExit = null;
            try
            {
                if (_o.Tty) MultiplexPump.PumpRaw(attach.Body, _ctx.IO.StdOut);
                else streamExit = MultiplexPump.Pump(attach.Body, _ctx.IO.StdOut, _ctx.IO.StdErr);
            }
            catch (Exception e) when (_detached && e is IOException or SocketException or ObjectDisposedException) { }
            if (_detached) return 0;
            return ReadExit(waitExchange, streamExit);
        }
        finally
        {
            raw?.Restore();
            foreach (var r in registrations) r.Dispose();
        }
    }

    void SendSize()
    {
        if ((TerminalMode.WindowSize(1) ?? TerminalMode.WindowSize(0)) is not var (rows, cols)) return;
        try { _ctx.Client.Resize(_id, rows, cols); }
        catch (Exception) { /* the container may not run yet or any more: the next resize will do */ }
    }

    /// <summary>Our stdin to the connection. EOF (non-tty): the daemon is told to close the container's
    /// stdin once the bytes sent have arrived; not by a half-close, which Kestrel takes for the end of
    /// the whole connection. The detach keys close the connection (the daemon ends the session).</summary>
    void PumpInput(Socket connection)
    {
        var buf = new byte[4096];
        var matcher = _o.Tty ? new DetachKeyMatcher(_o.DetachKeys) : null;
        try
        {
            while (true)
            {
                int n;
                try { n = Pty.Read(0, buf); }
                catch (Exception) { n = 0; }
                if (n == 0)
                {
                    if (!_o.Tty) _ctx.Client.CloseStdin(_id, _sent);
                    return;
                }
                if (matcher is null) { Send(connection, buf.AsSpan(0, n)); continue; }
                var (forward, detach) = matcher.Feed(buf.AsSpan(0, n));
                if (forward.Length > 0) Send(connection, forward);
                if (detach)
                {
                    _detached = true;
                    connection.Shutdown(SocketShutdown.Both);
                    return;
                }
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or IOException or ApiException or Http.DaemonUnreachableException) { /* the session ended */ }
    }

    long _sent;

    void Send(Socket s, ReadOnlySpan<byte> data)
    {
        _sent += data.Length;
        while (!data.IsEmpty) data = data[s.Send(data)..];
    }

    int ReadExit(HttpExchange waitExchange, int? streamExit)
    {
        try
        {
            if (streamExit is not null && !waitExchange.WaitForAnswer(WaitAfterExitTimeout)) return streamExit.Value;
            using var r = waitExchange.ReadResponse();
            if (r.StatusCode == 404 && streamExit is not null) return streamExit.Value;
            GockerClient.EnsureSuccess(r);
            var wait = System.Text.Json.JsonSerializer.Deserialize(r.ReadBodyBytes(), GockerClient.Json.WaitResponse);
            if (wait is null) return streamExit ?? 125;
            if (!string.IsNullOrEmpty(wait.Error?.Message))
            {
                _ctx.IO.Error("error waiting for container: " + wait.Error.Message);
                return 125;
            }
            return wait.StatusCode;
        }
        catch (Exception e) when (streamExit is not null && e is IOException or SocketException or ApiException or System.Text.Json.JsonException)
        {
            return streamExit.Value;
        }
    }
}
