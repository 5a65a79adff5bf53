using System.Diagnostics;

namespace Gocker.Actors.Logs;

/// <summary>
/// One daemon-wide indexer for all running containers' output. The OutputCopier (or a tty's copier)
/// appends what the containers write to stdout.log/stderr.log (O_APPEND, one write per chunk read).
/// This indexer watches both files of every running container with one inotify fd (IN_MODIFY) on
/// one thread and, whenever a file grows, appends a record (stream, offset, length, time) to the
/// container's log.idx. `logs` merges stdout and stderr by walking that index, so their
/// interleaving is the order in which the daemon saw the writes, and a line's timestamp is the time
/// the chunk in which it began was seen. Writes that land between two wake-ups of this thread (a
/// few microseconds normally) are grouped per stream; output written while no daemon ran is
/// indexed when the next daemon catches up (Watch at re-adoption, or Sync before `logs`), with the
/// catch-up time as its timestamp. Without inotify (or past the watch limit) a 100 ms scan of the
/// watched files does the same job, with coarser order and times.
/// </summary>
public sealed class LogIndexer : IDisposable
{
    sealed class Entry(string dataDir)
    {
        public readonly string DataDir = dataDir;
        public readonly string IndexPath = LogIndexFile.PathFor(dataDir);
        public readonly string[] Paths = [Path.Combine(dataDir, "stdout.log"), Path.Combine(dataDir, "stderr.log")];
        public readonly long[] Ends = new long[2];
        public readonly int[] Wds = [-1, -1];
        public long LastNanos;
        public TaskCompletionSource Grew = NewTcs();
    }

    static TaskCompletionSource NewTcs() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    readonly object _lock = new();
    readonly Dictionary<string, Entry> _byDir = new(StringComparer.Ordinal);
    readonly Dictionary<int, (Entry Entry, int Stream)> _byWd = [];
    readonly int _fd;
    readonly Thread _thread;
    volatile bool _disposed;

    public LogIndexer()
    {
        _fd = Inotify.inotify_init1(Inotify.IN_NONBLOCK | Inotify.IN_CLOEXEC);
        _thread = new Thread(Loop) { IsBackground = true, Name = "gocker-log-indexer" };
        _thread.Start();
    }

    /// <summary>True when inotify is in use (otherwise the scan fallback runs).</summary>
    public bool UsesInotify => _fd >= 0;

    /// <summary>Starts indexing a container's output (start, re-adoption); first indexes whatever
    /// the files gained while nobody watched.</summary>
    public void Watch(string dataDir)
    {
        lock (_lock)
        {
            if (_byDir.ContainsKey(dataDir)) return;
            var e = Load(dataDir);
            if (_fd >= 0)
            {
                for (var s = 0; s < 2; s++)
                {
                    e.Wds[s] = Inotify.inotify_add_watch(_fd, e.Paths[s], Inotify.IN_MODIFY);
                    if (e.Wds[s] >= 0) _byWd[e.Wds[s]] = (e, s);
                }
            }
            _byDir[dataDir] = e;
            Index(e, 0);
            Index(e, 1);
        }
    }

    /// <summary>Stops indexing (after the container's exit, before its removal) after indexing
    /// what is left. Once this returns, the indexer never touches the container's directory again
    /// (unless someone asks it to Watch or Sync it).</summary>
    public void Unwatch(string dataDir)
    {
        lock (_lock)
        {
            if (!_byDir.Remove(dataDir, out var e)) { SyncUnwatched(dataDir); return; }
            Index(e, 0);
            Index(e, 1);
            for (var s = 0; s < 2; s++)
                if (e.Wds[s] >= 0)
                {
                    _byWd.Remove(e.Wds[s]);
                    Inotify.inotify_rm_watch(_fd, e.Wds[s]);
                }
            e.Grew.TrySetResult();
        }
    }

    /// <summary>Indexes whatever the files hold beyond the index now (before `logs` reads it).</summary>
    public void Sync(string dataDir)
    {
        lock (_lock)
        {
            if (_byDir.TryGetValue(dataDir, out var e)) { Index(e, 0); Index(e, 1); }
            else SyncUnwatched(dataDir);
        }
    }

