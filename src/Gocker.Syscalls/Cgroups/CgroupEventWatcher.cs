using Gocker.Syscalls.Native;
using static Gocker.Syscalls.Native.Consts;

namespace Gocker.Syscalls.Cgroups;

/// <summary>A watch of one cgroup's OOM events (see <see cref="ICgroup.WatchOom"/>). Dispose stops
/// it; a signal already being delivered may still arrive once.</summary>
public sealed class OomWatch : IDisposable
{
    internal readonly CgroupEventWatcher Owner;
    internal readonly Action OnSignal;
    internal ulong Key;
    internal int Eventfd = -1;
    internal int Wd = -1;
    internal bool Disposed;

    /// <summary>The file the kernel signals about (memory.oom_control or memory.events).</summary>
    public string Path { get; }

    /// <summary>v1: the signal comes as the OOM starts, before the victim is killed and counted, so
    /// the count must be read again shortly after a signal that showed no new kill. v2 signals again
    /// when oom_kill changes.</summary>
    public bool SignalsBeforeCount { get; }

    internal OomWatch(CgroupEventWatcher owner, string path, bool signalsBeforeCount, Action onSignal)
    {
        Owner = owner;
        Path = path;
        SignalsBeforeCount = signalsBeforeCount;
        OnSignal = onSignal;
    }

    public void Dispose() => Owner.Remove(this);
}

/// <summary>
/// One thread, one epoll set, every container's OOM watch: v1 eventfds registered through
/// cgroup.event_control, and one inotify instance for v2 memory.events files. The thread sleeps in
/// epoll_wait until the kernel signals, so a daemon with idle containers spends nothing on them (no
/// timer, no polling). Callbacks run on this thread and must only hand the signal on.
/// </summary>
public sealed unsafe class CgroupEventWatcher
{
    static readonly Lazy<CgroupEventWatcher> shared = new(() => new CgroupEventWatcher());
    public static CgroupEventWatcher Shared => shared.Value;

    const ulong InotifyKey = 0;
    readonly object gate = new();
    readonly Dictionary<ulong, OomWatch> byKey = new();
    readonly Dictionary<int, OomWatch> byWd = new();
    readonly int epfd;
    int inotifyFd = -1;
    ulong nextKey;

    CgroupEventWatcher()
    {
        epfd = Libc.epoll_create1(EPOLL_CLOEXEC);
        if (epfd < 0) throw new SyscallException("epoll_create1", null, Libc.Errno);
        new Thread(Loop, 64 * 1024) { IsBackground = true, Name = "gocker-cgroup-events" }.Start();
    }

    /// <summary>v1: eventfd + memory.oom_control, written as "EFD CFD" to cgroup.event_control (the
    /// write is guarded like every cgroup write). The oom_control fd is only needed for the write.</summary>
    internal OomWatch WatchV1Oom(CgroupFs fs, string memoryDir, Action onSignal)
    {
        var control = System.IO.Path.Combine(memoryDir, "memory.oom_control");
        var watch = new OomWatch(this, control, signalsBeforeCount: true, onSignal);
        int cfd = CgroupNative.OpenReadOnly(control);
        if (cfd < 0) throw new SyscallException("open", control, -cfd);
        try
        {
            int efd = CgroupNative.eventfd(0, CgroupNative.EFD_CLOEXEC | CgroupNative.EFD_NONBLOCK);
            if (efd < 0) throw new SyscallException("eventfd", control, CgroupNative.LastErrno);
            try
            {
                fs.Write(memoryDir, "cgroup.event_control", $"{efd} {cfd}");
                lock (gate)
                {
                    watch.Key = ++nextKey;
                    var ev = new EpollEvent { Events = EPOLLIN, Data = watch.Key };
                    if (Libc.epoll_ctl(epfd, EPOLL_CTL_ADD, efd, &ev) != 0)
                        throw new SyscallException("epoll_ctl add eventfd", control, Libc.Errno);
                    watch.Eventfd = efd;
                    byKey[watch.Key] = watch;
                }
                return watch;
            }
            catch
            {
                // Closing the eventfd also unregisters the kernel's side (it sees the hang-up).
                CgroupNative.Close(efd);
                throw;
            }
        }
        finally { CgroupNative.Close(cfd); }
    }

