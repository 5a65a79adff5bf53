using System.Diagnostics;

namespace Gocker.Syscalls.Cgroups;

/// <summary>Directory-level steps shared by the drivers: parents, rollback, removal, waiting.</summary>
internal static class CgroupTree
{
    /// <summary>Makes sure every level of <paramref name="parent"/> exists under <paramref name="root"/>.
    /// Returns the level directories, top first (root excluded). Parents are shared by all
    /// containers and are never removed by us, not even on rollback: a concurrent Create of a
    /// sibling may be using them.</summary>
    /// <param name="afterLevel">runs on each level right after it exists, before the next is made
    /// (a new cgroup's files depend on its parent's settings: cpuset.cpus, subtree_control).</param>
    public static List<string> EnsureParents(CgroupFs fs, string root, string parent, Action<string>? afterLevel = null)
    {
        var levels = new List<string>();
        var current = root;
        foreach (var segment in parent.Split('/'))
        {
            current = Path.Combine(current, segment);
            fs.Mkdir(current); // false = already there: fine for a parent
            afterLevel?.Invoke(current);
            levels.Add(current);
        }
        return levels;
    }

    /// <summary>Best-effort removal of what a failed Create made, newest first.</summary>
    public static void RollBack(CgroupFs fs, List<string> created)
    {
        for (int i = created.Count - 1; i >= 0; i--)
        {
            try { fs.Rmdir(created[i]); } catch { /* the original error matters more */ }
        }
        created.Clear();
    }

    /// <summary>rmdir every directory (deepest first); while the kernel still reports EBUSY, kill
    /// what is left (once) and retry for up to ~2 s. Gone directories count as removed.</summary>
    public static void RemoveAll(CgroupFs fs, IReadOnlyList<string> dirs, Action killAll, Func<bool> hasProcesses)
    {
        var ordered = dirs.Distinct().OrderByDescending(d => d.Count(c => c == '/')).ToList();
        var sw = Stopwatch.StartNew();
        bool killed = false;
        while (true)
        {
            int err = 0;
            string? failed = null;
            foreach (var dir in ordered)
            {
                int e = fs.Rmdir(dir);
                if (e != 0) { err = e; failed = dir; }
            }
            if (err == 0) return;
            if (err != CgroupNative.EBUSY) throw new SyscallException("rmdir", failed, err);
            if (!killed && hasProcesses())
            {
                killAll();
                killed = true;
            }
            if (sw.Elapsed > TimeSpan.FromSeconds(2)) throw new SyscallException("rmdir", failed, err);
            Thread.Sleep(10);
        }
    }

    /// <summary>Polls <paramref name="done"/> with a short backoff until it holds or the timeout passes.</summary>
    public static bool WaitUntil(Func<bool> done, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        int delay = 1;
        while (true)
        {
            if (done()) return true;
            if (sw.Elapsed > timeout) return false;
            Thread.Sleep(delay);
            delay = Math.Min(delay * 2, 20);
        }
    }

    /// <summary>Sends SIGKILL to every pid listed until the listing is empty (v1 has no cgroup.kill).
    /// The caller freezes the cgroup first where it can, so nothing forks or exits (no pid reuse)
    /// between reading the list and signalling.</summary>
    public static void KillListed(Func<IReadOnlyList<int>> list, Action? afterFirstRound, string where)
    {
        var sw = Stopwatch.StartNew();
        bool first = true;
        while (true)
        {
            var pids = list();
            if (pids.Count == 0) { if (first) afterFirstRound?.Invoke(); return; }
            foreach (var pid in pids)
            {
                int e = CgroupNative.Kill(pid, CgroupNative.SIGKILL);
                if (e != 0 && e != CgroupNative.ESRCH) throw new SyscallException("kill", $"{where} pid {pid}", e);
            }
            if (first) { afterFirstRound?.Invoke(); first = false; }
            if (sw.Elapsed > TimeSpan.FromSeconds(5))
                throw new SyscallException("kill", where, $"processes remain after SIGKILL: {string.Join(",", pids)}");
            Thread.Sleep(5);
        }
    }
}
