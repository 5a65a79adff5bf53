using Gocker.Actors.Containers;
using Gocker.Api;

namespace Gocker.Actors.Restart;

/// <summary>Validates the API's RestartPolicy and GockerRestartBackoff into RestartSettings. Every
/// rejection names the field (the API answers 400).</summary>
public static class RestartSpecFactory
{
    public static RestartSettings Build(HostConfig hc, BackoffSettings defaults)
    {
        var rp = hc.RestartPolicy;
        var mode = RestartSettings.Parse(rp?.Name)
            ?? throw new BadRequestException($"invalid restart policy \"{rp!.Name}\": HostConfig.RestartPolicy.Name must be one of \"\", no, on-failure, always, unless-stopped");
        var max = rp?.MaximumRetryCount ?? 0;
        if (max < 0) throw new BadRequestException($"invalid restart policy: HostConfig.RestartPolicy.MaximumRetryCount {max} cannot be negative");
        if (max > 0 && mode != RestartMode.OnFailure)
            throw new BadRequestException($"invalid restart policy: HostConfig.RestartPolicy.MaximumRetryCount can only be used with 'on-failure' (policy is '{RestartSettings.NameOf(mode)}')");
        if (mode != RestartMode.No && hc.AutoRemove)
            throw new BadRequestException($"conflicting options: HostConfig.AutoRemove (--rm) cannot be used with restart policy '{RestartSettings.NameOf(mode)}'");
        return new RestartSettings { Mode = mode, MaximumRetryCount = max, Backoff = BuildBackoff(hc.GockerRestartBackoff, defaults) };
    }

    public static BackoffSettings BuildBackoff(RestartBackoff? b, BackoffSettings defaults)
    {
        if (b is null) return defaults;
        TimeSpan Ms(long? v, string field, TimeSpan def)
        {
            if (v is null) return def;
            if (v < 0) throw new BadRequestException($"invalid restart backoff: HostConfig.GockerRestartBackoff.{field} {v} cannot be negative");
            if (v > (long)TimeSpan.FromDays(1).TotalMilliseconds) throw new BadRequestException($"invalid restart backoff: HostConfig.GockerRestartBackoff.{field} {v} is more than a day");
            return TimeSpan.FromMilliseconds(v.Value);
        }
        var result = new BackoffSettings
        {
            Delay = Ms(b.DelayMs, "DelayMs", defaults.Delay),
            MaxDelay = Ms(b.MaxDelayMs, "MaxDelayMs", defaults.MaxDelay),
            ResetAfter = Ms(b.ResetAfterMs, "ResetAfterMs", defaults.ResetAfter),
            Multiplier = b.Multiplier ?? defaults.Multiplier,
            Jitter = b.Jitter ?? defaults.Jitter,
        };
        if (double.IsNaN(result.Multiplier) || result.Multiplier < 1 || result.Multiplier > 1000)
            throw new BadRequestException($"invalid restart backoff: HostConfig.GockerRestartBackoff.Multiplier {b.Multiplier} must be between 1 and 1000");
        if (double.IsNaN(result.Jitter) || result.Jitter < 0 || result.Jitter > 1)
            throw new BadRequestException($"invalid restart backoff: HostConfig.GockerRestartBackoff.Jitter {b.Jitter} must be between 0 and 1");
        if (result.MaxDelay < result.Delay)
            throw new BadRequestException($"invalid restart backoff: HostConfig.GockerRestartBackoff.MaxDelayMs ({result.MaxDelay.TotalMilliseconds}) is below DelayMs ({result.Delay.TotalMilliseconds})");
        return result;
    }
}
