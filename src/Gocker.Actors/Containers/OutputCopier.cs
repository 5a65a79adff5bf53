using Gocker.Syscalls;
using Gocker.Syscalls.Native;
using static Gocker.Syscalls.Native.Consts;

namespace Gocker.Actors.Containers;

/// <summary>
/// The daemon's one output thread: an epoll set over the read ends of every running non-tty
/// container's stdout/stderr pipes (not a thread per container). Whatever a read returns goes to the
/// container's log (LogWriter: the stream's data file plus an index record, rotated at its cap).
/// A write that fails (a full disk) drops the chunk and the copier goes on reading: the container
/// never blocks on a log it cannot grow (LogWriter reports it, and resumes when there is room).
/// At EOF (every write end closed: the container's processes are gone) the stream is dropped and
/// its Eof task completes. Read ends are O_NONBLOCK (level-triggered: one read per stream per wake-up,
/// so a chatty container cannot starve the others).
/// </summary>
public sealed unsafe class OutputCopier
{
    static readonly Lazy<OutputCopier> shared = new(() => new OutputCopier());
    public static OutputCopier Shared => shared.Value;

    const uint EPOLLHUP = 0x10, EPOLLERR = 8;
    const int ChunkSize = 64 * 1024;

    /// <summary>One stream: owned by the copier from Add until Remove (the read end is closed there;
    /// at EOF the copier only stops watching it and closes the log).</summary>
    public sealed class Stream
    {
        internal ulong Id;
        internal int ReadFd;
        internal Logs.LogWriter Log = null!;
        internal int StreamNo;
        internal bool Gone;
        internal readonly TaskCompletionSource Eof = new(TaskCreationOptions.RunContinuationsAsynchronously);
        /// <summary>Completes once the copier read EOF and everything before it is in the log.</summary>
        public Task Ended => Eof.Task;
        /// <summary>The read end (for handing a copy to the keeper; valid until Remove).</summary>
        public int Fd => ReadFd;
    }

    readonly object _gate = new();
    readonly Dictionary<ulong, Stream> _live = new();
    readonly int _epfd;
    ulong _nextId;

    OutputCopier()
    {
        _epfd = Libc.epoll_create1(EPOLL_CLOEXEC);
        if (_epfd < 0) throw new SyscallException("epoll_create1", "output copier", Libc.Errno);
        new Thread(Loop, 256 * 1024) { IsBackground = true, Name = "gocker-output" }.Start();
    }

    /// <summary>Copies readFd (owned by the copier from now on) into log as stream 1 (stdout) or 2
    /// (stderr). On failure readFd is still the caller's.</summary>
    public Stream Add(int readFd, Logs.LogWriter log, int stream)
    {
        int fl = Libc.fcntl(readFd, F_GETFL, 0);
        if (fl < 0 || Libc.fcntl(readFd, F_SETFL, fl | O_NONBLOCK) != 0)
            throw new SyscallException("fcntl O_NONBLOCK", $"output pipe {stream} of {log.DataDir}", Libc.Errno);
        var s = new Stream { ReadFd = readFd, Log = log, StreamNo = stream };
        lock (_gate)
        {
            s.Id = ++_nextId;
            _live[s.Id] = s;
            var ev = new EpollEvent { Events = EPOLLIN, Data = s.Id };
            if (Libc.epoll_ctl(_epfd, EPOLL_CTL_ADD, readFd, &ev) != 0)
            {
                int e = Libc.Errno;
                _live.Remove(s.Id);
                throw new SyscallException("epoll_ctl add", $"output pipe {stream} of {log.DataDir}", e);
            }
        }
        return s;
    }

    /// <summary>Stops copying s (whatever is still in the pipe stays there) and closes its read end
    /// and log. Idempotent.</summary>
    public void Remove(Stream s)
    {
        lock (_gate)
        {
            Drop(s);
            // Only here, never at EOF: the owner may still be handing a copy of it to the keeper.
            Sys.Close(s.ReadFd);
            s.ReadFd = -1;
        }
        s.Eof.TrySetResult();
    }

    void Drop(Stream s)
    {
        if (s.Gone) return;
        s.Gone = true;
        _live.Remove(s.Id);
        Libc.epoll_ctl(_epfd, EPOLL_CTL_DEL, s.ReadFd, null);
    }

    void Loop()
    {
        const int Max = 64;
        var events = new EpollEvent[Max];
        var buf = new byte[ChunkSize];
        var ended = new List<Stream>();
        while (true)
        {
            int n;
            fixed (EpollEvent* e = events) n = Libc.epoll_wait(_epfd, e, Max, -1);
            if (n < 0) continue; // EINTR
            lock (_gate)
            {
                for (int i = 0; i < n; i++)
                {
                    if (!_live.TryGetValue(events[i].Data, out var s)) continue;
                    if (Copy(s, buf)) continue;
                    Drop(s);
                    ended.Add(s);
                }
            }
            // Outside the lock: continuations run on the pool, but a waiter could call Remove.
            foreach (var s in ended) s.Eof.TrySetResult();
            ended.Clear();
        }
    }

    /// <summary>One read and its write to the log. False at EOF (or a read error: the pipe is done).</summary>
    static bool Copy(Stream s, byte[] buf)
    {
        nint r;
        fixed (byte* p = buf)
        {
            do r = Libc.read(s.ReadFd, p, buf.Length); while (r < 0 && Libc.Errno == EINTR);
        }
        if (r < 0) return Libc.Errno == EAGAIN;
        if (r == 0) return false;
        // Never throws: a chunk the log cannot take is dropped and reported, and reading goes on.
        s.Log.Write(s.StreamNo, buf.AsSpan(0, (int)r));
        return true;
    }
}
