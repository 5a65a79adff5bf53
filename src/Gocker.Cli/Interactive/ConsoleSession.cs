using System.Diagnostics;
using System.Runtime.InteropServices;
using Gocker.Cli.Commands;
using Gocker.Cli.Http;

namespace Gocker.Cli.Interactive;

/// <summary>
/// `gocker console`: a prompt where each line is a gocker command line (`ps -a`, `run --rm busybox
/// echo hi`), with the daemon's events printed live above the prompt. Each line is split with shell
/// rules (<see cref="ShellWords"/>) and run by this same gocker binary as a child process, so the
/// command tree, its parser and its behaviour are exactly the CLI's, and Ctrl-C, `run -it`, `logs -f`
/// or a failing command act on that command alone, never on the session. On a terminal the line
/// editor gives editing and history (~/.gocker_history); otherwise lines are read plainly (scripts,
/// pipes). `exit`, `quit` or end of input leaves; containers keep running.
/// </summary>
public sealed class ConsoleSession
{
    public const string Prompt = "gocker> ";

    readonly CliContext _ctx;
    readonly Func<string[], int> _run;
    readonly bool _tty;
    readonly ConsoleOutput _out;
    readonly LineEditor? _editor;
    readonly History _history;
    volatile bool _stopping;
    HttpResponse? _eventStream;
    readonly object _streamLock = new();

    /// <param name="run">Runs one command line (argv without "gocker"); returns its exit code.</param>
    public ConsoleSession(CliContext ctx, bool tty, Func<string[], int> run, string? historyPath)
    {
        _ctx = ctx;
        _run = run;
        _tty = tty;
        _out = new ConsoleOutput(ctx.IO.StdOut);
        _history = new History(tty ? historyPath : null);
        _editor = tty ? new LineEditor(_out, _history) : null;
    }

    public int Run(TextReader? plainInput = null)
    {
        // Reach the daemon before showing a prompt: a wrong -H fails here, with the usual message.
        var stream = EventCommands.Open(_ctx.Client, "");
        _eventStream = stream;
        var pump = new Thread(() => PumpEvents(stream)) { IsBackground = true, Name = "console-events" };
        pump.Start();
        // While a command runs, Ctrl-C is for that command (it shares the terminal), not for us.
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => c.Cancel = true);
        using var sigquit = PosixSignalRegistration.Create(PosixSignal.SIGQUIT, c => c.Cancel = true);
        if (_tty)
            _out.Write("gocker console: type gocker commands (ps, run, logs, stop, ...); events show as they happen.\n" +
                       "'help' lists the commands; 'exit' or Ctrl-D leaves (containers keep running).\n");
        var input = plainInput ?? new StreamReader(Console.OpenStandardInput());
        try
        {
            while (true)
            {
                var line = _tty ? _editor!.ReadLine(Prompt) : input.ReadLine();
                if (line is null) break;
                string[] args;
                try { args = ShellWords.Split(line); }
                catch (FormatException e) { _out.Write("gocker: " + e.Message + "\n"); continue; }
                if (args.Length == 0) continue;
                _history.Add(line);
                if (args is ["exit" or "quit", ..]) break;
                if (args[0] == "console") { _out.Write("gocker: already in the console\n"); continue; }
                if (args is ["help"]) args = ["--help"];
                _run(args);
            }
        }
        finally
        {
            Stop();
            pump.Join(TimeSpan.FromSeconds(2));
        }
        return 0;
    }

    void Print(string line)
    {
        if (_editor is not null) _editor.PrintAbove(line);
        else _out.Write(line + "\n");
    }

    /// <summary>Shows events until the session ends; reconnects (resuming after the last event
    /// seen) if the daemon goes away and comes back.</summary>
    void PumpEvents(HttpResponse first)
    {
        long lastNano = 0;
        var stream = first;
        bool warned = false;
        while (!_stopping)
        {
            try
            {
                EventCommands.Pump(stream, Print, null, m =>
                {
                    if (m.TimeNano <= lastNano) return false; // already shown before a reconnect
                    lastNano = m.TimeNano;
                    return true;
                });
                if (_stopping) return;
                if (!warned) Print("gocker: the event stream ended; reconnecting...");
                warned = true;
            }
            catch (Exception e) when (!_stopping)
            {
                if (!warned) Print("gocker: lost the event stream (" + e.Message + "); reconnecting...");
                warned = true;
            }
            catch { return; }
            finally { stream.Dispose(); }
            while (!_stopping)
            {
                Thread.Sleep(1000);
                try
                {
                    var since = lastNano > 0 ? Gocker.Api.EventTimes.FromUnixNanos(lastNano) : (DateTimeOffset?)null;
                    stream = EventCommands.Open(_ctx.Client, EventCommands.Query(since, null, null));
                    lock (_streamLock)
                    {
                        if (_stopping) { stream.Dispose(); return; }
                        _eventStream = stream;
                    }
                    Print("gocker: event stream back");
                    warned = false;
                    break;
                }
                catch (Exception) { /* daemon still away */ }
            }
        }
    }

    void Stop()
    {
        lock (_streamLock)
        {
            _stopping = true;
            // Closing the socket ends the pump's blocking read.
            try { _eventStream?.Dispose(); } catch { }
        }
    }

    /// <summary>Runs one line as `gocker ARGS` (this binary), the daemon's address passed on in
    /// GOCKER_HOST so that a -H typed on the line still wins. Off a terminal the child gets an
    /// empty stdin: the lines after it are the console's, not the command's.</summary>
    public static Func<string[], int> ChildRunner(string exe, string hostUri, bool tty, CliIO io) => args =>
    {
        var psi = new ProcessStartInfo(exe) { UseShellExecute = false, RedirectStandardInput = !tty };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment[HostAddress.EnvVar] = hostUri;
        try
        {
            using var p = Process.Start(psi)!;
            if (!tty) p.StandardInput.Close();
            p.WaitForExit();
            return p.ExitCode;
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or IOException)
        {
            io.Error($"cannot run {exe}: {e.Message}");
            return 1;
        }
    };
}
