using System.Globalization;

namespace Gocker.Syscalls.Security;

/// <summary>
/// A remapped container's ids: uid/gid 0..Count-1 inside are HostUid.., HostGid.. on the host
/// (userns-remap). One range for users and one for groups, as Docker's daemon uses them.
/// </summary>
public sealed record IdMap(uint HostUid, uint HostGid, uint Count)
{
    /// <summary>The line written to /proc/PID/uid_map.</summary>
    public string UidMapLine => $"0 {HostUid} {Count}\n";
    public string GidMapLine => $"0 {HostGid} {Count}\n";

    /// <summary>The host uid of a container uid (ids outside the range are unmapped: null).</summary>
    public uint? ToHostUid(uint uid) => uid < Count ? HostUid + uid : null;
    public uint? ToHostGid(uint gid) => gid < Count ? HostGid + gid : null;
    /// <summary>The container uid of a host uid; ids outside the range show as the overflow id.</summary>
    public uint ToContainerUid(uint hostUid) => hostUid >= HostUid && hostUid - HostUid < Count ? hostUid - HostUid : Overflow;
    public uint ToContainerGid(uint hostGid) => hostGid >= HostGid && hostGid - HostGid < Count ? hostGid - HostGid : Overflow;
    const uint Overflow = 65534;
}

/// <summary>
/// Resolves the daemon's `userns-remap` setting as dockerd does: "default" (our own user, gockremap,
/// given a range in /etc/subuid and /etc/subgid if it has none, as dockerd does for dockremap),
/// USER, USER:GROUP, UID or UID:GID, each looked up in /etc/subuid and /etc/subgid by name and by id.
/// </summary>
public static class SubIds
{
    public const string DefaultUser = "gockremap";
    /// <summary>Enough for the ids images use (nobody is 65534).</summary>
    public const uint MinCount = 65536;
    const uint FirstHostId = 100000; // useradd's SUB_UID_MIN

    public static IdMap Resolve(string setting, string subuidPath = "/etc/subuid", string subgidPath = "/etc/subgid",
        string passwdPath = "/etc/passwd", string groupPath = "/etc/group")
    {
        if (string.IsNullOrWhiteSpace(setting)) throw new ArgumentException("userns-remap: empty setting");
        string user, group;
        if (setting == "default")
        {
            EnsureRange(subuidPath, DefaultUser);
            EnsureRange(subgidPath, DefaultUser);
            user = group = DefaultUser;
        }
        else
        {
            var parts = setting.Split(':');
            if (parts.Length > 2 || parts.Any(p => p.Length == 0))
                throw new ArgumentException($"userns-remap: '{setting}' is not USER, USER:GROUP, UID or UID:GID (or default)");
            user = parts[0];
            group = parts.Length == 2 ? parts[1] : parts[0];
        }
        var (uid0, ucount) = Find(subuidPath, user, OtherName(passwdPath, user))
            ?? throw new ArgumentException($"userns-remap: no subordinate uid range for '{user}' in {subuidPath}");
        var (gid0, gcount) = Find(subgidPath, group, OtherName(groupPath, group))
            ?? throw new ArgumentException($"userns-remap: no subordinate gid range for '{group}' in {subgidPath}");
        var count = Math.Min(ucount, gcount);
        if (count < MinCount)
            throw new ArgumentException($"userns-remap: the ranges for '{setting}' ({subuidPath}: {ucount}, {subgidPath}: {gcount}) hold fewer than {MinCount} ids");
        if (uid0 == 0 || gid0 == 0)
            throw new ArgumentException($"userns-remap: a range for '{setting}' starts at 0: container root would be host root");
        return new IdMap(uid0, gid0, count);
    }

    /// <summary>The first "name:start:count" line of the file for the name or its numeric id (or name for an id).</summary>
    internal static (uint Start, uint Count)? Find(string path, string name, string? alias)
    {
        if (!File.Exists(path)) return null;
        foreach (var line in File.ReadLines(path))
        {
            var f = line.Split(':');
            if (f.Length != 3 || (f[0] != name && f[0] != alias)) continue;
            if (uint.TryParse(f[1], NumberStyles.None, CultureInfo.InvariantCulture, out var start)
                && uint.TryParse(f[2], NumberStyles.None, CultureInfo.InvariantCulture, out var count) && count > 0)
                return (start, count);
        }
        return null;
    }

    /// <summary>A name's id, or an id's name, from a passwd/group-style file (subuid lines use either).</summary>
    static string? OtherName(string path, string nameOrId)
    {
        if (!File.Exists(path)) return null;
        bool isId = nameOrId.All(char.IsAsciiDigit);
        foreach (var line in File.ReadLines(path))
        {
            var f = line.Split(':');
            if (f.Length < 3) continue;
            if (isId && f[2] == nameOrId) return f[0];
            if (!isId && f[0] == nameOrId) return f[2];
        }
        return null;
    }

    /// <summary>Gives the user a range of MinCount ids after every range in the file (from 100000, as
    /// useradd does) unless it has one. Appended in one write: a reader never sees half a line.</summary>
    static void EnsureRange(string path, string name)
    {
        if (Find(path, name, null) is not null) return;
        ulong next = FirstHostId;
        if (File.Exists(path))
            foreach (var line in File.ReadLines(path))
            {
                var f = line.Split(':');
                if (f.Length == 3 && ulong.TryParse(f[1], out var s) && ulong.TryParse(f[2], out var c)) next = Math.Max(next, s + c);
            }
        if (next + MinCount > uint.MaxValue) throw new ArgumentException($"userns-remap: no free id range left in {path}");
        var text = File.Exists(path) && new FileInfo(path).Length > 0 && !File.ReadAllText(path).EndsWith('\n') ? "\n" : "";
        File.AppendAllText(path, text + $"{name}:{next}:{MinCount}\n");
    }
}
