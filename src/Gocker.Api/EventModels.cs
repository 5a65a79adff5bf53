using System.Globalization;
using System.Text.Json.Serialization;

namespace Gocker.Api;

/// <summary>One message of `GET /events` (newline-delimited JSON), Docker's shape: Type, Action,
/// Actor{ID, Attributes}, scope, time, timeNano, and for containers the legacy status/id/from.</summary>
public sealed class EventMessage
{
    [JsonPropertyName("status")] public string? Status { get; set; }
    [JsonPropertyName("id")] public string? Id { get; set; }
    [JsonPropertyName("from")] public string? From { get; set; }
    public string Type { get; set; } = "";
    public string Action { get; set; } = "";
    public EventActor Actor { get; set; } = new();
    [JsonPropertyName("scope")] public string Scope { get; set; } = "local";
    [JsonPropertyName("time")] public long Time { get; set; }
    [JsonPropertyName("timeNano")] public long TimeNano { get; set; }
}

public sealed class EventActor
{
    public string ID { get; set; } = "";
    public Dictionary<string, string> Attributes { get; set; } = new(StringComparer.Ordinal);
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, PropertyNameCaseInsensitive = true)]
[JsonSerializable(typeof(EventMessage))]
public partial class GockerEventJson : JsonSerializerContext;

/// <summary>Times of the events API. On the wire (`since`/`until`), Docker's "SECONDS[.NANOS]"
/// form; RFC3339 is accepted too. The console also takes durations relative to now ("10m", "1h30m").</summary>
public static class EventTimes
{
    static readonly DateTimeOffset Epoch = DateTimeOffset.UnixEpoch;

    /// <summary>"1700000000.123456789" (what the console sends).</summary>
    public static string ToWire(DateTimeOffset t)
    {
        long ticks = (t - Epoch).Ticks;
        long secs = Math.DivRem(ticks, TimeSpan.TicksPerSecond, out long rem);
        if (rem < 0) { secs--; rem += TimeSpan.TicksPerSecond; }
        return secs.ToString(CultureInfo.InvariantCulture) + "." + (rem * 100).ToString("D9", CultureInfo.InvariantCulture);
    }

    public static long UnixNanos(DateTimeOffset t) => (t - Epoch).Ticks * 100;

    public static DateTimeOffset FromUnixNanos(long nanos) => Epoch.AddTicks(nanos / 100);

    /// <summary>RFC3339 with nine fraction digits, UTC (the console's event lines, like `logs -t`).</summary>
    public static string Rfc3339Nano(DateTimeOffset t) =>
        t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff", CultureInfo.InvariantCulture) + "00Z";

    /// <summary>Parses an API `since`/`until`: unix seconds with an optional fraction, or RFC3339.</summary>
    public static bool TryParseWire(string s, out DateTimeOffset t)
    {
        t = default;
        s = s.Trim();
        if (s.Length == 0) return false;
        var dot = s.IndexOf('.');
        var intPart = dot < 0 ? s : s[..dot];
        var frac = dot < 0 ? "" : s[(dot + 1)..];
        if (intPart.Length > 0 && long.TryParse(intPart, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var secs)
            && frac.All(char.IsAsciiDigit) && frac.Length <= 9 && secs is > -62_135_596_800 and < 253_402_300_799)
        {
            long nanos = frac.Length == 0 ? 0 : long.Parse(frac.PadRight(9, '0'), CultureInfo.InvariantCulture);
            t = Epoch.AddSeconds(secs).AddTicks(nanos / 100);
            return true;
        }
        return TryParseTimestamp(s, out t);
    }

    /// <summary>RFC3339 (with or without fraction and zone; no zone = UTC), or a date.</summary>
    public static bool TryParseTimestamp(string s, out DateTimeOffset t) =>
        DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out t)
        && s.Length >= 10 && char.IsAsciiDigit(s[0]) && s[4] == '-';

    /// <summary>The console's `--since`/`--until`: a Go duration back from now ("10m", "1h30m",
    /// "1.5h", "90s", "300ms"), unix seconds, or an RFC3339 timestamp / date.</summary>
    public static bool TryParseCli(string s, DateTimeOffset now, out DateTimeOffset t)
    {
        t = default;
        if (TryParseDuration(s, out var d)) { t = now - d; return true; }
        return TryParseWire(s, out t);
    }

    /// <summary>Go's time.ParseDuration subset: a sequence of NUMBER UNIT (ns, us, µs, ms, s, m, h).</summary>
    public static bool TryParseDuration(string s, out TimeSpan d)
    {
        d = TimeSpan.Zero;
        s = s.Trim();
        if (s.Length == 0) return false;
        int i = 0;
        double total = 0; // in ticks
        while (i < s.Length)
        {
            int start = i;
            while (i < s.Length && (char.IsAsciiDigit(s[i]) || s[i] == '.')) i++;
            if (i == start || !double.TryParse(s.AsSpan(start, i - start), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var n))
                return false;
            int us = i;
            while (i < s.Length && !char.IsAsciiDigit(s[i]) && s[i] != '.') i++;
            double unit = s[us..i] switch
            {
                "ns" => 0.01, "us" or "µs" => 10, "ms" => TimeSpan.TicksPerMillisecond,
                "s" => TimeSpan.TicksPerSecond, "m" => TimeSpan.TicksPerMinute, "h" => TimeSpan.TicksPerHour,
                _ => -1,
            };
            if (unit < 0) return false;
            total += n * unit;
        }
        if (total > TimeSpan.MaxValue.Ticks / 2) return false;
        d = TimeSpan.FromTicks((long)total);
        return true;
    }
}
