using System.Text.Json;
using System.Text.Json.Serialization;

namespace Gocker.Syscalls.Spawn;

/// <summary>
/// What gocker-init must build before it execs the user's command. Written by the daemon as JSON
/// into the container's run dir (mode 0600) and read by the init before pivot_root.
/// All host paths are absolute and were validated by the daemon.
/// </summary>
public sealed record InitSpec
{
    public int Version { get; init; } = 1;
    /// <summary>Host directory where the overlay is mounted (inside the container's mount namespace only).</summary>
    public required string RootfsDir { get; init; }
    /// <summary>Overlay lower dirs, topmost first (as overlayfs' lowerdir= option wants them).</summary>
    public required string[] LowerDirs { get; init; }
    public required string UpperDir { get; init; }
    public required string WorkDir { get; init; }
    public required string Hostname { get; init; }
    /// <summary>argv of the user's command; Args[0] is looked up in the container's PATH if it has no '/'.</summary>
    public required string[] Args { get; init; }
    /// <summary>The container's whole environment (image defaults + user's -e); never the host's.</summary>
    public required string[] Env { get; init; }
    /// <summary>Absolute path inside the container; created if missing.</summary>
    public string WorkingDir { get; init; } = "/";
    public VolumeMount[] Volumes { get; init; } = [];
    /// <summary>Fault injection (gocker debug inject-fault CONTAINER mount): the init fails its
    /// mount-overlay step with an "injected fault" error, through the real failure path (exec-status
    /// pipe, teardown). Omitted from the JSON when false.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool InjectMountFault { get; init; }
    /// <summary>USER (name, uid, uid:gid, name:group; "" = root), resolved by the init inside the
    /// container's /etc/passwd and /etc/group just before it execs the command.</summary>
    public string User { get; init; } = "";
    /// <summary>fds 0-2 are the slave of a pseudo-terminal: the init makes it its controlling terminal
    /// (TIOCSCTTY; the spawner already made it a session leader) and bind-mounts it on /dev/console.</summary>
    public bool Tty { get; init; }
    /// <summary>Mount the overlay with `volatile` (no syncfs of the upper filesystem when the overlay
    /// goes, i.e. on the exit path of the container's last process): set for `--rm` containers, whose
    /// upper dir is deleted when they exit, so there is nothing to make durable. Omitted when false.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool VolatileUpper { get; init; }

    // ---- hardening: every field is omitted at its default (then Docker's defaults apply) ----
    /// <summary>Bounding/effective/permitted capability set; null = Docker's default 14.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ulong? Capabilities { get; init; }
    /// <summary>--read-only: the overlay is made read-only once every mount point exists.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool ReadonlyRootfs { get; init; }
    /// <summary>/proc and /sys as the host's kernel gives them (--privileged, systempaths=unconfined):
    /// no masked or read-only paths; with Privileged also /sys read-write.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool UnmaskedPaths { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool Privileged { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public TmpfsMount[]? Tmpfs { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Rlimit[]? Rlimits { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public DeviceNode[]? Devices { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public SysctlSetting[]? Sysctls { get; init; }
    /// <summary>Bytes of /dev/shm; 0 = 64 MiB.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public long ShmSize { get; init; }
    /// <summary>--group-add: names (looked up in the container's /etc/group) or gids.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string[]? GroupAdd { get; init; }
    /// <summary>--oom-score-adj; null = inherited (the daemon's).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? OomScoreAdj { get; init; }
    /// <summary>The seccomp program (raw struct sock_filter array, compiled by the daemon) the init installs
    /// before the command runs; null = unconfined. Base64 in the JSON, omitted when null.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public byte[]? Seccomp { get; init; }
    /// <summary>PR_SET_NO_NEW_PRIVS before the command (--security-opt no-new-privileges). Omitted when false.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool NoNewPrivileges { get; init; }
    /// <summary>userns-remap: the init runs in its own user namespace (made by its native constructor)
    /// and finds its root filesystem ready on fd 6 (IdmappedOverlay); the Lower/Upper/WorkDir are then
    /// informational. Omitted when false.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool Remapped { get; init; }
    /// <summary>--init: the init stays PID 1, runs the command as its child, forwards signals to it and
    /// reaps orphans (tini's behaviour); it exits with the command's status. Omitted when false.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool Init { get; init; }
    /// <summary>--cgroupns private: once the daemon says the init is in the container's cgroups (a
    /// "placed" byte, 2, on the go channel), the init enters a cgroup namespace of its own, whose root
    /// is then those cgroups. Omitted when false (--cgroupns host).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool CgroupNs { get; init; }
    /// <summary>What to mount at /sys/fs/cgroup (Cgroups.CgroupNsMounts: one entry per line); null = nothing.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string[]? CgroupMounts { get; init; }
}

/// <summary>--tmpfs PATH[:OPTIONS]: a tmpfs at Destination (resolved within the rootfs) with mount
/// flags (MS_*) and the data options (size=, mode=, uid=, gid=, nr_inodes=, ...), both validated by the daemon.</summary>
public sealed record TmpfsMount(string Destination, ulong Flags, string Data);

/// <summary>A resource limit (--ulimit): Resource is RLIMIT_* (0..15); -1 = RLIM_INFINITY.</summary>
public sealed record Rlimit(string Name, int Resource, long Soft, long Hard);

/// <summary>A device node the init creates inside the container (--device, and every host device with
/// --privileged): Type 'c' or 'b', FileMode the permission bits, Access the cgroup permissions (rwm).</summary>
public sealed record DeviceNode(string HostPath, string Path, char Type, long Major, long Minor, int FileMode, uint Uid, uint Gid, string Access);

/// <summary>--sysctl KEY=VALUE, written to /proc/sys/KEY (dots as slashes) of the container's own /proc.</summary>
public sealed record SysctlSetting(string Key, string Value);

/// <summary>A bind mount of a host path onto a path inside the container (resolved within the rootfs).</summary>
public sealed record VolumeMount(string Source, string Destination, bool ReadOnly)
{
    /// <summary>A volume (not a bind): while its source is empty, the init copies what the image has
    /// at Destination into it (owner and mode too) before binding it, as Docker's copy-up. Omitted when false.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool CopyUp { get; init; }
}

[JsonSourceGenerationOptions(WriteIndented = false)]
[JsonSerializable(typeof(InitSpec))]
public partial class InitSpecJson : JsonSerializerContext
{
    public static byte[] Serialize(InitSpec spec) => JsonSerializer.SerializeToUtf8Bytes(spec, Default.InitSpec);
    public static InitSpec Deserialize(ReadOnlySpan<byte> json) =>
        JsonSerializer.Deserialize(json, Default.InitSpec) ?? throw new InvalidDataException("empty init spec");
}
