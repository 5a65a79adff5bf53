namespace Gocker.Syscalls.Cgroups;

/// <summary>The kernel's CPU list syntax ("0-3,5,7-8"), as --cpuset-cpus and cpuset.cpus use it.</summary>
public static class CpusetList
{
    const int MaxCpu = 8191; // NR_CPUS upper bound on common kernels; refuses absurd ranges early

    /// <summary>Parses a list; throws ArgumentException naming the bad part.</summary>
    public static SortedSet<int> Parse(string text, string what = "cpuset-cpus")
    {
        var set = new SortedSet<int>();
        var trimmed = text.Trim();
        if (trimmed.Length == 0) return set;
        foreach (var part in trimmed.Split(','))
        {
            var dash = part.IndexOf('-');
            if (dash < 0)
            {
                set.Add(ParseCpu(part, text, what));
                continue;
            }
            int lo = ParseCpu(part[..dash], text, what), hi = ParseCpu(part[(dash + 1)..], text, what);
            if (hi < lo) throw new ArgumentException($"{what} {text}: range \"{part}\" is reversed");
            for (int i = lo; i <= hi; i++) set.Add(i);
        }
        return set;
    }

    static int ParseCpu(string s, string whole, string what)
    {
        if (s.Length == 0 || s.Length > 5 || !s.All(char.IsAsciiDigit) || int.Parse(s) > MaxCpu)
            throw new ArgumentException($"{what} {whole}: \"{s}\" is not a valid CPU number (expected a list like 0-2,4)");
        return int.Parse(s);
    }

    /// <summary>Canonical form: ranges collapsed ("0-2,4").</summary>
    public static string Format(IEnumerable<int> cpus)
    {
        var parts = new List<string>();
        int? start = null, prev = null;
        foreach (var c in cpus.Order())
        {
            if (start is null) { start = prev = c; continue; }
            if (c == prev + 1) { prev = c; continue; }
            parts.Add(start == prev ? $"{start}" : $"{start}-{prev}");
            start = prev = c;
        }
        if (start is not null) parts.Add(start == prev ? $"{start}" : $"{start}-{prev}");
        return string.Join(",", parts);
    }

    /// <summary>Throws "cpuset-cpus 7: CPU 7 does not exist (available: 0-1)" for CPUs outside
    /// <paramref name="available"/>; returns the parsed set otherwise.</summary>
    public static SortedSet<int> ValidateAgainst(string requested, string available)
    {
        var want = Parse(requested);
        if (want.Count == 0) throw new ArgumentException($"cpuset-cpus \"{requested}\": empty CPU list");
        var have = Parse(available, "available cpus");
        foreach (var cpu in want)
            if (!have.Contains(cpu))
                throw new ArgumentException($"cpuset-cpus {requested}: CPU {cpu} does not exist (available: {Format(have)})");
        return want;
    }
}
