using System.Text.Json;
using System.Text.Json.Serialization;

namespace Gocker.Syscalls.Spawn;

/// <summary>
/// What gocker-init in exec mode (`gocker-init --exec SPEC_PATH`) runs inside a running container:
/// written by the daemon (mode 0600, in the container's run dir) and read by the init before it
/// joins the container's mount namespace.
/// </summary>
public sealed record ExecSpec
{
    /// <summary>argv; Args[0] is looked up in the PATH of Env if it has no '/'.</summary>
    public required string[] Args { get; init; }
    /// <summary>The container's environment with the exec's -e values over it; never the host's.</summary>
    public required string[] Env { get; init; }
    /// <summary>Absolute path inside the container; must exist (exec does not create it).</summary>
    public string WorkingDir { get; init; } = "/";
    /// <summary>USER as Docker takes it: name, uid, uid:gid, name:group; "" = root.</summary>
    public string User { get; init; } = "";
    /// <summary>fds 0-2 are a terminal: the init makes it its controlling terminal (TIOCSCTTY).</summary>
    public bool Tty { get; init; }
    /// <summary>The container's capability set (null = Docker's default 14).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ulong? Capabilities { get; init; }
    /// <summary>The container's --group-add, added to the user's groups as for its command.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string[]? GroupAdd { get; init; }
    /// <summary>The container's seccomp program (as InitSpec.Seccomp): exec processes are filtered too.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public byte[]? Seccomp { get; init; }
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool NoNewPrivileges { get; init; }
}

[JsonSourceGenerationOptions(WriteIndented = false)]
[JsonSerializable(typeof(ExecSpec))]
public partial class ExecSpecJson : JsonSerializerContext
{
    public static byte[] Serialize(ExecSpec spec) => JsonSerializer.SerializeToUtf8Bytes(spec, Default.ExecSpec);
    public static ExecSpec Deserialize(ReadOnlySpan<byte> json) =>
        JsonSerializer.Deserialize(json, Default.ExecSpec) ?? throw new InvalidDataException("empty exec spec");
}
