using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Win32.SafeHandles;

namespace Gocker.Actors.Logs;

/// <summary>
/// Writes one container's output into its log (LogFiles): each chunk the daemon reads from the
/// container (OutputCopier for pipes, the tty copier for a terminal) goes to the stream's data file
/// and then one index record (stream, offset, length, time read) to the index, both by the same
/// thread, so `logs` merges stdout and stderr in the order the daemon read them.
/// A generation holds at most MaxSize bytes (data and index together): a chunk that does not fit
/// starts the next generation (one bigger than a generation is split), and the generations beyond
/// MaxFile are deleted, oldest first, before the new one is created (on a full disk that frees the
/// room it needs).
/// A write that fails (ENOSPC, EIO...) never throws and never blocks: what was half written is cut
/// back (data and index stay consistent, what is on disk stays readable), the chunk is dropped and
/// counted, and the failure is reported once ("log-write-failed"); every later chunk tries again, and
/// the first that is written reports "log-write-resumed" with the bytes lost (a writer closed while
/// still failing reports "log-write-dropped" with them). The caller keeps
/// draining the container's pipe, so the container never blocks on a full disk.
/// Thread-safe (one lock; only one copier writes a stream at a time anyway).
/// </summary>
public sealed class LogWriter : IDisposable
{
    /// <summary>Reports a log event: action ("log-write-failed", "log-write-resumed" or
    /// "log-write-dropped") and attributes.</summary>
    public delegate void Reporter(string action, IReadOnlyList<(string Key, string Value)> attributes);

    readonly object _lock = new();
    readonly string _dataDir;
    readonly long _maxSize;
    readonly int _maxFile;
    readonly Reporter? _report;
    long _gen;
    // FileStreams kept (not just their handles): a finalized FileStream would close its handle.
    FileStream?[] _data = new FileStream?[2];
    FileStream? _idx;
    readonly long[] _size = new long[2];
    /// <summary>Whether the last byte written to each stream ended a line (a new generation's first
    /// chunk of a stream that did not is marked ContinuesLine).</summary>
    readonly bool[] _lineEnded = [true, true];
    long _idxLength;
    long _lastNanos;
    bool _open, _closed, _failing;
    long _dropped;
    readonly byte[] _record = new byte[LogIndexFile.RecordSize];
    TaskCompletionSource _grew = NewTcs();

    static TaskCompletionSource NewTcs() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    public LogWriter(string dataDir, long maxSize, int maxFile, Reporter? report = null)
    {
        _dataDir = dataDir;
        _maxSize = Math.Max(maxSize, LogSettings.MinMaxSize);
        _maxFile = Math.Max(maxFile, 1);
        _report = report;
    }

    public string DataDir => _dataDir;
    /// <summary>The generation written now (0 before the first write).</summary>
    public long Generation { get { lock (_lock) return _gen; } }
    /// <summary>Bytes dropped since the last successful write (0 when writing works).</summary>
    public long Dropped { get { lock (_lock) return _dropped; } }
    /// <summary>When the newest chunk in the log was read (Unix ns; 0 for an empty or unreadable log).</summary>
    public long LastNanos
    {
        get
        {
            lock (_lock)
            {
                if (!_open && !_closed)
                {
                    try { OpenLatest(); }
                    catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { return 0; }
                }
                return _lastNanos;
            }
        }
    }
    /// <summary>Completes the next time the log grows or a generation starts (or at Dispose).</summary>
    public Task NextGrowth { get { lock (_lock) return _closed ? Task.CompletedTask : _grew.Task; } }

    /// <summary>Appends a chunk of stream 1 (stdout) or 2 (stderr). Never throws.</summary>
    public void Write(int stream, ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty || stream is not (1 or 2)) return;
        lock (_lock)
        {
            if (_closed) return;
            var rest = data;
            try
            {
                if (!_open) OpenLatest();
                var now = Math.Max(NowNanos(), _lastNanos);
                while (!rest.IsEmpty)
                {
                    var used = _size[0] + _size[1] + _idxLength;
                    if (used > 0 && used + LogIndexFile.RecordSize + rest.Length > _maxSize) { Rotate(); used = 0; }
                    var n = (int)Math.Min(rest.Length, _maxSize - used - LogIndexFile.RecordSize);
                    Append(stream - 1, rest[..n], now);
                    rest = rest[n..];
                }
                _lastNanos = now;
                if (_failing)
                {
                    _failing = false;
                    Report("log-write-resumed", ("droppedBytes", _dropped.ToString(System.Globalization.CultureInfo.InvariantCulture)));
                    _dropped = 0;
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                _dropped += rest.Length;
                if (!_failing)
                {
                    _failing = true;
                    Report("log-write-failed", ("error", ex.Message), ("path", LogFiles.Dir(_dataDir)));
                }
            }
            Pulse();
        }
    }

