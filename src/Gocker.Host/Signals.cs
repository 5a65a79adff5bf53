namespace Gocker.Host;

public static class Signals
{
    static readonly Dictionary<string, int> Names = new(StringComparer.OrdinalIgnoreCase)
    {
        ["HUP"] = 1, ["INT"] = 2, ["QUIT"] = 3, ["ILL"] = 4, ["TRAP"] = 5, ["ABRT"] = 6, ["BUS"] = 7, ["FPE"] = 8,
        ["KILL"] = 9, ["USR1"] = 10, ["SEGV"] = 11, ["USR2"] = 12, ["PIPE"] = 13, ["ALRM"] = 14, ["TERM"] = 15,
        ["CHLD"] = 17, ["CONT"] = 18, ["STOP"] = 19, ["TSTP"] = 20, ["TTIN"] = 21, ["TTOU"] = 22, ["URG"] = 23,
        ["XCPU"] = 24, ["XFSZ"] = 25, ["VTALRM"] = 26, ["PROF"] = 27, ["WINCH"] = 28, ["IO"] = 29, ["PWR"] = 30, ["SYS"] = 31,
    };

    /// <summary>"SIGTERM", "TERM", "term" or "15".</summary>
    public static int Parse(string? value, int fallback)
    {
        if (string.IsNullOrEmpty(value)) return fallback;
        if (int.TryParse(value, out var n) && n is > 0 and < 65) return n;
        var name = value.StartsWith("SIG", StringComparison.OrdinalIgnoreCase) ? value[3..] : value;
        return Names.TryGetValue(name, out var sig) ? sig : throw new Actors.Containers.BadRequestException($"Invalid signal: {value}");
    }
}
