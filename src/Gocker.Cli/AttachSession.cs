using System.Runtime.InteropServices;
using Gocker.Api;
using Gocker.Cli.Commands;
using Gocker.Cli.Http;
using Gocker.Syscalls.Terminal;

namespace Gocker.Cli;

/// <summary>How the console attaches: a terminal (raw mode, window size, detach keys) or not, with
/// our stdin forwarded or not, signals proxied (non-tty) or not. Tty null: not known beforehand
/// (`start -a` does not inspect): the attach answer says it (a raw stream is a terminal's).</summary>
public sealed record AttachOptions(bool? Tty, bool Stdin, byte[] DetachKeys, bool SigProxy);

/// <summary>
/// One attach, docker's shape: with stdin (or a known terminal) the hijacked connection (101: the
/// container's output to us, our stdin to the container), otherwise the plain output stream. It is
/// what `run` (without -d), `start -a [-i]` and `attach` share: for run/start, attach and wait are
/// in place before start, so no output and no exit is missed. With a tty and stdin the user's
/// terminal is in raw mode for exactly as long as we are attached, restored on every way out
/// (return, exception, SIGTERM/SIGHUP/SIGQUIT); its size is sent at start and on every SIGWINCH; the
/// detach keys (Ctrl-P Ctrl-Q) end the session and leave the container running.
/// </summary>
public sealed class AttachSession
{
    // Docker's daemon answers attach's head at once; waiting for it is what guarantees the attach is in
    // place before start. The bound only keeps a daemon that delays the head from hanging the console.
    static readonly TimeSpan HeadTimeout = TimeSpan.FromSeconds(2);
    // When the attach stream already carried the exit code, the wait answer is only needed for --rm
    // (removal done); don't hang for ever if it never comes.
    static readonly TimeSpan WaitAfterExitTimeout = TimeSpan.FromSeconds(10);

    readonly CliContext _ctx;
    readonly string _id;
    readonly AttachOptions _o;
    volatile bool _detached;

    AttachSession(CliContext ctx, string id, AttachOptions o) { _ctx = ctx; _id = id; _o = o; }

    /// <summary>Attaches (and, for run/start, starts), relays until the container exits or the user
    /// detaches. Returns the exit code to use (the container's; 0 after a detach).</summary>
    public static int Run(CliContext ctx, string id, AttachOptions o, bool start, string waitCondition) =>
        new AttachSession(ctx, id, o).Run(start, waitCondition);

    int Run(bool start, string waitCondition)
    {
        var client = _ctx.Client;
        bool hijack = _o.Stdin || _o.Tty == true;
        // Output only, known not to be a terminal's (`run` without -i/-t): the attach stream also
        // brings the run's end (gockerd's gockerWait), one request fewer than attach + wait.
        bool endInStream = !hijack && _o.Tty == false;
        using var attachExchange = hijack ? client.BeginHijack(_id, _o.Stdin)
            : client.BeginAttach(_id, endInStream ? waitCondition : null);
        using var waitExchange = endInStream ? null : client.BeginWait(_id, waitCondition);
        HttpResponse? attach = null;
        SignalProxy? proxy = null;
        try
        {
            if (attachExchange.WaitForAnswer(HeadTimeout)) attach = OpenAttach(attachExchange);
            // Before start, as docker does: a Ctrl-C right after start must reach the container, not
            // kill the console (which would leave the container running, detached from everything).
            // A terminal delivers Ctrl-C itself (raw mode) or the user's console goes (no stdin).
            if (_o.SigProxy && !(_o.Tty ?? IsTerminalStream(attach))) proxy = SignalProxy.Install(signal => client.Kill(_id, signal));
            // The wait's head too: gockerd sends it once the wait is registered with the container,
            // so an exit (or the --rm removal) right after start cannot slip past it.
            waitExchange?.WaitForAnswer(HeadTimeout);
            if (start && !RunCommands.TryStart(_ctx, _id, out int startCode)) return startCode;
            attach ??= OpenAttach(attachExchange);
            _ctx.IO.Flush();
            return Relay(attach, waitExchange, _o.Tty ?? IsTerminalStream(attach));
        }
        finally
        {
            attach?.Dispose();
            proxy?.Dispose();
        }
    }

    static bool IsTerminalStream(HttpResponse? attach) =>
        attach?.ContentType is { } type && !type.StartsWith(GockerClient.MultiplexedContentType, StringComparison.OrdinalIgnoreCase);

    HttpResponse OpenAttach(HttpExchange exchange)
    {
        var attach = exchange.ReadResponse();
        try
        {
            GockerClient.EnsureSuccess(attach);
            if (_o.Stdin && attach.StatusCode != 101)
                throw new IOException($"the daemon answered the attach with {attach.StatusCode} instead of upgrading the connection");
            return attach;
        }
        catch
        {
            attach.Dispose();
            throw;
        }
    }

