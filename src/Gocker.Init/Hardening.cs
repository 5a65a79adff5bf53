using Gocker.Syscalls;
using Gocker.Syscalls.Native;
using Gocker.Syscalls.Spawn;

namespace Gocker.Init;

/// <summary>Per-process settings of --ulimit, --oom-score-adj and --group-add, applied by the init
/// (and the exec init for groups) while it still has every capability.</summary>
static unsafe class Hardening
{
    const long SYS_prlimit64 = 302;

    /// <summary>setrlimit for each --ulimit (raising a hard limit needs CAP_SYS_RESOURCE: before the drop).</summary>
    public static void ApplyRlimits(Rlimit[] limits)
    {
        ulong* lim = stackalloc ulong[2];
        foreach (var l in limits)
        {
            lim[0] = unchecked((ulong)l.Soft); lim[1] = unchecked((ulong)l.Hard); // -1 = RLIM_INFINITY
            if (Libc.syscall(SYS_prlimit64, 0, l.Resource, (nint)lim, 0, 0) != 0)
                throw new InitFailure(125, $"setrlimit {l.Name}={l.Soft}:{l.Hard}: {ErrnoText.Describe(Libc.Errno)}");
        }
    }

    /// <summary>/proc/self/oom_score_adj of the process that execs the command (lowering it needs
    /// CAP_SYS_RESOURCE: before the drop). Called before pivot_root: /proc is the host's there, and
    /// "self" is this process in any PID namespace.</summary>
    public static void SetOomScoreAdj(int value)
    {
        int fd = Sys.Open("/proc/self/oom_score_adj", Consts.O_WRONLY);
        try
        {
            if (!Sys.WriteAll(fd, System.Text.Encoding.ASCII.GetBytes(value.ToString(System.Globalization.CultureInfo.InvariantCulture))))
                throw new InitFailure(125, $"oom_score_adj {value}: {ErrnoText.Describe(Libc.Errno)}");
        }
        finally { Sys.Close(fd); }
    }

    /// <summary>--group-add: gids as given, names looked up in the container's /etc/group (read after
    /// pivot_root or setns, like USER); an unknown name fails the start as Docker's does.</summary>
    public static ResolvedUser WithGroups(ResolvedUser user, string[]? groupAdd, Func<string, string?> readEtc)
    {
        if (groupAdd is not { Length: > 0 }) return user;
        var groups = new List<uint>(user.Groups);
        string? etcGroup = null;
        bool read = false;
        foreach (var g in groupAdd)
        {
            uint gid;
            if (g.Length <= 10 && g.All(char.IsAsciiDigit) && uint.TryParse(g, out var n) && n <= int.MaxValue) gid = n;
            else
            {
                if (!read) { etcGroup = readEtc("/etc/group"); read = true; }
                var entry = (etcGroup ?? "").Split('\n').Select(l => l.Split(':')).FirstOrDefault(f => f.Length >= 3 && f[0] == g);
                if (entry is null || !uint.TryParse(entry[2], out gid))
                    throw new InitFailure(125, $"unable to find group {g}: no matching entries in group file");
            }
            if (gid != user.Gid && !groups.Contains(gid)) groups.Add(gid);
        }
        return user with { Groups = groups.ToArray() };
    }
}
