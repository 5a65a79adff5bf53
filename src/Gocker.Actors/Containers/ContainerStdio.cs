using Gocker.Syscalls;
using Gocker.Syscalls.Native;
using Gocker.Syscalls.Spawn;
using Gocker.Syscalls.Terminal;

namespace Gocker.Actors.Containers;

/// <summary>
/// The daemon's side of one run's interactive stdio (`-t` and/or `-i`).
/// - Tty: a pty whose slave becomes fds 0-2 of the init; the daemon keeps the master. A copier thread
///   appends everything the container writes to its terminal to stdout.log (raw, as Docker's tty mode
///   has no stderr), so `logs` and every attached client see it; input goes to the master.
/// - OpenStdin without a tty: fd 0 of the init is the read end of a pipe whose write end the daemon
///   holds; closing it (client EOF with StdinOnce) gives the container EOF.
/// Every descriptor is CLOEXEC and the spawner passes only fds 0-4, so none reaches another container.
/// The master dies with the daemon (the kernel then hangs up the terminal): see ARCHITECTURE.md.
/// </summary>
public sealed class ContainerStdio : IDisposable
{
    readonly Pty? _pty;
    int _stdinRead = -1, _stdinWrite = -1;
    readonly object _inputLock = new();
    readonly string _stdoutLog;
    readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    volatile bool _stop;
    Thread? _copier;

    public bool Tty => _pty is not null;
    /// <summary>Already given to a run (a new run gets a new one).</summary>
    public bool IsSpawned { get; private set; }
    public bool StdinOnce { get; }
    /// <summary>Completes when the copier has seen the end of the terminal (every slave closed) and
    /// written all of it to the log; at once without a tty.</summary>
    public Task Drained => _drained.Task;

    ContainerStdio(Pty? pty, bool openStdin, bool stdinOnce, string stdoutLog)
    {
        _pty = pty;
        StdinOnce = stdinOnce;
        _stdoutLog = stdoutLog;
        if (pty is null)
        {
            _drained.SetResult();
            if (openStdin) (_stdinRead, _stdinWrite) = Sys.Pipe();
        }
    }

    /// <summary>Null when the container has neither a tty nor an open stdin (stdin is /dev/null).</summary>
    public static ContainerStdio? Create(bool tty, bool openStdin, bool stdinOnce, string stdoutLog)
    {
        if (!tty && !openStdin) return null;
        return new ContainerStdio(tty ? Pty.Open(24, 80) : null, openStdin, stdinOnce, stdoutLog);
    }

    /// <summary>The spawn request with this run's descriptors as fds 0-2 (the spawner dups them).</summary>
    public SpawnRequest Apply(SpawnRequest r) => _pty is not null
        ? r with { StdinFd = _pty.Slave, StdoutFd = _pty.Slave, StderrFd = _pty.Slave }
        : r with { StdinFd = _stdinRead };

    /// <summary>After the spawn: drop our copies of the child's ends (so EOF/hang-up work) and start
    /// copying the terminal's output.</summary>
    public void Spawned()
    {
        IsSpawned = true;
        Sys.Close(_stdinRead); _stdinRead = -1;
        if (_pty is null) return;
        _pty.CloseSlave();
        _copier = new Thread(CopyOutput, 128 * 1024) { IsBackground = true, Name = "gocker-pty" };
        _copier.Start();
    }

    void CopyOutput()
    {
        try
        {
            using var log = new FileStream(_stdoutLog, new FileStreamOptions
            {
                Mode = FileMode.Append, Access = FileAccess.Write, Share = FileShare.ReadWrite | FileShare.Delete,
                BufferSize = 0, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead,
            });
            var buf = new byte[16 * 1024];
            int master = _pty!.Master;
            while (true)
            {
                if (!Pty.WaitReadable(master, 100))
                {
                    if (_stop) return;
                    continue;
                }
                int n = Pty.Read(master, buf);
                if (n == 0) return; // every slave closed: the container's processes are gone
                log.Write(buf, 0, n);
            }
        }
        catch (Exception) { /* the log dir was removed under us (rm -f): nothing left to copy to */ }
        finally { _drained.TrySetResult(); }
    }

    /// <summary>Writes client input to the container (master or stdin pipe). False once input is closed.</summary>
    public bool WriteInput(ReadOnlySpan<byte> data)
    {
        lock (_inputLock)
        {
            bool ok = _pty is not null ? _pty.Master >= 0 && Pty.WriteAll(_pty.Master, data)
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
        if (_pty is null) throw new InvalidOperationException("the container has no terminal (run it with -t)");
        lock (_inputLock)
            if (_pty.Master >= 0) Pty.SetWindowSize(_pty.Master, rows, cols);
    }

    /// <summary>Waits (bounded) for the copier to reach the end of the terminal, then closes everything.</summary>
    public async Task FinishAsync(TimeSpan drainTimeout)
    {
        await Task.WhenAny(_drained.Task, Task.Delay(drainTimeout));
        Dispose();
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
        }
    }
}
