using System.Globalization;

namespace Gocker.Syscalls.Spawn;

/// <summary>The credentials a container process runs with, resolved inside the container's rootfs.</summary>
public sealed record ResolvedUser(uint Uid, uint Gid, uint[] Groups, string Home);

/// <summary>Thrown when USER names a user or group the container's /etc files do not have.</summary>
public sealed class UnknownUserException(string message) : Exception(message);

/// <summary>
/// Docker's (runc's GetExecUser) rules for USER: "name", "uid", "name:group", "uid:gid" (either half
/// a name or a number). A name must exist in the container's /etc/passwd (/etc/group for a group);
/// a numeric uid needs no entry (then gid 0 and HOME "/"). Supplementary groups are the /etc/group
/// entries that list the user's name as a member. Pure: the caller reads the files (gocker-init
/// reads them after pivot_root / setns, so a symlinked /etc/passwd resolves inside the container).
/// </summary>
public static class UserResolver
{
    public static ResolvedUser Resolve(string user, string? passwd, string? group)
    {
        user ??= "";
        if (user.Contains('\0') || user.Contains('\n')) throw new UnknownUserException("invalid user: contains a NUL or newline");
        var colon = user.IndexOf(':');
        var userPart = colon < 0 ? user : user[..colon];
        var groupPart = colon < 0 ? null : user[(colon + 1)..];
        if (colon >= 0 && groupPart!.Length == 0) throw new UnknownUserException($"invalid user \"{user}\": empty group");

        var users = Entries(passwd, 7);
        var groups = Entries(group, 4);
        uint uid, gid = 0;
        string name = "", home = "/";
        if (userPart.Length == 0)
        {
            uid = 0;
            var root = users.FirstOrDefault(e => e[2] == "0");
            if (root is not null) { name = root[0]; gid = ParseId(root[3]) ?? 0; home = root[5]; }
        }
        else if (ParseId(userPart) is { } n)
        {
            uid = n;
            var e = users.FirstOrDefault(e => ParseId(e[2]) == n);
            if (e is not null) { name = e[0]; gid = ParseId(e[3]) ?? 0; home = e[5]; }
        }
        else
        {
            var e = users.FirstOrDefault(e => e[0] == userPart)
                    ?? throw new UnknownUserException($"unable to find user {userPart}: no matching entries in passwd file");
            uid = ParseId(e[2]) ?? throw new UnknownUserException($"user {userPart}: invalid uid \"{e[2]}\" in passwd file");
            gid = ParseId(e[3]) ?? 0;
            name = e[0];
            home = e[5];
        }
        if (groupPart is not null)
        {
            if (ParseId(groupPart) is { } g) gid = g;
            else
            {
                var e = groups.FirstOrDefault(e => e[0] == groupPart)
                        ?? throw new UnknownUserException($"unable to find group {groupPart}: no matching entries in group file");
                gid = ParseId(e[2]) ?? throw new UnknownUserException($"group {groupPart}: invalid gid \"{e[2]}\" in group file");
            }
        }
        var extra = new List<uint>();
        if (name.Length > 0)
            foreach (var e in groups)
                if (e[3].Split(',').Contains(name) && ParseId(e[2]) is { } g && g != gid && !extra.Contains(g)) extra.Add(g);
        return new ResolvedUser(uid, gid, extra.ToArray(), home.Length > 0 ? home : "/");
    }

    /// <summary>A valid id: decimal, below 2^31 (the kernel's (uid_t)-1 and negatives are refused).</summary>
    static uint? ParseId(string s) =>
        s.Length > 0 && s.Length <= 10 && s.All(char.IsAsciiDigit) &&
        uint.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v <= int.MaxValue ? v : null;

    /// <summary>Lines with at least `fields` colon-separated fields; comments and junk skipped.</summary>
    static List<string[]> Entries(string? text, int fields)
    {
        var list = new List<string[]>();
        if (text is null) return list;
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.Length == 0 || line[0] == '#') continue;
            var f = line.Split(':');
            if (f.Length >= fields) list.Add(f);
        }
        return list;
    }
}
