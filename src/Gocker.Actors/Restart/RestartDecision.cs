namespace Gocker.Actors.Restart;

/// <summary>What the policy says after a run ended.</summary>
public abstract record RestartDecision
{
    /// <summary>Start again after Delay (jitter applied). BaseDelay is the un-jittered delay the next
    /// backoff step grows from; RestartCount is the count once this restart happens.</summary>
    public sealed record Restart(TimeSpan Delay, TimeSpan BaseDelay, int RestartCount, string Reason) : RestartDecision;
    public sealed record NoRestart(string Reason) : RestartDecision;
}

/// <summary>Everything the decision depends on.</summary>
/// <param name="ExitCode">The run's exit code (137 after SIGKILL or an OOM kill).</param>
/// <param name="ManuallyStopped">stop, kill with a fatal signal, or rm -f ended the run.</param>
/// <param name="RunDuration">How long the run lasted (from its start to its exit).</param>
/// <param name="RestartCount">Policy restarts so far since the last manual start.</param>
/// <param name="PreviousDelay">The un-jittered delay of the previous policy restart; null if none.</param>
public sealed record RestartInput(
    RestartSettings Policy,
    int ExitCode,
    bool OomKilled,
    bool ManuallyStopped,
    TimeSpan RunDuration,
    int RestartCount,
    TimeSpan? PreviousDelay);

/// <summary>
/// The restart policy as a pure function (Docker's restartmanager rules). The ContainerActor carries
/// the result out with a timer; nothing here touches state, the clock or randomness (the jitter
/// sample is a parameter).
/// </summary>
public static class RestartPolicyDecider
{
    /// <param name="jitterSample">A number in [0, 1) (Random.Shared.NextDouble() in the actor).</param>
    public static RestartDecision Decide(RestartInput input, double jitterSample = 0)
    {
        var p = input.Policy;
        // A manual stop is never undone by the policy, whatever it is (Docker cancels its restart
        // manager on stop).
        if (p.Mode == RestartMode.No) return new RestartDecision.NoRestart("policy is no");
        if (input.ManuallyStopped) return new RestartDecision.NoRestart("stopped by hand");
        string reason;
        switch (p.Mode)
        {
            case RestartMode.OnFailure:
                if (input.ExitCode == 0) return new RestartDecision.NoRestart("exited with 0 under on-failure");
                if (p.MaximumRetryCount > 0 && input.RestartCount >= p.MaximumRetryCount)
                    return new RestartDecision.NoRestart($"on-failure:{p.MaximumRetryCount}: retry limit reached after {input.RestartCount} restarts");
                reason = input.OomKilled ? $"OOM-killed (exit {input.ExitCode}) under on-failure" : $"exited with {input.ExitCode} under on-failure";
                break;
            default:
                reason = (input.OomKilled ? $"OOM-killed (exit {input.ExitCode})" : $"exited with {input.ExitCode}") + $" under {RestartSettings.NameOf(p.Mode)}";
                break;
        }
        var baseDelay = NextDelay(p.Backoff, input.PreviousDelay, input.RunDuration);
        return new RestartDecision.Restart(WithJitter(p.Backoff, baseDelay, jitterSample), baseDelay, input.RestartCount + 1, reason);
    }

    /// <summary>The first delay, or the previous one times the multiplier, capped; back to the first
    /// one when the last run lasted ResetAfter or more.</summary>
    public static TimeSpan NextDelay(BackoffSettings b, TimeSpan? previous, TimeSpan runDuration)
    {
        if (previous is null || runDuration >= b.ResetAfter) return Min(b.Delay, b.MaxDelay);
        var next = TimeSpan.FromTicks((long)Math.Min(previous.Value.Ticks * b.Multiplier, b.MaxDelay.Ticks));
        return Min(Max(next, Min(b.Delay, b.MaxDelay)), b.MaxDelay);
    }

    /// <summary>Stretches the delay by up to Jitter of itself; never past MaxDelay (Akka's own backoff
    /// applies the jitter after the cap and can exceed it: not here).</summary>
    public static TimeSpan WithJitter(BackoffSettings b, TimeSpan delay, double sample)
    {
        if (b.Jitter <= 0) return delay;
        var s = Math.Clamp(sample, 0, 1);
        var stretched = TimeSpan.FromTicks((long)(delay.Ticks * (1 + b.Jitter * s)));
        return Min(stretched, Max(b.MaxDelay, delay));
    }

    static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
    static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
}
