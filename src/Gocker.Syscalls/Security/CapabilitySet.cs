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
        SYS_ADMIN = 21, MKNOD = 27, AUDIT_WRITE = 29, SETFCAP = 31;

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
}
