using Gocker.Syscalls.Native;
using static Gocker.Syscalls.Native.Consts;

namespace Gocker.Syscalls.Spawn;

/// <summary>
/// Keeps a few gocker-init processes started ahead of time ("zygotes") so that a container start does
/// not wait for the spawn (a thread, unshare, posix_spawn: ~1 ms) and the NativeAOT runtime's start
/// in the new process (2-4 ms, mostly exec, dynamic linking and page faults): measured as the largest
/// piece of the start path after the console (bench/RESULTS.md).
///
/// A zygote is spawned like any init (UTS, IPC, PID and net namespaces of its own, new session,
/// default signals, fds 0-2 on /dev/null) but stays in the host's mount namespace and waits on fd 4,
/// a SOCK_SEQPACKET socket, for one message: `CLAIM SPEC_PATH` with the container's stdin, stdout and
/// stderr as SCM_RIGHTS. It then puts them on 0-2, unshares its mount namespace (a copy of the
/// host's mount table as it is now, not as it was when the zygote started) and goes on exactly as a
/// freshly spawned init: rootfs, cgroup placement by the daemon, one byte on fd 4 = go.
/// When the daemon goes away its end of the socket closes and the zygote exits without a trace.
///
/// With SpawnRequest.NetnsPath (a pooled, pre-attached netns) the claim carries that namespace as a
/// fourth descriptor and the zygote setns()s into it first.
/// Only requests the zygote fits are served from the pool (not --network host); anything else, an
/// empty pool, or a zygote that died while it waited, falls back to <see cref="NamespaceSpawner"/>.
/// The pool is refilled on the thread pool <c>refillDelay</c> after a claimed init has been released
/// (or given up): a refill (the spawn, then the new zygote's runtime start, ~3 ms of CPU) made right
/// at the release competes with the container's own command and with its teardown for the CPUs, and
/// a short `run --rm` then took ~2.5 ms longer on 2 cores (bench/RESULTS.md). A second zygote serves
/// a start that comes within the delay; an empty pool is refilled at once.
/// </summary>
public sealed class ZygoteSpawner : ISpawner, IIdmapNamespaces, IDisposable
{
    readonly NamespaceSpawner _inner;
    readonly string _initPath;
    readonly int _size;
    readonly TimeSpan _refillDelay;
    readonly Lock _gate = new();
    readonly Queue<InitProcess> _ready = new();
    int _pending; // spawns in flight
    bool _disposed;
    long _claims, _fallbacks;

    /// <param name="size">How many zygotes to keep ready (0 = never: every spawn goes to inner).</param>
    /// <param name="refillDelay">How long after a claimed zygote's release its replacement is started.</param>
    /// <inheritdoc/>
    public int IdmapNamespace(Security.IdMap map, string initPath) => _inner.IdmapNamespace(map, initPath);

    public ZygoteSpawner(NamespaceSpawner inner, string initPath, int size, TimeSpan refillDelay = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(refillDelay, TimeSpan.Zero);
        _refillDelay = refillDelay;
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        if (string.IsNullOrEmpty(initPath) || initPath[0] != '/')
            throw new ArgumentException($"zygotes: the init path must be absolute: '{initPath}'");
        _inner = inner;
        _initPath = initPath;
        _size = size;
        Refill();
    }

    /// <summary>Zygotes ready now (tests, diagnostics).</summary>
    public int Ready { get { lock (_gate) return _ready.Count; } }
    /// <summary>Spawns served by a zygote / by a fresh spawn since the start.</summary>
    public long Claims => Interlocked.Read(ref _claims);
    public long Fallbacks => Interlocked.Read(ref _fallbacks);

    /// <summary>The pids of the zygotes waiting now (tests).</summary>
    public IReadOnlyList<int> ReadyPids() { lock (_gate) return _ready.Select(z => z.Pid).ToList(); }

