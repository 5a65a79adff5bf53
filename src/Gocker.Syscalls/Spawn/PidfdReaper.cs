using Gocker.Syscalls.Native;
using static Gocker.Syscalls.Native.Consts;

namespace Gocker.Syscalls.Spawn;

/// <summary>
/// One background thread, one epoll set, every container's pidfd: when a pidfd becomes readable the
/// process has exited, and the reaper collects it at once with waitid(P_PIDFD) so no zombie lingers
/// and nobody blocks a thread per container. Only our own children can be reaped this way; .NET's
/// SIGCHLD handling only waits for pids it started itself (Process.Start), so it never steals these.
/// </summary>
public sealed unsafe class PidfdReaper
{
    static readonly Lazy<PidfdReaper> shared = new(() => new PidfdReaper());
    public static PidfdReaper Shared => shared.Value;

    public sealed class Registration
    {
        internal ulong Id;
        internal int Pidfd;
        internal bool Exited, Detached;
        internal readonly TaskCompletionSource<ExitStatus> Exit = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public Task<ExitStatus> Task => Exit.Task;
    }

    readonly object gate = new();
    readonly Dictionary<ulong, Registration> live = new();
    readonly int epfd;
    ulong nextId;

    PidfdReaper()
    {
        epfd = Libc.epoll_create1(EPOLL_CLOEXEC);
        if (epfd < 0) throw new SyscallException("epoll_create1", null, Libc.Errno);
        new Thread(Loop, 64 * 1024) { IsBackground = true, Name = "gocker-reaper" }.Start();
    }

    /// <summary>Watches pidfd (owned by the reaper from now on, until Detach).</summary>
    public Registration Register(int pidfd)
    {
        var reg = new Registration { Pidfd = pidfd };
        lock (gate)
        {
            reg.Id = ++nextId;
            live[reg.Id] = reg;
            var ev = new EpollEvent { Events = EPOLLIN, Data = reg.Id };
            if (Libc.epoll_ctl(epfd, EPOLL_CTL_ADD, pidfd, &ev) != 0)
            {
                live.Remove(reg.Id);
                throw new SyscallException("epoll_ctl add pidfd", null, Libc.Errno);
            }
        }
        return reg;
    }

    /// <summary>The owner is done with the pidfd: close it now if reaped, else as soon as it is reaped.</summary>
    public void Detach(Registration reg)
    {
        lock (gate)
        {
            if (reg.Detached) return;
            reg.Detached = true;
            if (reg.Exited) { Sys.Close(reg.Pidfd); reg.Pidfd = -1; }
        }
    }

    void Loop()
    {
        var events = stackalloc EpollEvent[32];
        var done = new List<(Registration, ExitStatus?, Exception?)>();
        while (true)
        {
            int n = Libc.epoll_wait(epfd, events, 32, -1);
            if (n < 0) { if (Libc.Errno == EINTR) continue; return; }
            lock (gate)
            {
                for (int i = 0; i < n; i++)
                    if (live.TryGetValue(events[i].Data, out var reg))
                        TryReap(reg, done);
            }
            foreach (var (reg, status, error) in done)
                if (error is null) reg.Exit.TrySetResult(status!); else reg.Exit.TrySetException(error);
            done.Clear();
        }
    }

    void TryReap(Registration reg, List<(Registration, ExitStatus?, Exception?)> done)
    {
        byte* info = stackalloc byte[128];
        new Span<byte>(info, 128).Clear();
        int r;
        do r = Libc.waitid(P_PIDFD, reg.Pidfd, info, WEXITED | WNOHANG); while (r != 0 && Libc.Errno == EINTR);
        ExitStatus? status = null;
        Exception? error = null;
        if (r != 0) error = new SyscallException("waitid P_PIDFD", null, Libc.Errno);
        else if (*(int*)(info + 16) == 0) return; // si_pid 0: not exited yet (spurious wake-up)
        else
        {
            int code = *(int*)(info + 8), st = *(int*)(info + 24);
            status = code == CLD_EXITED ? ExitStatus.Exited(st) : ExitStatus.Killed(st);
        }
        live.Remove(reg.Id);
        Libc.epoll_ctl(epfd, EPOLL_CTL_DEL, reg.Pidfd, null);
        reg.Exited = true;
        if (reg.Detached) { Sys.Close(reg.Pidfd); reg.Pidfd = -1; }
        done.Add((reg, status, error));
    }
}
