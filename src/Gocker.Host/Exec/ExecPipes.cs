using Gocker.Syscalls.Native;
using Gocker.Syscalls.Terminal;
using static Gocker.Syscalls.Native.Consts;

namespace Gocker.Host;

/// <summary>The pipes of one exec: the child's ends (handed to the spawn, then closed here) and
/// the daemon's. /dev/null for a stream that is not attached.</summary>
public sealed class ExecPipes
{
    public int ChildIn = -1, ChildOut = -1, ChildErr = -1, InW = -1, OutR = -1, ErrR = -1;
    int _null = -1;

    public void Open(bool stdin, bool stdout, bool stderr)
    {
        _null = Sys.Open("/dev/null", O_RDWR | O_CLOEXEC);
        if (stdin) (ChildIn, InW) = Sys.Pipe(); else ChildIn = _null;
        if (stdout) (OutR, ChildOut) = Sys.Pipe(); else ChildOut = _null;
        if (stderr) (ErrR, ChildErr) = Sys.Pipe(); else ChildErr = _null;
    }

    /// <summary>-t: the slave as fds 0-2 of the process; the master goes to the instance (resize, PumpTty).</summary>
    public void OpenPty(ExecSession inst, ushort rows, ushort cols, int initPid, ulong initStartTime)
    {
        // The container's own devpts (so `tty` names a /dev/pts/N that exists in it); the host's
        // only if the container has no usable /dev/ptmx.
        using var pty = ContainerPty(initPid, initStartTime, rows, cols) ?? Pty.Open(rows, cols);
        ChildIn = ChildOut = ChildErr = pty.TakeSlave();
        lock (inst.Gate) inst.Master = pty.TakeMaster();
        _master = inst;
    }

    ExecSession? _master;

    /// <summary>A pty of the container's devpts, through /proc/PID/root of its init. The pid is
    /// trusted only if it still names the process that started at the recorded time, checked
    /// before and after opening its root: a reused pid must never hand this exec a terminal in
    /// another container's devpts, where that container could read and type into it.</summary>
    static Pty? ContainerPty(int pid, ulong startTime, ushort rows, ushort cols)
    {
        if (pid <= 0 || Gocker.Syscalls.Spawn.ProcStat.Read(pid)?.StartTime != startTime) return null;
        int root;
        try { root = Sys.Open($"/proc/{pid}/root", O_PATH | O_DIRECTORY | O_CLOEXEC); }
        catch (Gocker.Syscalls.SyscallException) { return null; }
        try
        {
            if (Gocker.Syscalls.Spawn.ProcStat.Read(pid)?.StartTime != startTime) return null;
            return Pty.OpenInRoot(root, rows, cols);
        }
        finally { Sys.Close(root); }
    }

    public void CloseChildEnds()
    {
        foreach (var fd in new[] { ChildIn, ChildOut, ChildErr }.Distinct()) if (fd != _null) Sys.Close(fd);
        Sys.Close(_null);
        ChildIn = ChildOut = ChildErr = _null = -1;
    }

    public void CloseStdin() { var fd = Interlocked.Exchange(ref InW, -1); Sys.Close(fd); }

    public void CloseOutputs()
    {
        Sys.Close(Interlocked.Exchange(ref OutR, -1));
        Sys.Close(Interlocked.Exchange(ref ErrR, -1));
    }

    public void CloseAll()
    {
        _master?.CloseMaster();
        CloseChildEnds();
        CloseStdin();
        CloseOutputs();
    }
}