    public IInitProcess Spawn(SpawnRequest request)
    {
        NamespaceSpawner.Validate(request);
        // A remapped container's namespaces must be made after its user namespace: no head start.
        if (request.HostNetwork || request.Userns is not null || _size == 0 || request.InitPath != _initPath) return Fresh(request);

        int[] fds = [-1, -1, -1, -1];
        try
        {
            fds[0] = request.StdinFd >= 0 ? -1 : OpenStdio(request.StdinPath ?? "/dev/null", O_RDONLY | O_NOCTTY);
            fds[1] = request.StdoutFd >= 0 ? -1 : OpenStdio(request.StdoutPath, O_WRONLY | O_CREAT | O_APPEND | O_NOCTTY);
            fds[2] = request.StderrFd >= 0 ? -1 : OpenStdio(request.StderrPath, O_WRONLY | O_CREAT | O_APPEND | O_NOCTTY);
            // A netns made beforehand (the network's netns pool): the zygote setns()s into it at its
            // claim, leaving the empty one it was spawned with. Checked here, as the spawner would.
            if (request.NetnsPath is not null) fds[3] = OpenNetns(request.NetnsPath);
            int[] pass =
            [
                request.StdinFd >= 0 ? request.StdinFd : fds[0],
                request.StdoutFd >= 0 ? request.StdoutFd : fds[1],
                request.StderrFd >= 0 ? request.StderrFd : fds[2],
                .. fds[3] >= 0 ? [fds[3]] : Array.Empty<int>(),
            ];
            while (Take() is { } zygote)
            {
                if (!zygote.HasExited && zygote.Claim(request.SpecPath, pass))
                {
                    Interlocked.Increment(ref _claims);
                    zygote.OnSettled = RefillLater;
                    return zygote;
                }
                zygote.Dispose(); // died while it waited (killed, OOM): the reaper has it
            }
        }
        finally
        {
            foreach (var fd in fds) Sys.Close(fd);
        }
        var fresh = Fresh(request);
        Refill();
        return fresh;
    }

    IInitProcess Fresh(SpawnRequest request)
    {
        Interlocked.Increment(ref _fallbacks);
        return _inner.Spawn(request);
    }

    InitProcess? Take()
    {
        lock (_gate) return _ready.Count > 0 ? _ready.Dequeue() : null;
    }

    /// <summary>The init's stdio, opened by the daemon with the flags and mode (0640) posix_spawn's
    /// file actions would have used in the child.</summary>
    static int OpenStdio(string path, int flags) => Sys.Open(path, flags, 0x1a0);

    const long NSFS_MAGIC = 0x6e736673;

    static int OpenNetns(string path)
    {
        int fd = Sys.Open(path, O_RDONLY);
        if (Sys.FsType(fd) != NSFS_MAGIC)
        {
            Sys.Close(fd);
            throw new SyscallException("setns net", path, "not a namespace file (nsfs)");
        }
        return fd;
    }

    void RefillLater()
    {
        bool now;
        // No delay configured, or the pool ran dry meanwhile (a burst of starts): no reason to wait.
        lock (_gate) now = _refillDelay <= TimeSpan.Zero || _ready.Count == 0;
        if (now) { Refill(); return; }
        _ = Task.Delay(_refillDelay).ContinueWith(static (_, s) => ((ZygoteSpawner)s!).Refill(), this, TaskScheduler.Default);
    }

    /// <summary>Starts as many zygotes as are missing, on the thread pool, one at a time.</summary>
    void Refill()
    {
        lock (_gate)
        {
            if (_disposed || _pending > 0 || _ready.Count >= _size) return;
            _pending++;
        }
        ThreadPool.UnsafeQueueUserWorkItem(_ => RefillLoop(), null);
    }

    void RefillLoop()
    {
        try
        {
            while (true)
            {
                lock (_gate)
                    if (_disposed || _ready.Count >= _size) return;
                InitProcess z;
                try { z = _inner.SpawnZygote(_initPath); }
                catch (Exception) { return; } // starts fall back to fresh spawns, which report the error
                lock (_gate)
                {
                    if (!_disposed) { _ready.Enqueue(z); continue; }
                }
                z.Dispose();
                return;
            }
        }
        finally
        {
            lock (_gate) _pending--;
        }
    }

    /// <summary>Closes every waiting zygote's socket: each exits at once (EOF), the reaper reaps it.</summary>
    public void Dispose()
    {
        List<InitProcess> left;
        lock (_gate)
        {
            _disposed = true;
            left = [.. _ready];
            _ready.Clear();
        }
        foreach (var z in left) z.Dispose();
    }
}
