using Gocker.Syscalls;
using Gocker.Syscalls.Native;
using Gocker.Syscalls.Spawn;
using Gocker.Syscalls.Terminal;
using Gocker.Syscalls.Keeper;

namespace Gocker.Actors.Containers;

/// <summary>
/// The daemon's side of one run's interactive stdio (`-t` and/or `-i`).
/// - Tty: a pty whose slave becomes fds 0-2 of the init; the daemon keeps the master. A copier thread
///   writes everything the container writes to its terminal into its log as stdout (raw, as Docker's
///   tty mode has no stderr), so `logs` and every attached client see it; input goes to the master.
///   A copy of the master is handed to the daemon's terminal keeper (TerminalKeeper), so the terminal
///   outlives the daemon; a later daemon takes it back (Readopt) and the copier goes on.
/// - OpenStdin without a tty: fd 0 of the init is the read end of a pipe whose write end the daemon
///   holds; closing it (client EOF with StdinOnce) gives the container EOF.
/// Every descriptor is CLOEXEC and the spawner passes only fds 0-4, so none reaches another container.
/// </summary>
public sealed class ContainerStdio : IDisposable
{
    readonly Pty? _pty;
    readonly bool _tty;
    int _master = -1;
    int _stdinRead = -1, _stdinWrite = -1;
    readonly object _inputLock = new();
    Logs.LogWriter? _log;
    readonly TerminalKeeper? _keeper;
    readonly string _tag;
    readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    volatile bool _stop;
    Thread? _copier;

    public bool Tty => _tty;
    /// <summary>Already given to a run (a new run gets a new one).</summary>
    public bool IsSpawned { get; private set; }
    public bool StdinOnce { get; }
    /// <summary>Where the keeper holds this run's master (null: no keeper, or handing it over failed).</summary>
    public KeptTerminal? Kept { get; private set; }
    /// <summary>Completes when the copier has seen the end of the terminal (every slave closed) and
    /// written all of it to the log; at once without a tty.</summary>
    public Task Drained => _drained.Task;

    ContainerStdio(Pty? pty, int master, bool openStdin, bool stdinOnce, Logs.LogWriter? log, TerminalKeeper? keeper, string tag)
    {
        _pty = pty;
        _tty = pty is not null || master >= 0;
        _master = pty is not null ? pty.TakeMaster() : master;
        StdinOnce = stdinOnce;
        _log = log;
        _keeper = keeper;
        _tag = tag;
        if (!_tty)
        {
            _drained.SetResult();
            if (openStdin) (_stdinRead, _stdinWrite) = Sys.Pipe();
        }
    }

    /// <summary>Null when the container has neither a tty nor an open stdin (stdin is /dev/null).
    /// keeper (tty only) receives a copy of the master once the run is spawned, under tag.</summary>
    /// <param name="consoleSize">-t: the terminal's [height, width] at the start (Docker's ConsoleSize), else 24x80.</param>
    public static ContainerStdio? Create(bool tty, bool openStdin, bool stdinOnce, TerminalKeeper? keeper = null, string tag = "", int[]? consoleSize = null)
    {
        if (!tty && !openStdin) return null;
        ushort rows = consoleSize is [> 0 and <= 65535 and var h, _] ? (ushort)h : (ushort)24;
        ushort cols = consoleSize is [_, > 0 and <= 65535 and var w] ? (ushort)w : (ushort)80;
        return new ContainerStdio(tty ? Pty.Open(rows, cols) : null, -1, openStdin, stdinOnce, null, tty ? keeper : null, tag);
    }

    /// <summary>
    /// After a daemon restart: the running container's terminal, taken back from the keeper that
    /// holds its master (see TerminalKeeper.TakeBack), with the copier running again. Null with the
    /// reason when it cannot be had (keeper gone or not the recorded process): the container then
    /// runs on without a terminal.
    /// </summary>
    public static ContainerStdio? Readopt(KeptTerminal kept, TerminalKeeper keeper, string tag, bool stdinOnce, Logs.LogWriter log, out string why)
    {
        int master = TerminalKeeper.TakeBack(kept, out why);
        if (master < 0) return null;
        var stdio = new ContainerStdio(null, master, openStdin: false, stdinOnce, log, keeper, tag) { Kept = kept };
        stdio.IsSpawned = true;
        stdio.StartCopier();
        return stdio;
    }

