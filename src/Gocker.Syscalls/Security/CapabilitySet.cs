namespace Gocker.Syscalls.Security;

/// <summary>Capability masks (bit n = capability n) and the CAP_* names of Docker's profiles and flags.</summary>
public static class CapabilitySet
{
    /// <summary>Linux capability names, indexed by number (capability.h, up to CAP_CHECKPOINT_RESTORE).</summary>
    public static readonly string[] Names =
    [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
        "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
        "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
        "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
        "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
        "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN",
        "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
        "CAP_CHECKPOINT_RESTORE",
    ];

    public const int CHOWN = 0, DAC_OVERRIDE = 1, DAC_READ_SEARCH = 2, FOWNER = 3, FSETID = 4, KILL = 5, SETGID = 6,
        SETUID = 7, SETPCAP = 8, NET_BIND_SERVICE = 10, NET_RAW = 13, SYS_CHROOT = 18, SYS_PTRACE = 19,
        NET_ADMIN = 12, SYS_ADMIN = 21, MKNOD = 27, AUDIT_WRITE = 29, SETFCAP = 31;

    /// <summary>Docker's default set: what a container keeps unless --cap-add/--cap-drop say otherwise.</summary>
    public const ulong DockerDefault =
        1UL << CHOWN | 1UL << DAC_OVERRIDE | 1UL << FOWNER | 1UL << FSETID | 1UL << KILL | 1UL << SETGID |
        1UL << SETUID | 1UL << SETPCAP | 1UL << NET_BIND_SERVICE | 1UL << NET_RAW | 1UL << SYS_CHROOT |
        1UL << MKNOD | 1UL << AUDIT_WRITE | 1UL << SETFCAP;

    /// <summary>Every capability this table knows.</summary>
    public static ulong All => (1UL << Names.Length) - 1;

    /// <summary>The capability's number for "CAP_SYS_ADMIN" or "SYS_ADMIN" (any case), or -1.</summary>
    public static int Parse(string name)
    {
        string n = name.StartsWith("CAP_", StringComparison.OrdinalIgnoreCase) ? name : "CAP_" + name;
        for (int i = 0; i < Names.Length; i++)
            if (string.Equals(Names[i], n, StringComparison.OrdinalIgnoreCase)) return i;
        return -1;
    }

    /// <summary>Every capability this kernel knows (/proc/sys/kernel/cap_last_cap), at most those named here.</summary>
    public static ulong Kernel
    {
        get
        {
            int last = Names.Length - 1;
            try
            {
                if (int.TryParse(File.ReadAllText("/proc/sys/kernel/cap_last_cap").Trim(), out var k) && k >= 0 && k < last) last = k;
            }
            catch (IOException) { }
            return (1UL << (last + 1)) - 1;
        }
    }

    /// <summary>"CAP_NET_ADMIN" (or "ALL") for inspect, as Docker normalises --cap-add/--cap-drop names.</summary>
    public static string Normalize(string name) =>
        string.Equals(name.Trim(), "ALL", StringComparison.OrdinalIgnoreCase) ? "ALL" : Parse(name.Trim()) is >= 0 and var i ? Names[i] : name;

    /// <summary>
    /// Docker's rules for --cap-add / --cap-drop / --privileged (moby's TweakCapabilities): privileged =
    /// every capability the kernel has; "ALL" in the adds starts from every capability, "ALL" in the
    /// drops from none; then the named drops are removed and the named adds added (an add wins over a
    /// drop of the same name). Throws ArgumentException naming an unknown capability.
    /// </summary>
    public static ulong Tweak(IEnumerable<string> adds, IEnumerable<string> drops, bool privileged)
    {
        if (privileged) return Kernel;
        static int Num(string n) => string.Equals(n.Trim(), "ALL", StringComparison.OrdinalIgnoreCase) ? -2
            : Parse(n.Trim()) is >= 0 and var i ? i : throw new ArgumentException($"unknown capability: \"{n}\"");
        var a = adds.Select(Num).ToList();
        var d = drops.Select(Num).ToList();
        ulong caps = a.Contains(-2) ? Kernel : d.Contains(-2) ? 0 : DockerDefault;
        foreach (var c in d) if (c >= 0) caps &= ~(1UL << c);
        foreach (var c in a) if (c >= 0) caps |= 1UL << c;
        return caps & Kernel;
    }
}
