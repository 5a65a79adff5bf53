using Gocker.Actors.Containers;

namespace Gocker.Host;

/// <summary>Docker's human-readable status and durations ("Up 3 seconds", "Exited (0) 2 minutes ago").</summary>
public static class StatusText
{
    public static string Of(ContainerRecord r, DateTimeOffset now) => r.Status switch
    {
        ContainerStatus.Running => $"Up {Duration(now - (r.StartedAt ?? now))}",
        ContainerStatus.Paused => $"Up {Duration(now - (r.StartedAt ?? now))} (Paused)",
        ContainerStatus.Exited => $"Exited ({r.ExitCode}) {Duration(now - (r.FinishedAt ?? now))} ago",
        ContainerStatus.Restarting => $"Restarting ({r.ExitCode}) {Duration(now - (r.FinishedAt ?? now))} ago",
        ContainerStatus.Removing => "Removal In Progress",
        ContainerStatus.Dead => "Dead",
        _ => "Created",
    };

    /// <summary>Port of Docker's go-units HumanDuration.</summary>
    public static string Duration(TimeSpan d)
    {
        var s = (long)d.TotalSeconds;
        if (s < 1) return "Less than a second";
        if (s == 1) return "1 second";
        if (s < 60) return $"{s} seconds";
        var m = (long)d.TotalMinutes;
        if (m == 1) return "About a minute";
        if (m < 60) return $"{m} minutes";
        var h = (long)Math.Round(d.TotalHours);
        if (h == 1) return "About an hour";
        if (h < 48) return $"{h} hours";
        if (h < 24 * 7 * 2) return $"{h / 24} days";
        if (h < 24 * 30 * 2) return $"{h / 24 / 7} weeks";
        if (h < 24 * 365 * 2) return $"{h / 24 / 30} months";
        return $"{h / 24 / 365} years";
    }

    public static string Iso(DateTimeOffset? t) => t is null ? "0001-01-01T00:00:00Z" : t.Value.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffffffZ");
}
