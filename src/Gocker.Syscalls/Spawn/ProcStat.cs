using System.Globalization;

namespace Gocker.Syscalls.Spawn;

/// <summary>
/// The fields of /proc/PID/stat that re-adoption needs. The start time (field 22, clock ticks since
/// boot) tells a process apart from a later one that got the same pid: a recorded (pid, start time)
/// pair names exactly one process for the life of the machine.
/// </summary>
public readonly record struct ProcStat(char State, ulong StartTime, int WaitStatus)
{
    /// <summary>Reads /proc/PID/stat; null if there is no such process (any more).</summary>
    public static ProcStat? Read(int pid)
    {
        if (pid <= 0) return null;
        string text;
        try { text = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat"); }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or IOException) { return null; }
        return Parse(text);
    }

    /// <summary>Parses a stat line. The command name (field 2) may hold spaces and ')' itself, so
    /// fields are counted from the LAST ')'.</summary>
    public static ProcStat? Parse(string text)
    {
        var close = text.LastIndexOf(')');
        if (close < 0) return null;
        var f = text[(close + 1)..].TrimEnd().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        // f[0] is field 3 (state): field N is f[N - 3].
        if (f.Length < 20 || f[0].Length != 1) return null;
        if (!ulong.TryParse(f[19], NumberStyles.None, CultureInfo.InvariantCulture, out var start)) return null;
        // Field 52 (exit_code, a wait(2) status) exists since Linux 3.5.
        var exit = f.Length > 49 && int.TryParse(f[49], NumberStyles.None, CultureInfo.InvariantCulture, out var e) ? e : 0;
        return new ProcStat(f[0][0], start, exit);
    }

    public bool IsZombie => State is 'Z' or 'X';

    /// <summary>Decodes a wait(2) status: exited with a code, or killed by a signal (128+N).</summary>
    public static Spawn.ExitStatus Decode(int waitStatus)
    {
        var sig = waitStatus & 0x7f;
        return sig == 0 ? ExitStatus.Exited((waitStatus >> 8) & 0xff) : ExitStatus.Killed(sig);
    }
}
