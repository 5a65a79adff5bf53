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
        /// <summary>Not our child (re-adopted after a daemon restart): never waitid, read the status instead.</summary>
        internal bool Foreign;
        internal int Pid;
        internal ulong StartTime;
        internal readonly TaskCompletionSource<ExitStatus> Exit = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public Task<ExitStatus> Task => Exit.Task;

        /// <summary>Signals the process through its pidfd (never a bare pid: no PID-reuse race).
        /// ESRCH means it already exited: a kill racing an exit is normal, not an error.</summary>
        internal void Signal(int pid, int signal)
        {
            if (Libc.syscall(SYS_pidfd_send_signal, Pidfd, signal, 0, 0, 0) != 0)
            {
                int e = Libc.Errno;
                if (e != ESRCH) throw new SyscallException("pidfd_send_signal", pid.ToString(System.Globalization.CultureInfo.InvariantCulture), e);
            }
        }
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
    public Registration Register(int pidfd) => Add(new Registration { Pidfd = pidfd });

    /// <summary>Watches the pidfd of a process that is not our child (see ProcessAdopter): its exit is
    /// reported with the status the kernel still offers, or -1 when nobody can know it any more.</summary>
    public Registration RegisterForeign(int pidfd, int pid, ulong startTime) =>
        Add(new Registration { Pidfd = pidfd, Foreign = true, Pid = pid, StartTime = startTime });

    Registration Add(Registration reg)
    {
        var pidfd = reg.Pidfd;
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
        if (reg.Foreign)
        {
            // Level-triggered: a readable pidfd stays readable, so it leaves the set now, status or not.
            Finish(reg, ForeignExit(reg), null, done);
            return;
        }
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
        Finish(reg, status, error, done);
    }

    void Finish(Registration reg, ExitStatus? status, Exception? error, List<(Registration, ExitStatus?, Exception?)> done)
    {
        live.Remove(reg.Id);
        Libc.epoll_ctl(epfd, EPOLL_CTL_DEL, reg.Pidfd, null);
        reg.Exited = true;
        if (reg.Detached) { Sys.Close(reg.Pidfd); reg.Pidfd = -1; }
        done.Add((reg, status, error));
    }

    // PIDFD_GET_INFO = _IOWR(0xFF, 11, struct pidfd_info), 64-byte version 0 of the struct:
    // mask@0, cgroupid@8, pid..fsgid (11 x u32)@16, exit_code@60.
    const nuint PIDFD_GET_INFO = 0xC040FF0B;
    const ulong PIDFD_INFO_EXIT = 8;

    /// <summary>
    /// The exit status of a process that is not our child. PIDFD_GET_INFO reports it once the process
    /// was reaped by its parent; while it is still a zombie (a parent that does not reap, such as a
    /// non-systemd PID 1) /proc/PID/stat's exit_code field has it. The zombie cannot be replaced by
    /// another process under the same pid, and the start time is checked anyway.
    /// </summary>
    static ExitStatus ForeignExit(Registration reg)
    {
        for (var attempt = 0; attempt < 3; attempt++)
        {
            if (TryPidfdExitInfo(reg.Pidfd) is { } fromPidfd) return fromPidfd;
            var stat = ProcStat.Read(reg.Pid);
            if (stat is { } st && st.StartTime == reg.StartTime && st.IsZombie) return ProcStat.Decode(st.WaitStatus);
            // Between "exited" and "zombie or reaped" for a moment: look again.
            Thread.Sleep(2);
        }
        return new ExitStatus(-1, null);
    }

    static ExitStatus? TryPidfdExitInfo(int pidfd)
    {
        byte* info = stackalloc byte[64];
        new Span<byte>(info, 64).Clear();
        *(ulong*)info = PIDFD_INFO_EXIT;
        if (Libc.ioctl(pidfd, PIDFD_GET_INFO, info) != 0) return null; // ENOTTY before 6.13, ESRCH: no info
        if ((*(ulong*)info & PIDFD_INFO_EXIT) == 0) return null;
        return ProcStat.Decode(*(int*)(info + 60));
    }
}
