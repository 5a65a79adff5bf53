namespace Gocker.Syscalls.Cgroups;

/// <summary>One line of /proc/self/mountinfo (only what cgroup detection needs).</summary>
public sealed record MountInfoEntry(string Root, string MountPoint, string FsType, IReadOnlyList<string> SuperOptions);

public static class MountInfo
{
    /// <summary>Parses mountinfo text: "id parent maj:min root mountpoint opts [optional...] - fstype source superopts".</summary>
    public static List<MountInfoEntry> Parse(string text)
    {
        var list = new List<MountInfoEntry>();
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var f = line.Split(' ');
            int sep = Array.IndexOf(f, "-", 6);
            if (f.Length < 7 || sep < 0 || sep + 3 > f.Length) continue;
            var superOpts = sep + 3 < f.Length ? f[sep + 3].Split(',') : [];
            list.Add(new MountInfoEntry(Unescape(f[3]), Unescape(f[4]), f[sep + 1], superOpts));
        }
        return list;
    }

    /// <summary>mountinfo escapes space, tab, newline and backslash as \ooo octal.</summary>
    static string Unescape(string s)
    {
        if (!s.Contains('\\')) return s;
        var sb = new System.Text.StringBuilder();
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == '\\' && i + 3 < s.Length && s.Substring(i + 1, 3).All(c => c is >= '0' and <= '7'))
            {
                sb.Append((char)Convert.ToInt32(s.Substring(i + 1, 3), 8));
                i += 3;
            }
            else sb.Append(s[i]);
        }
        return sb.ToString();
    }
}
