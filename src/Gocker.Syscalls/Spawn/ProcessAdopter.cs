using System.Globalization;
using Gocker.Syscalls.Native;
using static Gocker.Syscalls.Native.Consts;

namespace Gocker.Syscalls.Spawn;

/// <summary>
/// Takes back a container's init after a daemon restart. That process is no longer our child (it
/// was re-parented to the nearest subreaper or to PID 1 when the old daemon died), so waitid() cannot
/// be used: its exit is watched with a pidfd and its status read with PIDFD_GET_INFO (kernel 6.15+,
/// once its new parent has reaped it) or, while it is still a zombie, from /proc/PID/stat.
/// </summary>
public interface IProcessAdopter
{
    /// <summary>Start time (/proc/PID/stat field 22) of a live process, to record next to its pid; 0 if gone.</summary>
    ulong StartTime(int pid);

    /// <summary>Opens the recorded process if, and only if, pid still names the process that started at
    /// startTime. Otherwise returns null and says why (gone, or the pid now belongs to another process:
    /// such a process must never be signalled).</summary>
    IInitProcess? Adopt(int pid, ulong startTime, out string why);
}

public sealed class ProcessAdopter : IProcessAdopter
{
    public static readonly ProcessAdopter Instance = new();

    public ulong StartTime(int pid) => ProcStat.Read(pid)?.StartTime ?? 0;

    public IInitProcess? Adopt(int pid, ulong startTime, out string why)
    {
        var p = pid.ToString(CultureInfo.InvariantCulture);
        if (pid <= 0 || startTime == 0) { why = $"no process recorded (pid {p}, start time {startTime})"; return null; }
        // pidfd first, then the start-time check: the pidfd pins one process, so if the check passes
        // after it was opened, every later signal through it reaches that process and no other.
        long fd = Libc.syscall(SYS_pidfd_open, pid, 0, 0, 0, 0);
        if (fd < 0)
        {
            int e = Libc.Errno;
            why = e == ESRCH ? $"process {p} is gone (reaped while gockerd was down)" : new SyscallException("pidfd_open", p, e).Message;
            return null;
        }
        var stat = ProcStat.Read(pid);
        if (stat is null || stat.Value.StartTime != startTime)
        {
            Sys.Close((int)fd);
            why = stat is null
                ? $"process {p} is gone (reaped while gockerd was down)"
                : $"pid {p} now belongs to another process (start time {stat.Value.StartTime}, recorded {startTime}): not touched";
            return null;
        }
        why = "";
        var reg = PidfdReaper.Shared.RegisterForeign((int)fd, pid, startTime);
        return new AdoptedProcess(pid, reg);
    }
}

/// <summary>A re-adopted, already running init: it can be signalled and watched, not released.</summary>
internal sealed class AdoptedProcess(int pid, PidfdReaper.Registration reg) : IInitProcess
{
    readonly object gate = new();
    bool disposed;

    public int Pid { get; } = pid;

    public ExecResult Release() => throw new InvalidOperationException($"process {Pid} was re-adopted: it is already running");

    public Task<ExitStatus> WaitForExitAsync(CancellationToken ct = default) => reg.Task.WaitAsync(ct);

    public void Signal(int signal)
    {
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            reg.Signal(Pid, signal);
        }
    }

    public void Dispose()
    {
        lock (gate)
        {
            if (disposed) return;
            disposed = true;
        }
        PidfdReaper.Shared.Detach(reg);
    }
}
