using System.Runtime.InteropServices;

namespace Gocker.Syscalls.Spawn;

/// <summary>
/// Per-thread nice values. On Linux the nice value belongs to a thread (setpriority with
/// PRIO_PROCESS and a thread id changes that thread only), and a new thread or process inherits the
/// value of the thread that created it.
///
/// Why: the daemon's container work (a crash loop's restarts: spawn, cgroup writes, records) can
/// saturate every CPU; run at a higher nice value, it yields to the API and to the console that
/// asked (a `ps` under a restart storm), and still gets all the CPU nobody else wants. Because of
/// the inheritance, every thread that starts a container's process from such a thread (the spawn
/// and exec threads) sets itself back to <see cref="Base"/> first: containers are never
/// deprioritised by this.
/// </summary>
public static partial class ThreadNice
{
    const int PRIO_PROCESS = 0;

    /// <summary>The nice value of the process's main thread when first read (its tid is the pid):
    /// the value the daemon was started with, which containers get.</summary>
    public static readonly int Base = ReadBase();

    [ThreadStatic] static bool t_lowered;

    /// <summary>Raises the calling thread's nice value to Base + delta, once per thread (later calls
    /// are a flag check). Returns false when it could not (the error is ignored: a priority hint).</summary>
    public static bool LowerCurrentThread(int delta)
    {
        if (t_lowered || delta <= 0) return t_lowered;
        t_lowered = true;
        return setpriority(PRIO_PROCESS, gettid(), Math.Min(19, Base + delta)) == 0;
    }

    /// <summary>Sets the calling thread back to <see cref="Base"/> if it is nicer (one getpriority
    /// when it is not). For threads that must never be deprioritised, e.g. the API's: a thread-pool
    /// thread created from a niced thread would otherwise inherit its value.</summary>
    public static void EnsureBase()
    {
        if (Current() > Base) setpriority(PRIO_PROCESS, gettid(), Base);
    }

    /// <summary>The calling thread's nice value.</summary>
    public static int Current()
    {
        Marshal.SetLastPInvokeError(0);
        var n = getpriority(PRIO_PROCESS, gettid());
        return n == -1 && Marshal.GetLastPInvokeError() != 0 ? 0 : n;
    }

    static int ReadBase()
    {
        Marshal.SetLastPInvokeError(0);
        var n = getpriority(PRIO_PROCESS, Environment.ProcessId);
        return n == -1 && Marshal.GetLastPInvokeError() != 0 ? 0 : n;
    }

    [LibraryImport("libc.so.6", EntryPoint = "setpriority", SetLastError = true)]
    private static partial int setpriority(int which, int who, int prio);
    [LibraryImport("libc.so.6", EntryPoint = "getpriority", SetLastError = true)]
    private static partial int getpriority(int which, int who);
    [LibraryImport("libc.so.6", EntryPoint = "gettid")]
    private static partial int gettid();
}
