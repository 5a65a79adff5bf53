using System.Text;
using System.Text.RegularExpressions;

namespace Gocker.Images.Build;

/// <summary>.dockerignore as Docker reads it (moby/patternmatcher): one pattern a line, '#' comments,
/// paths cleaned and relative to the context root, '!' re-includes, '**' any number of directories,
/// '*' and '?' within one path element, [...] classes; the last pattern that matches decides, and a
/// pattern that matches a directory matches everything under it.</summary>
public sealed class DockerIgnore
{
    readonly List<(Regex Re, bool Exclusion)> _patterns = [];

    public bool IsEmpty => _patterns.Count == 0;

    public DockerIgnore(string text)
    {
        foreach (var raw in text.Replace("\r\n", "\n").Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            bool exclusion = line.StartsWith('!');
            if (exclusion) line = line[1..].Trim();
            if (line.Length == 0) continue;
            var clean = CleanRelative(line);
            if (clean == ".") continue; // "." would ignore the whole context: Docker drops it too
            _patterns.Add((new Regex(PathPatterns.ToRegex(clean, doubleStar: true), RegexOptions.CultureInvariant), exclusion));
        }
    }

    /// <summary>Whether the context path (relative, '/'-separated) is excluded.</summary>
    public bool Ignores(string relative)
    {
        relative = CleanRelative(relative);
        bool ignored = false;
        foreach (var (re, exclusion) in _patterns)
        {
            // A pattern matches the path itself or one of its parent directories.
            bool match = re.IsMatch(relative);
            if (!match)
            {
                var p = relative;
                int slash;
                while (!match && (slash = p.LastIndexOf('/')) > 0)
                {
                    p = p[..slash];
                    match = re.IsMatch(p);
                }
            }
            if (match) ignored = !exclusion;
        }
        return ignored;
    }

    /// <summary>Whether some exclusion pattern could re-include something under dir (then an
    /// ignored directory must still be walked).</summary>
    public bool HasExclusions => _patterns.Any(p => p.Exclusion);

    static string CleanRelative(string p)
    {
        var parts = new List<string>();
        foreach (var s in p.Replace('\\', '/').Split('/'))
        {
            if (s is "" or ".") continue;
            if (s == "..") { if (parts.Count > 0) parts.RemoveAt(parts.Count - 1); continue; }
            parts.Add(s);
        }
        return parts.Count == 0 ? "." : string.Join('/', parts);
    }
}

public static class PathPatterns
{
    /// <summary>A Go filepath.Match pattern (or a .dockerignore one with '**') as an anchored regex.</summary>
    public static string ToRegex(string pattern, bool doubleStar)
    {
        var sb = new StringBuilder("^");
        for (int i = 0; i < pattern.Length; i++)
        {
            char c = pattern[i];
            if (c == '*')
            {
                if (doubleStar && i + 1 < pattern.Length && pattern[i + 1] == '*')
                {
                    i++;
                    // "**/" matches zero or more directories; a trailing "**" everything.
                    if (i + 1 < pattern.Length && pattern[i + 1] == '/') { i++; sb.Append("(.*/)?"); }
                    else sb.Append(".*");
                }
                else sb.Append("[^/]*");
            }
            else if (c == '?') sb.Append("[^/]");
            else if (c == '[')
            {
                int end = pattern.IndexOf(']', i + 1);
                if (end < 0) throw new FormatException($"syntax error in pattern {pattern}");
                var cls = pattern[(i + 1)..end];
                if (cls.StartsWith('^') || cls.StartsWith('!')) cls = "^" + cls[1..];
                sb.Append('[').Append(cls.Replace("\\", "\\\\")).Append(']');
                i = end;
            }
            else if (c == '\\' && i + 1 < pattern.Length) sb.Append(Regex.Escape(pattern[++i].ToString()));
            else sb.Append(Regex.Escape(c.ToString()));
        }
        return sb.Append('$').ToString();
    }

    public static bool HasWildcards(string p) => p.IndexOfAny(['*', '?', '[']) >= 0;

    /// <summary>The context paths (relative) a COPY/ADD source names: itself, or every path whose
    /// elements match a wildcard source (Go's filepath.Match per element, as Docker's copier).</summary>
    public static List<string> Glob(string contextDir, string cleanRelative)
    {
        var re = new Regex(ToRegex(cleanRelative, doubleStar: false), RegexOptions.CultureInvariant);
        int depth = cleanRelative.Count(c => c == '/') + 1;
        var result = new List<string>();
        Walk(contextDir, "", 1);
        result.Sort(StringComparer.Ordinal);
        return result;

        void Walk(string dir, string rel, int level)
        {
            IEnumerable<string> entries;
            try { entries = Directory.EnumerateFileSystemEntries(dir); }
            catch (IOException) { return; }
            foreach (var e in entries)
            {
                var name = Path.GetFileName(e);
                var r = rel.Length == 0 ? name : rel + "/" + name;
                if (level == depth) { if (re.IsMatch(r)) result.Add(r); continue; }
                // Never walk through a symlinked directory: paths stay in the context.
                var info = new FileInfo(e);
                if (info.LinkTarget is null && Directory.Exists(e)) Walk(e, r, level + 1);
            }
        }
    }
}