    /// <summary>v2 (and any kernfs file the kernel notifies about): inotify IN_MODIFY on <paramref name="path"/>.</summary>
    public OomWatch WatchModified(string path, Action onSignal)
    {
        var watch = new OomWatch(this, path, signalsBeforeCount: false, onSignal);
        lock (gate)
        {
            if (inotifyFd < 0)
            {
                int fd = CgroupNative.inotify_init1(CgroupNative.IN_CLOEXEC | CgroupNative.IN_NONBLOCK);
                if (fd < 0) throw new SyscallException("inotify_init1", path, CgroupNative.LastErrno);
                var ev = new EpollEvent { Events = EPOLLIN, Data = InotifyKey };
                if (Libc.epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
                {
                    int e = Libc.Errno;
                    CgroupNative.Close(fd);
                    throw new SyscallException("epoll_ctl add inotify", path, e);
                }
                inotifyFd = fd;
            }
            int wd = CgroupNative.inotify_add_watch(inotifyFd, path, CgroupNative.IN_MODIFY);
            if (wd < 0) throw new SyscallException("inotify_add_watch", path, CgroupNative.LastErrno);
            // The same file watched twice gets the same wd from the kernel: one watch per file.
            if (byWd.ContainsKey(wd)) throw new SyscallException("inotify_add_watch", path, "already watched");
            watch.Wd = wd;
            byWd[wd] = watch;
        }
        return watch;
    }

    internal void Remove(OomWatch watch)
    {
        lock (gate)
        {
            if (watch.Disposed) return;
            watch.Disposed = true;
            if (watch.Eventfd >= 0)
            {
                byKey.Remove(watch.Key);
                Libc.epoll_ctl(epfd, EPOLL_CTL_DEL, watch.Eventfd, null);
                CgroupNative.Close(watch.Eventfd);
                watch.Eventfd = -1;
            }
            if (watch.Wd >= 0)
            {
                // EINVAL when the kernel already dropped it (the file's cgroup was removed): fine.
                if (byWd.TryGetValue(watch.Wd, out var w) && w == watch)
                {
                    byWd.Remove(watch.Wd);
                    CgroupNative.inotify_rm_watch(inotifyFd, watch.Wd);
                }
                watch.Wd = -1;
            }
        }
    }

    void Loop()
    {
        var events = stackalloc EpollEvent[32];
        var buf = stackalloc byte[4096];
        var fire = new List<Action>();
        while (true)
        {
            int n = Libc.epoll_wait(epfd, events, 32, -1);
            if (n < 0) { if (Libc.Errno == EINTR) continue; return; }
            lock (gate)
            {
                for (int i = 0; i < n; i++)
                {
                    if (events[i].Data == InotifyKey) DrainInotify(buf, 4096, fire);
                    else if (byKey.TryGetValue(events[i].Data, out var w))
                    {
                        // Reset the counter (non-blocking): the next signal wakes epoll again.
                        ulong count;
                        CgroupNative.Read(w.Eventfd, (byte*)&count, 8);
                        fire.Add(w.OnSignal);
                    }
                }
            }
            foreach (var f in fire)
            {
                try { f(); }
                catch (Exception) { /* a watcher's callback must not stop every other watch */ }
            }
            fire.Clear();
        }
    }

    void DrainInotify(byte* buf, int size, List<Action> fire)
    {
        while (true)
        {
            long len = CgroupNative.Read(inotifyFd, buf, size);
            if (len <= 0) return; // EAGAIN: drained
            // struct inotify_event { int wd; u32 mask; u32 cookie; u32 len; char name[len]; }
            for (long off = 0; off + 16 <= len;)
            {
                int wd = *(int*)(buf + off);
                uint mask = *(uint*)(buf + off + 4);
                uint nameLen = *(uint*)(buf + off + 12);
                off += 16 + nameLen;
                if (!byWd.TryGetValue(wd, out var w)) continue;
                if ((mask & CgroupNative.IN_IGNORED) != 0) { byWd.Remove(wd); w.Wd = -1; continue; } // file gone
                if (!fire.Contains(w.OnSignal)) fire.Add(w.OnSignal);
            }
        }
    }
}
