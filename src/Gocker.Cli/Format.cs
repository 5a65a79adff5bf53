using System.Globalization;
using System.Text;

namespace Gocker.Cli;

/// <summary>Docker's human-readable output helpers (go-units HumanDuration/HumanSize, stringutils.Ellipsis).</summary>
public static class Format
{
    /// <summary>go-units HumanDuration: "Less than a second", "5 seconds", "About a minute", "3 hours", "2 weeks"...</summary>
    public static string HumanDuration(TimeSpan d)
    {
        long seconds = (long)d.TotalSeconds;
        if (seconds < 1) return "Less than a second";
        if (seconds == 1) return "1 second";
        if (seconds < 60) return $"{seconds} seconds";
        long minutes = (long)d.TotalMinutes;
        if (minutes == 1) return "About a minute";
        if (minutes < 60) return $"{minutes} minutes";
        long hours = (long)(d.TotalHours + 0.5);
        if (hours == 1) return "About an hour";
        if (hours < 48) return $"{hours} hours";
        if (hours < 24 * 7 * 2) return $"{hours / 24} days";
        if (hours < 24 * 30 * 2) return $"{hours / 24 / 7} weeks";
        if (hours < 24 * 365 * 2) return $"{hours / 24 / 30} months";
        return $"{(long)d.TotalHours / 24 / 365} years";
    }

    /// <summary>"5 seconds ago" for a Unix timestamp (seconds), as docker ps/images print CREATED.</summary>
    public static string Ago(long unixSeconds, DateTimeOffset now)
    {
        var d = now - DateTimeOffset.FromUnixTimeSeconds(unixSeconds);
        if (d < TimeSpan.Zero) d = TimeSpan.Zero;
        return HumanDuration(d) + " ago";
    }

    /// <summary>go-units HumanSizeWithPrecision(size, 3): decimal units, 3 significant digits ("4.26MB").</summary>
    public static string HumanSize(long bytes)
    {
        string[] units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
        double size = bytes;
        int i = 0;
        while (size >= 1000 && i < units.Length - 1)
        {
            size /= 1000;
            i++;
        }
        return size.ToString("G3", CultureInfo.InvariantCulture) + units[i];
    }

    /// <summary>stringutils.Ellipsis: at most maxLength characters, the last one "…" when cut.</summary>
    public static string Ellipsis(string s, int maxLength)
    {
        if (s.Length <= maxLength) return s;
        if (maxLength <= 1) return s[..maxLength];
        return s[..(maxLength - 1)] + "…";
    }

    /// <summary>A 12-character id, without any "sha256:" prefix.</summary>
    public static string ShortId(string id)
    {
        if (id.StartsWith("sha256:", StringComparison.Ordinal)) id = id[7..];
        return id.Length > 12 ? id[..12] : id;
    }

    /// <summary>Go's strconv.Quote for the printable ASCII/UTF-8 that commands contain.</summary>
    public static string Quote(string s)
    {
        var sb = new StringBuilder(s.Length + 2).Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\t': sb.Append("\\t"); break;
                case '\r': sb.Append("\\r"); break;
                default:
                    if (c < 0x20 || c == 0x7f) sb.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        return sb.Append('"').ToString();
    }

    /// <summary>Columns separated by at least 3 spaces, like docker's tabwriter (padding 3).</summary>
    public static void Table(TextWriter w, IReadOnlyList<string> headers, IReadOnlyList<IReadOnlyList<string>> rows)
    {
        var widths = new int[headers.Count];
        for (int c = 0; c < headers.Count; c++)
        {
            widths[c] = headers[c].Length;
            foreach (var row in rows) widths[c] = Math.Max(widths[c], row[c].Length);
        }
        WriteRow(w, headers, widths);
        foreach (var row in rows) WriteRow(w, row, widths);
    }

    private static void WriteRow(TextWriter w, IReadOnlyList<string> cells, int[] widths)
    {
        var sb = new StringBuilder();
        for (int c = 0; c < cells.Count; c++)
        {
            sb.Append(cells[c]);
            if (c < cells.Count - 1) sb.Append(' ', widths[c] - cells[c].Length + 3);
        }
        w.Write(sb.Append('\n').ToString());
    }
}
