using System.Text.Json;
namespace Gocker.Syscalls.Spawn;

/// <summary>
/// Reads the InitSpec with a plain Utf8JsonReader. Why not only InitSpecJson.Deserialize: on the start
/// path its first call costs about 1 ms of metadata setup (attribute reflection, encoder tables), a
/// fifth of the init's CPU. The format is still InitSpecJson's; any property this reader does not
/// know (a field added to InitSpec later) makes it fall back to InitSpecJson.Deserialize, so the two
/// can never disagree silently. A test (InitSpecReaderTests) compares both on a fully populated spec.
/// </summary>
public static class InitSpecReader
{
    public static InitSpec Read(ReadOnlySpan<byte> json) => TryFast(json) ?? InitSpecJson.Deserialize(json);

    /// <summary>The fast path alone: null when the input has anything it does not know.</summary>
    public static InitSpec? TryFast(ReadOnlySpan<byte> json)
    {
        try
        {
            var r = new Utf8JsonReader(json);
            if (!r.Read() || r.TokenType != JsonTokenType.StartObject) return null;
            int version = 1;
            string? rootfs = null, upper = null, work = null, hostname = null, workingDir = null, user = null;
            string[]? lower = null, args = null, env = null;
            VolumeMount[]? volumes = null;
            bool injectMountFault = false;
            bool tty = false, volatileUpper = false, readonlyRootfs = false, unmasked = false, privileged = false;
            ulong? capabilities = null;
            long shmSize = 0;
            int? oomScoreAdj = null;
            bool noNewPrivileges = false, remapped = false, init = false, cgroupNs = false;
            string[]? cgroupMounts = null;
            byte[]? seccomp = null;
            while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
            {
                if (r.ValueTextEquals("Version"u8)) { r.Read(); version = r.GetInt32(); }
                else if (r.ValueTextEquals("RootfsDir"u8)) rootfs = String(ref r);
                else if (r.ValueTextEquals("LowerDirs"u8)) lower = Strings(ref r);
                else if (r.ValueTextEquals("UpperDir"u8)) upper = String(ref r);
                else if (r.ValueTextEquals("WorkDir"u8)) work = String(ref r);
                else if (r.ValueTextEquals("Hostname"u8)) hostname = String(ref r);
                else if (r.ValueTextEquals("Args"u8)) args = Strings(ref r);
                else if (r.ValueTextEquals("Env"u8)) env = Strings(ref r);
                else if (r.ValueTextEquals("WorkingDir"u8)) workingDir = String(ref r);
                else if (r.ValueTextEquals("User"u8)) user = String(ref r);
                else if (r.ValueTextEquals("Tty"u8)) { r.Read(); tty = r.GetBoolean(); }
                else if (r.ValueTextEquals("Volumes"u8)) { volumes = Volumes(ref r); if (volumes is null) return null; }
                else if (r.ValueTextEquals("InjectMountFault"u8)) { r.Read(); injectMountFault = r.GetBoolean(); }
                else if (r.ValueTextEquals("VolatileUpper"u8)) { r.Read(); volatileUpper = r.GetBoolean(); }
                else if (r.ValueTextEquals("Capabilities"u8)) { r.Read(); capabilities = r.TokenType == JsonTokenType.Null ? null : r.GetUInt64(); }
                else if (r.ValueTextEquals("ReadonlyRootfs"u8)) { r.Read(); readonlyRootfs = r.GetBoolean(); }
                else if (r.ValueTextEquals("UnmaskedPaths"u8)) { r.Read(); unmasked = r.GetBoolean(); }
                else if (r.ValueTextEquals("Privileged"u8)) { r.Read(); privileged = r.GetBoolean(); }
                else if (r.ValueTextEquals("ShmSize"u8)) { r.Read(); shmSize = r.GetInt64(); }
                else if (r.ValueTextEquals("OomScoreAdj"u8)) { r.Read(); oomScoreAdj = r.TokenType == JsonTokenType.Null ? null : r.GetInt32(); }
                else if (r.ValueTextEquals("Seccomp"u8)) { r.Read(); seccomp = r.TokenType == JsonTokenType.Null ? null : r.GetBytesFromBase64(); }
                else if (r.ValueTextEquals("NoNewPrivileges"u8)) { r.Read(); noNewPrivileges = r.GetBoolean(); }
                else if (r.ValueTextEquals("Remapped"u8)) { r.Read(); remapped = r.GetBoolean(); }
                else if (r.ValueTextEquals("Init"u8)) { r.Read(); init = r.GetBoolean(); }
                else if (r.ValueTextEquals("CgroupNs"u8)) { r.Read(); cgroupNs = r.GetBoolean(); }
                else if (r.ValueTextEquals("CgroupMounts"u8)) cgroupMounts = Strings(ref r);
                else return null; // unknown: let the generated deserializer decide
            }
            if (r.TokenType != JsonTokenType.EndObject || rootfs is null || lower is null || upper is null ||
                work is null || hostname is null || args is null || env is null) return null;
            return new InitSpec
            {
                Version = version, RootfsDir = rootfs, LowerDirs = lower, UpperDir = upper, WorkDir = work,
                Hostname = hostname, Args = args, Env = env, WorkingDir = workingDir ?? "/", Volumes = volumes ?? [], User = user ?? "",
                InjectMountFault = injectMountFault, Tty = tty, VolatileUpper = volatileUpper,
                Capabilities = capabilities, ReadonlyRootfs = readonlyRootfs, UnmaskedPaths = unmasked, Privileged = privileged,
                ShmSize = shmSize, OomScoreAdj = oomScoreAdj,
                Seccomp = seccomp, NoNewPrivileges = noNewPrivileges, Remapped = remapped, Init = init,
                CgroupNs = cgroupNs, CgroupMounts = cgroupMounts,
            };
        }
        catch (JsonException) { return null; }
        catch (InvalidOperationException) { return null; }
    }

    static string? String(ref Utf8JsonReader r)
    {
        r.Read();
        return r.TokenType == JsonTokenType.Null ? null : r.GetString();
    }

    static string[]? Strings(ref Utf8JsonReader r)
    {
        r.Read();
        if (r.TokenType == JsonTokenType.Null) return null;
        if (r.TokenType != JsonTokenType.StartArray) throw new JsonException();
        var list = new List<string>();
        while (r.Read() && r.TokenType != JsonTokenType.EndArray) list.Add(r.GetString() ?? throw new JsonException());
        return list.ToArray();
    }

    static VolumeMount[]? Volumes(ref Utf8JsonReader r)
    {
        r.Read();
        if (r.TokenType == JsonTokenType.Null) return [];
        if (r.TokenType != JsonTokenType.StartArray) return null;
        var list = new List<VolumeMount>();
        while (r.Read() && r.TokenType == JsonTokenType.StartObject)
        {
            string? src = null, dst = null;
            bool ro = false;
            while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
            {
                if (r.ValueTextEquals("Source"u8)) src = String(ref r);
                else if (r.ValueTextEquals("Destination"u8)) dst = String(ref r);
                else if (r.ValueTextEquals("ReadOnly"u8)) { r.Read(); ro = r.GetBoolean(); }
                else return null;
            }
            if (src is null || dst is null) return null;
            list.Add(new VolumeMount(src, dst, ro));
        }
        return list.ToArray();
    }
}
