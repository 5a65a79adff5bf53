using System.Globalization;
using Gocker.Actors.Containers;

namespace Gocker.Actors.Logs;

/// <summary>
/// A container's log as create accepted it (Docker's HostConfig.LogConfig): Type "json-file" or
/// "local" (both mean Gocker's own log, kept in generations of at most MaxSize bytes, MaxFile of
/// them) or "none" (`logs` refuses; only a small attach buffer is kept while the container runs, and
/// emptied at its exit). MaxSizeText is the size as given (for inspect).
/// </summary>
public sealed record LogSettings(string Type, long MaxSize, int MaxFile, string MaxSizeText)
{
    public const string JsonFile = "json-file", Local = "local", None = "none";

    /// <summary>Below this a generation cannot hold a useful chunk plus its 24-byte index record.</summary>
    public const long MinMaxSize = 1000;

    /// <summary>Gocker's shipped default (gocker.logs in the HOCON): 10m x 3 = 30 MB per container.
    /// Docker's json-file keeps everything unless told; its local driver keeps 20m x 5.</summary>
    public static readonly LogSettings Default = new(JsonFile, 10_000_000, 3, "10m");

    /// <summary>What a "none" container keeps while it runs, only for attached clients (`run`).</summary>
    public static LogSettings AttachBufferOnly => new(None, 1_000_000, 2, "");

    public bool Readable => Type != None;

    /// <summary>The bound actually written: "none" keeps the attach buffer only.</summary>
    public (long MaxSize, int MaxFile) Limits => Readable ? (MaxSize, MaxFile) : (AttachBufferOnly.MaxSize, AttachBufferOnly.MaxFile);

    /// <summary>Inspect's HostConfig.LogConfig.Config: the effective options.</summary>
    public Dictionary<string, string> Config => Readable
        ? new() { ["max-size"] = MaxSizeText, ["max-file"] = MaxFile.ToString(CultureInfo.InvariantCulture) }
        : [];

    /// <summary>Validates HostConfig.LogConfig (null, or Type "" and no Config = the daemon's default).
    /// Unknown types and options are refused by name (the API answers 400), never ignored.</summary>
    public static LogSettings FromApi(string? type, IReadOnlyDictionary<string, string>? config, LogSettings defaults)
    {
        var t = string.IsNullOrEmpty(type) ? defaults.Type : type;
        if (t is not (JsonFile or Local or None))
            throw new BadRequestException($"HostConfig.LogConfig.Type \"{type}\" is not supported: use \"json-file\" or \"local\" (Gocker's own log, rotated by max-size and max-file) or \"none\"");
        config ??= new Dictionary<string, string>();
        foreach (var key in config.Keys)
            if (t == None || key is not ("max-size" or "max-file"))
                throw new BadRequestException($"HostConfig.LogConfig.Config \"{key}\" is not supported: unknown log opt '{key}' for {t} log driver" +
                    (t == None ? "" : " (Gocker knows max-size and max-file)"));
        if (t == None) return new LogSettings(None, 0, 0, "");
        var size = defaults.MaxSize;
        var sizeText = defaults.MaxSizeText;
        if (config.TryGetValue("max-size", out var s))
        {
            size = ParseMaxSize(s, "HostConfig.LogConfig.Config max-size");
            sizeText = s;
        }
        var files = defaults.MaxFile;
        if (config.TryGetValue("max-file", out var f)) files = ParseMaxFile(f, "HostConfig.LogConfig.Config max-file");
        return new LogSettings(t, size, files, sizeText);
    }

    public static long ParseMaxSize(string text, string what)
    {
        // Kept as given (for inspect): bounded like every stored field.
        if (text.Length > 32) throw new BadRequestException($"{what} \"{text[..32]}...\": too long for a size");
        long size;
        try { size = HumanSize.Parse(text); }
        catch (FormatException ex) { throw new BadRequestException($"{what} \"{text}\": {ex.Message}"); }
        if (size <= 0) throw new BadRequestException($"{what} \"{text}\": max-size must be a positive number");
        if (size < MinMaxSize) throw new BadRequestException($"{what} \"{text}\": max-size must be at least 1k (a log file holds its index too)");
        return size;
    }

    public static int ParseMaxFile(string text, string what)
    {
        if (!int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n))
            throw new BadRequestException($"{what} \"{text}\": not a number");
        if (n < 1) throw new BadRequestException($"{what} \"{text}\": max-file cannot be less than 1");
        if (n > 1000) throw new BadRequestException($"{what} \"{text}\": max-file cannot be more than 1000");
        return n;
    }
}

/// <summary>Docker's size strings for log options (go-units FromHumanSize, which json-file and
/// local use): a decimal number, an optional space, then an optional unit k, m, g, t or p (powers of
/// 1000, case-insensitive) optionally followed by "b" or "ib" ("10m", "10MB", "1.5k", "10 KiB" =
/// 10,000), or a bare "b".</summary>
public static class HumanSize
{
    public static long Parse(string text)
    {
        var sep = text.LastIndexOfAny("0123456789. ".ToCharArray());
        if (sep < 0) throw new FormatException("invalid size: no number");
        string num, sfx;
        if (text[sep] != ' ') { num = text[..(sep + 1)]; sfx = text[(sep + 1)..]; }
        else { num = text[..sep]; sfx = text[(sep + 1)..]; }
        if (!double.TryParse(num, NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent | NumberStyles.AllowLeadingSign,
                CultureInfo.InvariantCulture, out var size) || double.IsNaN(size) || double.IsInfinity(size))
            throw new FormatException($"invalid size: '{text}'");
        if (size < 0) throw new FormatException($"invalid size: '{text}'");
        if (sfx.Length == 0) return ToLong(size, text);
        if (sfx.Length > 3) throw new FormatException($"invalid suffix: '{sfx}'");
        var lower = sfx.ToLowerInvariant();
        if (lower[0] == 'b')
            return lower.Length == 1 ? ToLong(size, text) : throw new FormatException($"invalid suffix: '{sfx}'");
        double mul = lower[0] switch
        {
            'k' => 1e3, 'm' => 1e6, 'g' => 1e9, 't' => 1e12, 'p' => 1e15,
            _ => throw new FormatException($"invalid suffix: '{sfx}'"),
        };
        if ((lower.Length == 2 && lower[1] != 'b') || (lower.Length == 3 && lower[1..] != "ib"))
            throw new FormatException($"invalid suffix: '{sfx}'");
        return ToLong(size * mul, text);
    }

    static long ToLong(double v, string text) =>
        v < 9.2e18 ? (long)v : throw new FormatException($"invalid size: '{text}' is too large");
}
