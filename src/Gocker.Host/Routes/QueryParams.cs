using System.Globalization;
using Gocker.Actors.Containers;

namespace Gocker.Host;

/// <summary>
/// Integer and time query parameters, parsed strictly: a value that is present but not what the
/// parameter takes is a 400 naming the parameter (never the default in its place: `stop?t=abc`
/// must not stop with the default timeout). Pure functions over the text, plus HttpContext shims.
/// </summary>
public static class QueryParams
{
    /// <summary>The most seconds a stop/restart may wait (~24.8 days): timers and the route's ask
    /// (t + 30 s) take at most int.MaxValue milliseconds.</summary>
    public const int MaxStopSeconds = int.MaxValue / 1000 - 60;

    /// <summary>`t` of stop and restart: whole seconds from 0 to <see cref="MaxStopSeconds"/>;
    /// absent or empty = null (the daemon's default).</summary>
    public static TimeSpan? StopTimeout(string? text, string name = "t")
    {
        if (string.IsNullOrEmpty(text)) return null;
        if (!int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var secs) || secs < 0 || secs > MaxStopSeconds)
            throw new BadRequestException($"invalid {name} value '{text}': expected whole seconds from 0 to {MaxStopSeconds}");
        return TimeSpan.FromSeconds(secs);
    }

    /// <summary>A boolean query flag as the routes read it: "1", "true" or "True"; anything else,
    /// or absent, is false.</summary>
    public static bool Flag(HttpContext ctx, string name) =>
        ctx.Request.Query[name].ToString() is "1" or "true" or "True";

    public static TimeSpan? StopTimeout(HttpContext ctx, string name = "t") => StopTimeout(ctx.Request.Query[name].ToString(), name);

    /// <summary>
    /// `since`/`until` of logs as Docker's daemon reads them (timetypes.ParseTimestamps): unix
    /// seconds, optionally signed, with an optional fraction of up to 9 digits ("1700000000",
    /// "1700000000.5", "1700000000.000000001"). Docker's console turns RFC3339 and durations into
    /// this form before sending. Absent or empty = null; the result is unix nanoseconds.
    /// </summary>
    public static long? UnixNanos(string? text, string name)
    {
        if (string.IsNullOrEmpty(text)) return null;
        var dot = text.IndexOf('.');
        var secText = dot < 0 ? text : text[..dot];
        var fracText = dot < 0 ? "" : text[(dot + 1)..];
        if (!long.TryParse(secText, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var secs) ||
            dot >= 0 && (fracText.Length is 0 or > 9 || !fracText.All(char.IsAsciiDigit)))
            throw new BadRequestException($"invalid {name} value '{text}': expected unix seconds with an optional fraction (1700000000 or 1700000000.5)");
        // Beyond what nanoseconds hold (before 1678, after 2262): Go's time takes them, and clients
        // send them as "no bound" (Testcontainers' GetLogsAsync: year 1 to year 9999). Every log
        // line and event lies within, so the bound saturates.
        if (secs > long.MaxValue / 1_000_000_000 - 1) return long.MaxValue;
        if (secs < long.MinValue / 1_000_000_000 + 1) return long.MinValue;
        var nanos = fracText.Length == 0 ? 0 : long.Parse(fracText.PadRight(9, '0'), CultureInfo.InvariantCulture);
        // As Go's time.Unix(secs, nanos): the fraction adds to the seconds, whatever their sign.
        return secs * 1_000_000_000 + nanos;
    }

    public static long? UnixNanos(HttpContext ctx, string name) => UnixNanos(ctx.Request.Query[name].ToString(), name);

    /// <summary>`until` of logs: "0" is no bound, as Docker's daemon reads it (daemon/logs.go skips
    /// `Until == "0"`); Testcontainers' GetLogsAsync sends until=0 for "everything so far".</summary>
    public static long? LogsUntil(string? text) => text == "0" ? null : UnixNanos(text, "until");

    /// <summary>A count of bytes (`after`): 0 or more; absent or empty = null.</summary>
    public static long? ByteCount(string? text, string name)
    {
        if (string.IsNullOrEmpty(text)) return null;
        return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v
            : throw new BadRequestException($"invalid {name} value '{text}': expected a number of bytes (0 or more)");
    }

    /// <summary>A terminal dimension (`h`, `w`): 1-65535; absent = <paramref name="fallback"/>.</summary>
    public static ushort Dimension(string? text, string name, ushort fallback)
    {
        if (string.IsNullOrEmpty(text)) return fallback;
        return ushort.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v > 0 ? v
            : throw new BadRequestException($"invalid {name} value '{text}': expected 1 to 65535");
    }
}
