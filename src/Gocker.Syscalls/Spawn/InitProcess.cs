using System.Globalization;
using System.Text;
using Gocker.Syscalls.Native;
using static Gocker.Syscalls.Native.Consts;

namespace Gocker.Syscalls.Spawn;

/// <summary>A spawned gocker-init: its pidfd (watched by the reaper), the status pipe and the go pipe.</summary>
internal sealed class InitProcess : IInitProcess
{
    readonly PidfdReaper reaper;
    readonly PidfdReaper.Registration reg;
    readonly object gate = new();
    int statusFd, goFd;
    bool released, disposed;

    public int Pid { get; }

    internal InitProcess(int pid, PidfdReaper reaper, PidfdReaper.Registration reg, int statusFd, int goFd)
    {
        Pid = pid;
        this.reaper = reaper;
        this.reg = reg;
        this.statusFd = statusFd;
        this.goFd = goFd;
    }

    /// <summary>Called once, after Release returned or on Dispose (the zygote pool refills then).</summary>
    internal Action? OnSettled;

    void Settled() => Interlocked.Exchange(ref OnSettled, null)?.Invoke();

    /// <summary>True once the process has exited (a zygote that died while it waited).</summary>
    internal bool HasExited => reg.Task.IsCompleted;

    /// <summary>Hands a zygote its container: the spec path, and stdin, stdout, stderr (and a netns to join) as SCM_RIGHTS
    /// (copies travel with the message; the caller keeps and closes its own). False when the zygote
    /// is gone (its end of the socket closed): the caller disposes it and spawns afresh.</summary>
    internal bool Claim(string specPath, ReadOnlySpan<int> fds)
    {
        lock (gate)
        {
            if (disposed || released || goFd < 0) return false;
            return Keeper.KeeperSocket.Send(goFd, "CLAIM " + specPath, fds);
        }
    }

    public void Placed()
    {
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            if (released) throw new InvalidOperationException("init already released");
            // EPIPE: the init already failed (it wrote why); Release reads it.
            Sys.WriteAll(goFd, [2]);
        }
    }

    public ExecResult Release()
    {
        int status;
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            if (released) throw new InvalidOperationException("init already released");
            released = true;
            // EPIPE here just means the init already failed (and wrote why): the status pipe tells.
            Sys.WriteAll(goFd, [1]);
            Sys.Close(goFd);
            goFd = -1;
            status = statusFd;
            statusFd = -1;
        }
        try
        {
            // EOF with nothing read: the CLOEXEC write end vanished in a successful execve.
            var data = Sys.ReadToEnd(status);
            return data.Length == 0 ? ExecResult.Success : Parse(Encoding.UTF8.GetString(data));
        }
        finally
        {
            Sys.Close(status);
            Settled();
        }
    }

    /// <summary>"CODE STEP: MESSAGE\n" as written by gocker-init.</summary>
    internal static ExecResult Parse(string text)
    {
        text = text.TrimEnd('\n');
        int sp = text.IndexOf(' ');
        int colon = text.IndexOf(": ", StringComparison.Ordinal);
        if (sp > 0 && colon > sp && int.TryParse(text.AsSpan(0, sp), NumberStyles.None, CultureInfo.InvariantCulture, out int code))
            return new ExecResult(false, code, text[(sp + 1)..colon], text[(colon + 2)..]);
        return new ExecResult(false, 125, "init", text);
    }

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
            // Closing the go pipe unreleased makes the init exit (125) without exec'ing anything.
            Sys.Close(goFd);
            Sys.Close(statusFd);
            goFd = statusFd = -1;
        }
        reaper.Detach(reg);
        Settled();
    }
}