    /// <summary>The attached part: the terminal set up (raw, size), stdin pumped, output copied until
    /// the stream ends (the run is over) or the user detaches.</summary>
    int Relay(HttpResponse attach, HttpExchange? waitExchange, bool tty)
    {
        TerminalMode? raw = null;
        var registrations = new List<PosixSignalRegistration>();
        try
        {
            if (tty && _o.Stdin)
            {
                raw = TerminalMode.MakeRaw(0);
                // A signal that ends the console must not leave the user's terminal raw.
                foreach (var sig in new[] { PosixSignal.SIGTERM, PosixSignal.SIGHUP, PosixSignal.SIGQUIT })
                    registrations.Add(PosixSignalRegistration.Create(sig, _ => raw?.Restore()));
            }
            if (tty)
            {
                registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGWINCH, c =>
                {
                    c.Cancel = true;
                    ThreadPool.QueueUserWorkItem(_ => SendSize());
                }));
                SendSize();
            }
            if (_o.Stdin)
                new Thread(() => PumpInput(attach.Connection, tty)) { IsBackground = true, Name = "stdin" }.Start();

            WaitResponse? streamEnd = null;
            try
            {
                if (tty) MultiplexPump.PumpRaw(attach.Body, _ctx.IO.StdOut);
                else streamEnd = MultiplexPump.Pump(attach.Body, _ctx.IO.StdOut, _ctx.IO.StdErr);
            }
            catch (Exception e) when (_detached && e is IOException or ObjectDisposedException) { }
            if (_detached) return 0;
            return ReadExit(waitExchange, streamEnd);
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
    void PumpInput(UnixSocket connection, bool tty)
    {
        var buf = new byte[4096];
        var matcher = tty ? new DetachKeyMatcher(_o.DetachKeys) : null;
        try
        {
            while (true)
            {
                int n;
                try { n = Pty.Read(0, buf); }
                catch (Exception) { n = 0; }
                if (n == 0)
                {
                    if (!tty) _ctx.Client.CloseStdin(_id, _sent);
                    return;
                }
                if (matcher is null) { Send(connection, buf.AsSpan(0, n)); continue; }
                var (forward, detach) = matcher.Feed(buf.AsSpan(0, n));
                if (forward.Length > 0) Send(connection, forward);
                if (detach)
                {
                    _detached = true;
                    connection.ShutdownBoth();
                    return;
                }
            }
        }
        catch (Exception e) when (e is ObjectDisposedException or IOException or ApiException or Http.DaemonUnreachableException) { /* the session ended */ }
    }

    long _sent;

    void Send(UnixSocket s, ReadOnlySpan<byte> data)
    {
        _sent += data.Length;
        s.Send(data);
    }

    /// <summary>The exit code: from the wait's answer, on its own request or (waitExchange null) at the
    /// end of the attach stream.</summary>
    int ReadExit(HttpExchange? waitExchange, WaitResponse? streamEnd)
    {
        if (waitExchange is null)
        {
            if (streamEnd is null)
            {
                _ctx.IO.Error("error waiting for container: the daemon ended the output without the container's exit status");
                return 125;
            }
            return ExitCode(streamEnd);
        }
        int? streamExit = streamEnd?.StatusCode;
        try
        {
            if (streamExit is not null && !waitExchange.WaitForAnswer(WaitAfterExitTimeout)) return streamExit.Value;
            using var r = waitExchange.ReadResponse();
            if (r.StatusCode == 404 && streamExit is not null) return streamExit.Value;
            GockerClient.EnsureSuccess(r);
            return ExitCode(SmallAnswers.WaitResponse(r.ReadBodyBytes()));
        }
        catch (Exception e) when (streamExit is not null && e is IOException or ApiException or System.Text.Json.JsonException)
        {
            return streamExit.Value;
        }
    }

    int ExitCode(WaitResponse wait) => ExitCode(_ctx, wait);

    static int ExitCode(CliContext ctx, WaitResponse wait)
    {
        if (wait.GockerStartFailed == true)
        {
            ctx.IO.Error("Error response from daemon: " + wait.Error?.Message);
            return wait.StatusCode;
        }
        if (!string.IsNullOrEmpty(wait.Error?.Message))
        {
            ctx.IO.Error("error waiting for container: " + wait.Error.Message);
            return 125;
        }
        return wait.StatusCode;
    }

    /// <summary>`run` without -d/-i/-t in one request (gockerd's gockerRun, 200): the stream's first
    /// frame is the create's answer, then the output, then the run's end (or a start failure).</summary>
    public static int RunCreated(CliContext ctx, HttpResponse stream, bool sigProxy, Action<ContainerCreateResponse> created)
    {
        var header = new byte[Multiplex.HeaderSize];
        stream.Body.ReadExactly(header);
        var (kind, length) = Multiplex.ReadHeader(header);
        if (kind != Multiplex.System || length is <= 0 or > 64 * 1024)
            throw new IOException("the daemon's run stream did not begin with the created container");
        var payload = new byte[length];
        stream.Body.ReadExactly(payload);
        var answer = SmallAnswers.CreateResponse(payload);
        created(answer);
        // The container is starting already: from here a Ctrl-C goes to it, as docker's proxy does.
        using var proxy = sigProxy ? SignalProxy.Install(signal => ctx.Client.Kill(answer.Id, signal)) : null;
        ctx.IO.Flush();
        var end = MultiplexPump.Pump(stream.Body, ctx.IO.StdOut, ctx.IO.StdErr);
        if (end is null)
        {
            ctx.IO.Error("error waiting for container: the daemon ended the output without the container's exit status");
            return 125;
        }
        return ExitCode(ctx, end);
    }
}