    /// <summary>Under _lock: one piece into the current generation, data then its index record; a
    /// failure cuts both back to where they were.</summary>
    void Append(int s, ReadOnlySpan<byte> piece, long now)
    {
        var offset = _size[s];
        try
        {
            RandomAccess.Write(_data[s]!.SafeFileHandle, piece, offset);
            LogIndexFile.Encode(new LogChunk((byte)(s + 1), offset, piece.Length, now, offset == 0 && !_lineEnded[s]), _record);
            RandomAccess.Write(_idx!.SafeFileHandle, _record, _idxLength);
        }
        catch
        {
            // Cutting back frees what the failed write took, even on a full disk.
            TryTruncate(_data[s]!.SafeFileHandle, offset);
            TryTruncate(_idx!.SafeFileHandle, _idxLength);
            throw;
        }
        _size[s] += piece.Length;
        _idxLength += LogIndexFile.RecordSize;
        _lineEnded[s] = piece[^1] == '\n';
    }

    static void TryTruncate(SafeFileHandle h, long length)
    {
        try { RandomAccess.SetLength(h, length); }
        catch (IOException) { }
    }

    /// <summary>Under _lock: continues the newest generation (or starts the first); output written
    /// but never indexed (a crash between the two writes) is indexed now, with the time of now.</summary>
    void OpenLatest()
    {
        MigrateLegacy();
        var gens = LogFiles.Generations(_dataDir);
        var gen = gens.Count > 0 ? gens[^1] : 1;
        if (gens.Count == 0) LogFiles.CreateGeneration(_dataDir, gen);
        OpenGeneration(gen);
        using (var idx = LogIndexFile.OpenRead(LogFiles.Index(_dataDir, gen)))
        {
            var (outEnd, errEnd, last) = LogIndexFile.Ends(idx);
            _lastNanos = last;
            long[] ends = [outEnd, errEnd];
            var now = Math.Max(NowNanos(), last);
            for (var s = 0; s < 2; s++)
                if (_size[s] > ends[s])
                {
                    var len = _size[s] - ends[s];
                    _size[s] = ends[s];
                    // Index the tail as it is (chunks of up to 1 GiB), the cap is the next chunk's business.
                    while (len > 0)
                    {
                        var n = (int)Math.Min(len, 1 << 30);
                        LogIndexFile.Encode(new LogChunk((byte)(s + 1), _size[s], n, now), _record);
                        RandomAccess.Write(_idx!.SafeFileHandle, _record, _idxLength);
                        _idxLength += LogIndexFile.RecordSize;
                        _size[s] += n;
                        len -= n;
                    }
                }
        }
        // Generations beyond max-file (left by a crash mid-rotation).
        foreach (var g in gens)
            if (g <= gen - _maxFile) LogFiles.DeleteGeneration(_dataDir, g);
        _open = true;
    }

    void OpenGeneration(long gen)
    {
        FileStream Open(string path) => new(path, new FileStreamOptions
        {
            Mode = FileMode.OpenOrCreate, Access = FileAccess.ReadWrite, Share = FileShare.ReadWrite | FileShare.Delete,
            BufferSize = 0, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        });
        var data = new FileStream?[2];
        FileStream? idx = null;
        try
        {
            data[0] = Open(LogFiles.Data(_dataDir, gen, 1));
            data[1] = Open(LogFiles.Data(_dataDir, gen, 2));
            idx = Open(LogFiles.Index(_dataDir, gen));
        }
        catch
        {
            data[0]?.Dispose(); data[1]?.Dispose(); idx?.Dispose();
            throw;
        }
        CloseHandles();
        _data = data;
        _idx = idx;
        _gen = gen;
        Span<byte> last = stackalloc byte[1];
        for (var s = 0; s < 2; s++)
        {
            _size[s] = RandomAccess.GetLength(data[s]!.SafeFileHandle);
            if (_size[s] > 0)
            {
                _lineEnded[s] = RandomAccess.Read(data[s]!.SafeFileHandle, last, _size[s] - 1) == 1 && last[0] == '\n';
            }
        }
        // A torn record (a crash mid-append) is cut off.
        _idxLength = RandomAccess.GetLength(idx.SafeFileHandle) / LogIndexFile.RecordSize * LogIndexFile.RecordSize;
        TryTruncate(idx.SafeFileHandle, _idxLength);
    }

