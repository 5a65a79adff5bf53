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
    /// <summary>The seccomp program (raw struct sock_filter array, compiled by the daemon) the init installs
    /// before the command runs; null = unconfined. Base64 in the JSON, omitted when null.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public byte[]? Seccomp { get; init; }
    /// <summary>PR_SET_NO_NEW_PRIVS before the command (--security-opt no-new-privileges). Omitted when false.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool NoNewPrivileges { get; init; }
}

/// <summary>A bind mount of a host path onto a path inside the container (resolved within the rootfs).</summary>
public sealed record VolumeMount(string Source, string Destination, bool ReadOnly);

[JsonSourceGenerationOptions(WriteIndented = false)]
[JsonSerializable(typeof(InitSpec))]
public partial class InitSpecJson : JsonSerializerContext
{
    public static byte[] Serialize(InitSpec spec) => JsonSerializer.SerializeToUtf8Bytes(spec, Default.InitSpec);
    public static InitSpec Deserialize(ReadOnlySpan<byte> json) =>
        JsonSerializer.Deserialize(json, Default.InitSpec) ?? throw new InvalidDataException("empty init spec");
}