    /// <summary>Completes the next time the container's index grows (or it is unwatched); a
    /// completed task when it is not watched.</summary>
    public Task NextGrowth(string dataDir)
    {
        lock (_lock) return _byDir.TryGetValue(dataDir, out var e) ? e.Grew.Task : Task.CompletedTask;
    }

    void SyncUnwatched(string dataDir)
    {
        if (!File.Exists(Path.Combine(dataDir, "stdout.log")) && !File.Exists(Path.Combine(dataDir, "stderr.log"))) return;
        var e = Load(dataDir);
        Index(e, 0);
        Index(e, 1);
    }

    static Entry Load(string dataDir)
    {
        var e = new Entry(dataDir);
        var (o, r, last) = LogIndexFile.Ends(e.IndexPath);
        e.Ends[0] = o;
        e.Ends[1] = r;
        e.LastNanos = last;
        return e;
    }

    /// <summary>Under _lock: records the growth of one stream's file since the last record.</summary>
    static void Index(Entry e, int s)
    {
        long size;
        try { size = new FileInfo(e.Paths[s]).Length; }
        catch (FileNotFoundException) { return; }
        catch (DirectoryNotFoundException) { return; }
        // A log truncated behind our back (by hand): start over from its new end.
        if (size < e.Ends[s]) { e.Ends[s] = size; return; }
        var added = new List<LogChunk>();
        while (size > e.Ends[s])
        {
            var len = (int)Math.Min(size - e.Ends[s], int.MaxValue);
            // Timestamps never go backwards within one container, even if the wall clock does.
            var now = Math.Max(NowNanos(), e.LastNanos);
            added.Add(new LogChunk((byte)(s + 1), e.Ends[s], len, now));
            e.Ends[s] += len;
            e.LastNanos = now;
        }
        if (added.Count == 0) return;
        try { LogIndexFile.Append(e.IndexPath, added); }
        catch (DirectoryNotFoundException) { return; }
        var grew = e.Grew;
        e.Grew = NewTcs();
        grew.TrySetResult();
    }

    public static long NowNanos() => (DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) * 100;

    unsafe void Loop()
    {
        var buf = new byte[64 * 1024];
        while (!_disposed)
        {
            try
            {
                if (_fd < 0)
                {
                    Thread.Sleep(100);
                    ScanAll();
                    continue;
                }
                var pfd = new Inotify.PollFd { Fd = _fd, Events = Inotify.POLLIN };
                // The timeout only serves Dispose and watches that could not be added.
                var r = Inotify.poll(&pfd, 1, NeedsScan() ? 100 : 1000);
                if (r == 0) { if (NeedsScan()) ScanAll(); continue; }
                if (r < 0) continue; // EINTR
                nint n;
                fixed (byte* p = buf) n = Inotify.read(_fd, p, buf.Length);
                if (n <= 0) continue;
                lock (_lock)
                {
                    // struct inotify_event { int wd; uint32 mask, cookie, len; char name[len]; }
                    for (var off = 0; off + 16 <= n;)
                    {
                        var wd = BitConverter.ToInt32(buf, off);
                        var mask = BitConverter.ToUInt32(buf, off + 4);
                        var nameLen = BitConverter.ToInt32(buf, off + 12);
                        off += 16 + nameLen;
                        if (!_byWd.TryGetValue(wd, out var w)) continue;
                        if ((mask & Inotify.IN_IGNORED) != 0) { _byWd.Remove(wd); w.Entry.Wds[w.Stream] = -1; continue; }
                        Index(w.Entry, w.Stream);
                    }
                }
            }
            catch (Exception ex)
            {
                // The indexer must never die: a failure here costs ordering detail, not output.
                Trace.TraceWarning($"log indexer: {ex.Message}");
                Thread.Sleep(100);
            }
        }
    }

    bool NeedsScan()
    {
        lock (_lock) return _byDir.Values.Any(e => e.Wds[0] < 0 || e.Wds[1] < 0);
    }

    void ScanAll()
    {
        lock (_lock)
            foreach (var e in _byDir.Values)
            {
                Index(e, 0);
                Index(e, 1);
            }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _thread.Join(3000);
        if (_fd >= 0) Inotify.close(_fd);
    }
}
