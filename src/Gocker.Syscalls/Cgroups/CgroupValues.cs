namespace Gocker.Syscalls.Cgroups;

/// <summary>Conversions and parsers shared by the drivers.</summary>
public static class CgroupValues
{
    /// <summary>v1 cpu.shares [2..262144] to v2 cpu.weight [1..10000], runc's formula.</summary>
    public static long SharesToWeight(long shares)
    {
        if (shares == 0) return 0; // "unset"
        shares = Math.Clamp(shares, 2, 262144);
        return 1 + ((shares - 2) * 9999) / 262142;
    }

    /// <summary>Value of "key N" in a flat-keyed file (memory.events, cpu.stat, memory.oom_control);
    /// null when the key is absent.</summary>
    public static long? KeyedValue(string? text, string key)
    {
        if (text is null) return null;
        foreach (var line in text.Split('\n'))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length == 2 && fields[0] == key && long.TryParse(fields[1], out var v)) return v;
        }
        return null;
    }

    /// <summary>A single-number file; "max" (v2 "no limit") becomes long.MaxValue; absent → null.</summary>
    public static long? Number(string? text)
    {
        if (text is null) return null;
        var t = text.Trim();
        if (t == "max") return long.MaxValue;
        return long.TryParse(t, out var v) ? v : null;
    }

    public static HashSet<string> Words(string? text) =>
        text is null ? [] : [.. text.Split((char[])[' ', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries).Select(w => w.TrimStart('+'))];
}
