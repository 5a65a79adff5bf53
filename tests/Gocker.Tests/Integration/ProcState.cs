namespace Gocker.Tests.Integration;

/// <summary>
/// Whether a process still runs, read from /proc/PID/stat in one read: checking that the file exists
/// and then reading it races with the reaper (the test host, or a lazy PID 1, may reap between the two).
/// </summary>
internal static class ProcState
{
    /// <summary>Exited or a zombie.</summary>
    public static bool Gone(int pid) => !Alive(pid);

    /// <summary>Runs and is not a zombie.</summary>
    public static bool Alive(int pid)
    {
        if (pid <= 0) return false;
        try { return !File.ReadAllText($"/proc/{pid}/stat").Contains(") Z "); }
        catch (IOException) { return false; }
    }
}
