using Gocker.Syscalls;
using Gocker.Syscalls.Keeper;
using Gocker.Syscalls.Native;
using Gocker.Syscalls.Spawn;
using static Gocker.Syscalls.Native.Consts;

namespace Gocker.Actors.Containers;

/// <summary>
/// A non-tty run's stdout and stderr: two pipes whose write ends become the init's fds 1 and 2, and
/// whose read ends the daemon keeps. The container never holds a host file (issue #16: a log file
/// opened in the container could be reopened through /proc/self/fd/1, truncated or read back); the
/// daemon-wide OutputCopier writes what arrives into the container's log (LogWriter).
/// A copy of each read end goes to the keeper (TerminalKeeper.HoldPipes), so a daemon crash leaves the
/// pipes a reader (the container never gets SIGPIPE; what it writes meanwhile waits in the pipe, and
/// it blocks once the pipe is full) and the next daemon takes them back (Readopt) and copies on.
/// </summary>
public sealed class ContainerOutput
{
    /// <summary>Pipe capacity asked for: bursts up to this size never block the container.</summary>
    const int WantedPipeSize = 256 * 1024;
    static readonly Lazy<int> pipeSize = new(() =>
    {
        try { return Math.Min(WantedPipeSize, int.Parse(File.ReadAllText("/proc/sys/fs/pipe-max-size").Trim(), System.Globalization.CultureInfo.InvariantCulture)); }
        catch (Exception) { return 0; }
    });

    readonly OutputCopier.Stream _out, _err;
    int _outWrite = -1, _errWrite = -1;
    Task<KeptPipes?>? _handOff;

    /// <summary>Where the keeper holds this run's read ends (null: not handed over, or it failed).</summary>
    public KeptPipes? Kept { get; private set; }

    ContainerOutput(OutputCopier.Stream o, OutputCopier.Stream e, int outWrite, int errWrite, KeptPipes? kept)
    {
        _out = o; _err = e; _outWrite = outWrite; _errWrite = errWrite; Kept = kept;
    }

    /// <summary>Fresh pipes for a run (each start, restarts included), already being copied.</summary>
    public static ContainerOutput Create(Logs.LogWriter log)
    {
        var (outR, outW) = Sys.Pipe();
        var (errR, errW) = (-1, -1);
        OutputCopier.Stream? o = null;
        try
        {
            (errR, errW) = Sys.Pipe();
            Resize(outW); Resize(errW);
            o = OutputCopier.Shared.Add(outR, log, 1);
            outR = -1;
            var e = OutputCopier.Shared.Add(errR, log, 2);
            return new ContainerOutput(o, e, outW, errW, null);
        }
        catch
        {
            if (o is not null) OutputCopier.Shared.Remove(o);
            foreach (var fd in new[] { outR, outW, errR, errW }) Sys.Close(fd);
            throw;
        }
    }

    static void Resize(int fd)
    {
        // Best effort: a smaller pipe (the default 64 KiB) only means the container blocks sooner.
        if (pipeSize.Value > 0) Libc.fcntl(fd, F_SETPIPE_SZ, pipeSize.Value);
    }

    /// <summary>After a daemon restart: the pipes taken back from the keeper, copied again. Null with
    /// the reason when they cannot be had (the keeper is gone or is another process).</summary>
    public static ContainerOutput? Readopt(KeptPipes kept, Logs.LogWriter log, out string why)
    {
        int outR = TerminalKeeper.TakeBackPipe(kept, stdout: true, out why);
        if (outR < 0) return null;
        int errR = TerminalKeeper.TakeBackPipe(kept, stdout: false, out why);
        if (errR < 0) { Sys.Close(outR); return null; }
        // What waits in the pipes now was written while no daemon read them (see ContainerActor.ReportLogGap).
        var backlog = Pending(outR) + Pending(errR);
        OutputCopier.Stream? o = null;
        try
        {
            o = OutputCopier.Shared.Add(outR, log, 1);
            outR = -1;
            var e = OutputCopier.Shared.Add(errR, log, 2);
            return new ContainerOutput(o, e, -1, -1, kept) { Backlog = backlog };
        }
        catch (Exception ex)
        {
            if (o is not null) OutputCopier.Shared.Remove(o);
            Sys.Close(outR); Sys.Close(errR);
            why = ex.Message;
            return null;
        }
    }

    /// <summary>Bytes that were waiting in the pipes when they were taken back (Readopt), 0 otherwise.</summary>
    public long Backlog { get; private init; }

    static unsafe long Pending(int fd)
    {
        int n = 0;
        return Libc.ioctl(fd, 0x541B /* FIONREAD */, &n) == 0 ? n : 0;
    }

    /// <summary>The spawn request with the write ends as fds 1 and 2 (the spawner dups them).</summary>
    public SpawnRequest Apply(SpawnRequest r) => r with { StdoutFd = _outWrite, StderrFd = _errWrite };

    /// <summary>After the spawn: our copies of the write ends are closed (so EOF comes when the
    /// container's last writer goes), and copies of the read ends go to the keeper on the thread pool
    /// (off the start's path); HandedOff completes with where the keeper holds them, or null.</summary>
    public void Spawned(TerminalKeeper keeper, string tag, Action<string> warn)
    {
        CloseWriteEnds();
        int o = _out.Fd, e = _err.Fd;
        _handOff = Task.Run(() =>
        {
            try { return Kept = keeper.HoldPipes(tag, o, e); }
            catch (Exception ex) { warn($"its output pipes will not survive a daemon restart: {ex.Message}"); return null; }
        });
    }

    /// <summary>Where the keeper holds the read ends, once the hand-off is done (null without one).</summary>
    public Task<KeptPipes?> HandedOff => _handOff ?? Task.FromResult(Kept);

    void CloseWriteEnds()
    {
        Sys.Close(Interlocked.Exchange(ref _outWrite, -1));
        Sys.Close(Interlocked.Exchange(ref _errWrite, -1));
    }

    /// <summary>The run is over: waits (bounded) until the copier has read both pipes to EOF, so all
    /// the output is in the logs before the exit is announced. Then ReleaseAsync closes the read ends
    /// and the keeper's copies (off the announcement's path).</summary>
    public async Task DrainAsync(TimeSpan drainTimeout)
    {
        CloseWriteEnds(); // a start that failed before the spawn still has them
        await Task.WhenAny(Task.WhenAll(_out.Ended, _err.Ended), Task.Delay(drainTimeout));
    }

    /// <summary>After DrainAsync: closes the read ends once the keeper has had its copies of them (a
    /// hand-off still under way uses them), then has the keeper close its copies (it exits once it
    /// holds nothing, and the release waits for that).</summary>
    public async Task ReleaseAsync(TerminalKeeper keeper, string tag)
    {
        var kept = await HandedOff;
        OutputCopier.Shared.Remove(_out);
        OutputCopier.Shared.Remove(_err);
        Kept = null;
        if (kept is not null) await Task.Run(() => keeper.ReleasePipes(kept, tag));
    }

    /// <summary>Closes the daemon's ends only (a daemon shutting down): the keeper's copies stay, for
    /// the next daemon.</summary>
    public void Dispose()
    {
        CloseWriteEnds();
        _handOff?.Wait(TimeSpan.FromSeconds(6)); // it uses the read ends (bounded by the keeper's 5 s)
        OutputCopier.Shared.Remove(_out);
        OutputCopier.Shared.Remove(_err);
    }
}