    /// <summary>Under _lock: the next generation. The oldest beyond max-file go first, so a full
    /// disk gets their room back before the new files are made.</summary>
    void Rotate()
    {
        var next = _gen + 1;
        foreach (var g in LogFiles.Generations(_dataDir))
            if (g <= next - _maxFile) LogFiles.DeleteGeneration(_dataDir, g);
        LogFiles.CreateGeneration(_dataDir, next);
        OpenGeneration(next);
        Pulse();
    }

    void MigrateLegacy() => LogFiles.MigrateLegacy(_dataDir);

    void Pulse()
    {
        var grew = _grew;
        _grew = NewTcs();
        grew.TrySetResult();
    }

    void Report(string action, params (string, string)[] attrs)
    {
        Trace.TraceWarning($"log of {_dataDir}: {action} {string.Join(' ', attrs.Select(a => a.Item1 + "=" + a.Item2))}");
        try { _report?.Invoke(action, attrs); }
        catch (Exception) { /* a report must never stop the copier */ }
    }

    /// <summary>Empties the log (a "none" container's attach buffer at the end of its run): every
    /// generation is deleted and the next one created empty, for a client attached to the next run.
    /// Readers that hold files open keep reading them.</summary>
    public void Clear()
    {
        lock (_lock)
        {
            try
            {
                var gens = LogFiles.Generations(_dataDir);
                var next = Math.Max(_gen, gens.Count > 0 ? gens[^1] : 0) + 1;
                foreach (var g in gens) LogFiles.DeleteGeneration(_dataDir, g);
                LogFiles.CreateGeneration(_dataDir, next);
                CloseHandles();
                _open = false;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { Trace.TraceWarning($"log of {_dataDir}: {ex.Message}"); }
        }
    }

    void CloseHandles()
    {
        _data[0]?.Dispose(); _data[1]?.Dispose(); _idx?.Dispose();
        _data = new FileStream?[2];
        _idx = null;
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_closed) return;
            _closed = true;
            // The run ended with no room: what was lost since the failure was reported.
            if (_failing && _dropped > 0)
                Report("log-write-dropped", ("droppedBytes", _dropped.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            CloseHandles();
            _grew.TrySetResult();
        }
    }

    public static long NowNanos() => (DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) * 100;
}

/// <summary>The daemon's log writers of running containers, by data dir, so that `logs -f` and
/// attached clients wake up when a log grows.</summary>
public sealed class ContainerLogs
{
    readonly ConcurrentDictionary<string, LogWriter> _live = new(StringComparer.Ordinal);

    public LogWriter Open(string dataDir, LogSettings settings, LogWriter.Reporter? report)
    {
        var (size, files) = settings.Limits;
        var w = new LogWriter(dataDir, size, files, report);
        _live[dataDir] = w;
        return w;
    }

    /// <summary>Closes the writer (it is forgotten only if it is still the one registered).</summary>
    public void Close(LogWriter w)
    {
        _live.TryRemove(new KeyValuePair<string, LogWriter>(w.DataDir, w));
        w.Dispose();
    }

    /// <summary>Completes when the container's log grows; null when no writer is open for it.</summary>
    public Task? NextGrowth(string dataDir) => _live.TryGetValue(dataDir, out var w) ? w.NextGrowth : null;

    readonly Dictionary<string, (int Count, TaskCompletionSource? Idle)> _readers = new(StringComparer.Ordinal);

    /// <summary>A client reads the container's log (until the token is disposed). Readers open the
    /// newer generations by path as they get to them: the removal waits for them (ReadersDone), so
    /// an attached `run --rm` gets the output written just before the exit.</summary>
    public IDisposable AddReader(string dataDir)
    {
        lock (_readers)
        {
            var (count, idle) = _readers.GetValueOrDefault(dataDir);
            _readers[dataDir] = (count + 1, idle);
        }
        return new Reader(this, dataDir);
    }

    /// <summary>Completes once no client reads the container's log.</summary>
    public Task ReadersDone(string dataDir)
    {
        lock (_readers)
        {
            if (!_readers.TryGetValue(dataDir, out var r)) return Task.CompletedTask;
            r.Idle ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _readers[dataDir] = r;
            return r.Idle.Task;
        }
    }

    void RemoveReader(string dataDir)
    {
        TaskCompletionSource? idle = null;
        lock (_readers)
        {
            if (!_readers.TryGetValue(dataDir, out var r)) return;
            if (r.Count > 1) { _readers[dataDir] = (r.Count - 1, r.Idle); return; }
            _readers.Remove(dataDir);
            idle = r.Idle;
        }
        idle?.TrySetResult();
    }

    sealed class Reader(ContainerLogs owner, string dataDir) : IDisposable
    {
        int _done;
        public void Dispose() { if (Interlocked.Exchange(ref _done, 1) == 0) owner.RemoveReader(dataDir); }
    }
}
