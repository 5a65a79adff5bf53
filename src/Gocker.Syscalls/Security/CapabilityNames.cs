namespace Gocker.Syscalls.Security;

/// <summary>
/// Capability names and Docker's rules for --cap-add / --cap-drop / --privileged (moby's
/// TweakCapabilities): privileged = every capability the kernel has; "ALL" in CapAdd starts from every
/// capability, "ALL" in CapDrop from none; then the named drops are removed and the named adds added
/// (an add wins over a drop of the same name). Names are taken with or without "CAP_", any case.
/// </summary>
public static class CapabilityNames
{
    static readonly string[] Names =
    [
        "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
        "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
        "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
        "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
        "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
        "CHECKPOINT_RESTORE",
    ];

    public const int NET_ADMIN = 12, SYS_ADMIN = 21;

    /// <summary>Docker's default set: CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP
    /// NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP.</summary>
    public const ulong DockerDefault =
        1UL << 0 | 1UL << 1 | 1UL << 3 | 1UL << 4 | 1UL << 5 | 1UL << 6 | 1UL << 7 | 1UL << 8 |
        1UL << 10 | 1UL << 13 | 1UL << 18 | 1UL << 27 | 1UL << 29 | 1UL << 31;

    /// <summary>Every capability this kernel knows (/proc/sys/kernel/cap_last_cap), at most the ones named here.</summary>
    public static ulong All
    {
        get
        {
            int last = Names.Length - 1;
            try
            {
                if (int.TryParse(File.ReadAllText("/proc/sys/kernel/cap_last_cap").Trim(), out var k) && k >= 0 && k < last) last = k;
            }
            catch (IOException) { }
            return last >= 63 ? ulong.MaxValue : (1UL << (last + 1)) - 1;
        }
    }

    /// <summary>"net_admin", "CAP_NET_ADMIN" -> 12; "ALL" -> -1; unknown -> null.</summary>
    public static int? Parse(string name)
    {
        var n = name.Trim().ToUpperInvariant();
        if (n.StartsWith("CAP_", StringComparison.Ordinal)) n = n[4..];
        if (n == "ALL") return -1;
        var i = Array.IndexOf(Names, n);
        return i < 0 ? null : i;
    }

    /// <summary>"CAP_NET_ADMIN" (or "ALL") for inspect, as Docker normalises them.</summary>
    public static string Normalize(string name) => Parse(name) switch
    {
        -1 => "ALL",
        int i => "CAP_" + Names[i],
        null => name,
    };

    public static string NameOf(int cap) => cap >= 0 && cap < Names.Length ? "CAP_" + Names[cap] : "CAP_" + cap;

    /// <summary>The names in a mask, lowest first.</summary>
    public static IEnumerable<string> NamesOf(ulong mask)
    {
        for (int i = 0; i < 64; i++)
            if ((mask & (1UL << i)) != 0) yield return NameOf(i);
    }

    /// <summary>Docker's rules (see the class comment). Throws ArgumentException naming an unknown capability.</summary>
    public static ulong Tweak(IEnumerable<string> adds, IEnumerable<string> drops, bool privileged)
    {
        if (privileged) return All;
        var a = adds.Select(n => (n, Parse(n) ?? throw new ArgumentException($"unknown capability: \"{n}\""))).ToList();
        var d = drops.Select(n => (n, Parse(n) ?? throw new ArgumentException($"unknown capability: \"{n}\""))).ToList();
        ulong caps = a.Any(x => x.Item2 == -1) ? All : d.Any(x => x.Item2 == -1) ? 0 : DockerDefault;
        foreach (var (_, c) in d) if (c >= 0) caps &= ~(1UL << c);
        foreach (var (_, c) in a) if (c >= 0) caps |= 1UL << c;
        return caps & All;
    }
}
