using System.Text.Json.Serialization;

namespace Gocker.Actors.Restart;

/// <summary>Docker's restart policies. "" in the API means no.</summary>
public enum RestartMode { No, OnFailure, Always, UnlessStopped }

/// <summary>How long to wait before a policy restart: Delay for the first one, then times
/// Multiplier per restart, never above MaxDelay; back to Delay once a run lasted ResetAfter.
/// Jitter (0..1) stretches each wait by up to that fraction, still never above MaxDelay.</summary>
public sealed record BackoffSettings
{
    public TimeSpan Delay { get; init; } = TimeSpan.FromMilliseconds(100);
    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromMinutes(1);
    public double Multiplier { get; init; } = 2;
    public TimeSpan ResetAfter { get; init; } = TimeSpan.FromSeconds(10);
    public double Jitter { get; init; }

    /// <summary>Docker's numbers: 100 ms, doubling, capped at 1 minute, reset after a 10 s run, no jitter.</summary>
    public static BackoffSettings Docker { get; } = new();
}

/// <summary>A container's restart policy, fixed at create (persisted in its spec).</summary>
public sealed record RestartSettings
{
    public RestartMode Mode { get; init; } = RestartMode.No;
    /// <summary>on-failure only: at most this many restarts; 0 = no limit (Docker's rule).</summary>
    public int MaximumRetryCount { get; init; }
    public BackoffSettings Backoff { get; init; } = BackoffSettings.Docker;

    [JsonIgnore] public bool IsNone => Mode == RestartMode.No;

    public static RestartSettings None { get; } = new();

    /// <summary>The API's name of a mode ("no", "on-failure", "always", "unless-stopped").</summary>
    public static string NameOf(RestartMode m) => m switch
    {
        RestartMode.OnFailure => "on-failure",
        RestartMode.Always => "always",
        RestartMode.UnlessStopped => "unless-stopped",
        _ => "no",
    };

    public static RestartMode? Parse(string? name) => name switch
    {
        null or "" or "no" => RestartMode.No,
        "on-failure" => RestartMode.OnFailure,
        "always" => RestartMode.Always,
        "unless-stopped" => RestartMode.UnlessStopped,
        _ => null,
    };
}
