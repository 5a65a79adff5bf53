using Akka.Event;

namespace Gocker.Actors.Containers;

/// <summary>
/// One container's state.json writes, in order, each one StateStore.Save (temp file, fsync, rename).
/// A write can run behind (SaveBehind): the fsync (0.2-4 ms of disk wait here) then overlaps what the
/// actor does next instead of delaying it — the start's "running" record is written while the
/// command runs, so a short command's exit is not queued behind it. The caller decides what waits
/// for the write to be on disk (the start's answer does: once `start` returns, a daemon killed with
/// -9 finds the running record). A later record supersedes one not yet begun; Save (inline) first
/// waits for any write in flight, so the file never goes back to an older record. Only the
/// container's actor calls Save/SaveBehind (one at a time); Flush may be awaited from anywhere.
/// </summary>
public sealed class RecordWriter(string containerDir, ILoggingAdapter log, string id)
{
    readonly object _gate = new();
    ContainerRecord? _pending;
    bool _busy;
    Task _running = Task.CompletedTask;

    /// <summary>Hands the record to a thread-pool write; the task completes once it (or a later
    /// record) is on disk. Never faults: a failed write is logged, as an inline one is.</summary>
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
        Task inFlight;
        lock (_gate)
        {
            _pending = null;
            inFlight = _running;
        }
        inFlight.Wait();
        Write(record);
    }

    /// <summary>Completes when every record handed over is on disk (e.g. before the directory is removed).</summary>
    public Task Flush()
    {
        lock (_gate) return _running;
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
        try { StateStore.Save(containerDir, record); }
        catch (Exception ex) { log.Error("container {0}: saving state failed: {1}", id[..12], ex.Message); }
    }
}
