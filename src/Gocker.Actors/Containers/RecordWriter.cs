using Akka.Event;

namespace Gocker.Actors.Containers;

/// <summary>
/// One container's state.json writes, in order, each one StateStore.Save (temp file, fsync, rename;
/// or, for a reserved record, a rewrite of its preallocated spare and an exchange).
/// A write can run behind (SaveBehind): the fsync (0.2-4 ms of disk wait here) then overlaps what the
/// actor does next instead of delaying it — the start's "running" record is written while the
/// command runs, so a short command's exit is not queued behind it. The caller decides what waits
/// for the write to be on disk (the start's answer does: once `start` returns, a daemon killed with
/// -9 finds the running record). A later record supersedes one not yet begun; Save (inline) first
/// waits for any write in flight, so the file never goes back to an older record. Only the
/// container's actor calls Save/SaveBehind (one at a time); Flush may be awaited from anywhere.
/// <para>A write that fails (a full disk, EIO) keeps the previous file as it was (the write goes to
/// another file first) and the record in memory stays right; the failure is reported once
/// ("state-write-failed", with the record's path and the state that could not be recorded, and a
/// warning in the daemon's log; again if a later state cannot be recorded either) and retried with backoff (0.25 s doubling to 30 s) until it is
/// written, or until a later record is (every save writes the newest). The write that lands after
/// failures reports "state-write-resumed".</para>
/// </summary>
public sealed class RecordWriter(string containerDir, ILoggingAdapter log, string id, bool reserve = false,
    RecordWriter.Reporter? report = null) : IDisposable
{
    /// <summary>Reports a record event: action ("state-write-failed" or "state-write-resumed") and attributes.</summary>
    public delegate void Reporter(string action, IReadOnlyList<(string Key, string Value)> attributes);

    static readonly TimeSpan FirstRetry = TimeSpan.FromMilliseconds(250);
    static readonly TimeSpan MaxRetry = TimeSpan.FromSeconds(30);

    readonly object _gate = new();
    ContainerRecord? _pending;
    bool _busy;
    Task _running = Task.CompletedTask;
    /// <summary>The newest record that is not on disk (its write failed); null when the disk is current.</summary>
    ContainerRecord? _unwritten;
    TimeSpan _delay;
    Timer? _retry;
    bool _closed;

    string Path => System.IO.Path.Combine(containerDir, StateStore.FileName);

    /// <summary>Whether the last record handed over is not on disk yet (a failed write awaiting its retry).</summary>
    public bool Behind { get { lock (_gate) return _unwritten is not null; } }

    /// <summary>Hands the record to a thread-pool write; the task completes once it (or a later
    /// record) is written or has failed. Never faults: a failed write is reported and retried.</summary>
    public Task SaveBehind(ContainerRecord record)
    {
        lock (_gate)
        {
            _pending = record;
            if (!_busy)
            {
                _busy = true;
                _running = Task.Run(Drain);
            }
            return _running;
        }
    }

    /// <summary>Writes the record now, after any write in flight (a pending older one is dropped).</summary>
    public void Save(ContainerRecord record)
    {
        TaskCompletionSource done;
        while (true)
        {
            Task inFlight;
            lock (_gate)
            {
                _pending = null;
                if (!_busy)
                {
                    // Busy while it writes, so a retry cannot start an older record's write meanwhile.
                    _busy = true;
                    done = new(TaskCreationOptions.RunContinuationsAsynchronously);
                    _running = done.Task;
                    break;
                }
                inFlight = _running;
            }
            inFlight.Wait();
        }
        try { Write(record); }
        finally
        {
            lock (_gate) _busy = false;
            done.SetResult();
        }
    }

    /// <summary>Completes when every record handed over has been written or has failed (e.g. before
    /// the directory is removed).</summary>
    public Task Flush()
    {
        lock (_gate) return _running;
    }

    /// <summary>No more retries (the container is removed or the daemon stops).</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            _closed = true;
            _retry?.Dispose();
            _retry = null;
        }
    }

    void Drain()
    {
        while (true)
        {
            ContainerRecord record;
            lock (_gate)
            {
                if (_pending is null)
                {
                    _busy = false;
                    return;
                }
                record = _pending;
                _pending = null;
            }
            Write(record);
        }
    }

    void Write(ContainerRecord record)
    {
        try { StateStore.Save(containerDir, record, reserve); }
        catch (DirectoryNotFoundException) when (!Directory.Exists(containerDir))
        {
            // Removed meanwhile (a write behind racing the removal): nothing left to record.
            lock (_gate) { _unwritten = null; _retry?.Change(Timeout.Infinite, Timeout.Infinite); }
            return;
        }
        catch (Exception ex)
        {
            Failed(record, ex);
            return;
        }
        bool resumed;
        lock (_gate)
        {
            resumed = _unwritten is not null;
            _unwritten = null;
            _retry?.Change(Timeout.Infinite, Timeout.Infinite);
        }
        if (resumed)
        {
            log.Info("container {0}: state recorded again in {1} ({2})", id[..12], Path, record.Status.DockerName());
            report?.Invoke("state-write-resumed", [("path", Path), ("state", record.Status.DockerName())]);
        }
    }

    void Failed(ContainerRecord record, Exception ex)
    {
        bool first, tell;
        lock (_gate)
        {
            if (_closed) return;
            first = _unwritten is null;
            // Reported once per episode, and again when what cannot be recorded becomes another state
            // (a "running" record failing, then the exit).
            tell = first || _unwritten!.Status != record.Status;
            _unwritten = record;
            _delay = first ? FirstRetry : TimeSpan.FromTicks(Math.Min(_delay.Ticks * 2, MaxRetry.Ticks));
            _retry ??= new Timer(_ => Retry());
            _retry.Change(_delay, Timeout.InfiniteTimeSpan);
        }
        // Retries that fail again are not reported again.
        if (!tell) return;
        log.Warning("container {0}: could not record its state ({1}) in {2}: {3}; kept in memory, retrying",
            id[..12], record.Status.DockerName(), Path, ex.Message);
        report?.Invoke("state-write-failed", [("path", Path), ("state", record.Status.DockerName()), ("error", ex.Message)]);
    }

    void Retry()
    {
        lock (_gate)
        {
            // Busy: the write in flight is of this record or a newer one, and settles it either way.
            if (_closed || _unwritten is null || _busy) return;
            _pending = _unwritten;
            _busy = true;
            _running = Task.Run(Drain);
        }
    }
}