    /// <summary>The spawn request with this run's descriptors as fds 0-2 (the spawner dups them).</summary>
    public SpawnRequest Apply(SpawnRequest r) => _pty is not null
        ? r with { StdinFd = _pty.Slave, StdoutFd = _pty.Slave, StderrFd = _pty.Slave }
        : r with { StdinFd = _stdinRead };

    /// <summary>After the spawn: drop our copies of the child's ends (so EOF/hang-up work), start
    /// copying the terminal's output into log, and hand a copy of the master to the keeper. Returns a
    /// warning when the keeper could not take it (the terminal then ends with this daemon).</summary>
    public string? Spawned(Logs.LogWriter log)
    {
        IsSpawned = true;
        _log = log;
        Sys.Close(_stdinRead); _stdinRead = -1;
        if (_pty is null) return null;
        _pty.CloseSlave();
        StartCopier();
        if (_keeper is null) return null;
        try { Kept = _keeper.Hold(_tag, _master); return null; }
        catch (Exception ex) { return $"its terminal will not survive a daemon restart: {ex.Message}"; }
    }

    void StartCopier()
    {
        _copier = new Thread(CopyOutput, 128 * 1024) { IsBackground = true, Name = "gocker-pty" };
        _copier.Start();
    }

    void CopyOutput()
    {
        try
        {
            var buf = new byte[16 * 1024];
            int master = _master;
            while (true)
            {
                if (!Pty.WaitReadable(master, 100))
                {
                    if (_stop) return;
                    continue;
                }
                int n = Pty.Read(master, buf);
                if (n == 0) return; // every slave closed: the container's processes are gone
                // Never throws: on a full disk the chunk is dropped (and reported) and reading goes
                // on, so the container never blocks on its terminal.
                _log?.Write(1, buf.AsSpan(0, n));
            }
        }
        catch (Exception) { /* the terminal failed: nothing left to copy */ }
        finally { _drained.TrySetResult(); }
    }

    /// <summary>Writes client input to the container (master or stdin pipe). False once input is closed.</summary>
    public bool WriteInput(ReadOnlySpan<byte> data)
    {
        lock (_inputLock)
        {
            bool ok = _tty ? _master >= 0 && Pty.WriteAll(_master, data)
                : _stdinWrite >= 0 && Sys.WriteAll(_stdinWrite, data);
            if (ok) Interlocked.Add(ref _inputBytes, data.Length);
            return ok;
        }
    }

    long _inputBytes;
    /// <summary>Input bytes written to the container so far (all clients).</summary>
    public long InputBytes => Interlocked.Read(ref _inputBytes);

    /// <summary>The client's input ended: the container reads EOF on its stdin pipe. A terminal has no
    /// such end (Docker ignores it too): nothing happens.</summary>
    public void CloseInput()
    {
        lock (_inputLock) { Sys.Close(_stdinWrite); _stdinWrite = -1; }
    }

    public void Resize(ushort rows, ushort cols)
    {
        if (!_tty) throw new InvalidOperationException("the container has no terminal (run it with -t)");
        lock (_inputLock)
            if (_master >= 0) Pty.SetWindowSize(_master, rows, cols);
    }

    /// <summary>The run is over: waits (bounded) for the copier to reach the end of the terminal, closes
    /// everything, and tells the keeper to drop its copy. (Dispose alone, as at a daemon's shutdown,
    /// leaves the keeper's copy: the terminal lives on for the next daemon.)</summary>
    public async Task FinishAsync(TimeSpan drainTimeout)
    {
        await Task.WhenAny(_drained.Task, Task.Delay(drainTimeout));
        Dispose();
        if (Kept is { } kept && _keeper is not null) _keeper.Release(kept, _tag);
        Kept = null;
    }

    public void Dispose()
    {
        _stop = true;
        _copier?.Join(TimeSpan.FromSeconds(2));
        lock (_inputLock)
        {
            Sys.Close(_stdinRead); _stdinRead = -1;
            Sys.Close(_stdinWrite); _stdinWrite = -1;
            _pty?.Dispose();
            Sys.Close(_master); _master = -1;
        }
    }
}
