using System.Runtime.CompilerServices;
using Akka.Actor;
using Akka.Configuration;

namespace Gocker.Actors.Faults;

/// <summary>The start steps whose engine faults a policy governs.</summary>
public enum FaultStep
{
    /// <summary>CgroupActor: create the cgroup with its limits; place the init in it.</summary>
    Cgroup,
    /// <summary>NamespaceActor: spawn the init into its new namespaces.</summary>
    Spawn,
    /// <summary>The init's rootfs setup (mounts, volumes, pivot_root), reported on the exec-status pipe.</summary>
    Mount,
}

public enum SupervisionDecision { Retry, Teardown }

/// <summary>
/// What the ContainerActor does when one start step fails: retry it after a backoff (at most
/// MaxRetries times per start), or tear the container down (the existing clean teardown: kill and
/// reap a half-started init, remove cgroup and run dir, answer the start with the error). Pure: the
/// decision depends on the policy and the number of failures of that step so far.
/// </summary>
public sealed record StepPolicy(SupervisionDecision Decision, int MaxRetries, TimeSpan Backoff, TimeSpan MaxBackoff, double Multiplier = 2.0)
{
    public static readonly StepPolicy Teardown = new(SupervisionDecision.Teardown, 0, TimeSpan.Zero, TimeSpan.Zero);

    /// <summary>After the step's <paramref name="failures"/>-th failure (1 = the first): retry after
    /// Delay, or tear down (retry disabled, or MaxRetries retries already made).</summary>
    public (SupervisionDecision Decision, TimeSpan Delay) Decide(int failures)
    {
        if (failures < 1) throw new ArgumentOutOfRangeException(nameof(failures));
        if (Decision == SupervisionDecision.Teardown || failures > MaxRetries) return (SupervisionDecision.Teardown, TimeSpan.Zero);
        return (SupervisionDecision.Retry, DelayBefore(failures));
    }

    /// <summary>Delay before retry number <paramref name="retry"/> (1-based): Backoff × Multiplier^(retry-1),
    /// capped at MaxBackoff. No jitter: experiments want reproducible timings.</summary>
    public TimeSpan DelayBefore(int retry)
    {
        var ticks = Backoff.Ticks * Math.Pow(Multiplier, retry - 1);
        return ticks >= MaxBackoff.Ticks ? MaxBackoff : TimeSpan.FromTicks((long)ticks);
    }

    /// <summary>The longest a start can spend waiting between retries of this step.</summary>
    public TimeSpan WorstCaseBackoff()
    {
        if (Decision == SupervisionDecision.Teardown) return TimeSpan.Zero;
        var total = TimeSpan.Zero;
        for (var i = 1; i <= MaxRetries; i++) total += DelayBefore(i);
        return total;
    }
}

/// <summary>
/// The per-step policies, from HOCON <c>gocker.supervision { cgroup {…} spawn {…} mount {…} }</c>
/// (one block per line: Akka's HOCON parser refuses a comma after a closing brace):
/// <c>decision = retry|teardown, max-retries = N, backoff = 50ms, max-backoff = 1s, multiplier = 2</c>.
/// </summary>
public sealed record SupervisionSettings(StepPolicy Cgroup, StepPolicy Spawn, StepPolicy Mount)
{
    /// <summary>A start (retries and backoffs included) must end well before the API's 60 s wait.</summary>
    public static readonly TimeSpan MaxTotalBackoff = TimeSpan.FromSeconds(30);

    /// <summary>The shipped defaults: cgroup writes and spawns fail transiently (EBUSY/EAGAIN on a
    /// migration, ENOMEM/EAGAIN on a fork under pressure), so they are retried; a rootfs setup that
    /// failed once (bad volume, missing layer) fails the same way again, so it tears down.</summary>
    public static readonly SupervisionSettings Default = new(
        new StepPolicy(SupervisionDecision.Retry, 3, TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(1)),
        new StepPolicy(SupervisionDecision.Retry, 2, TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(1)),
        StepPolicy.Teardown);

    public StepPolicy For(FaultStep step) => step switch
    {
        FaultStep.Cgroup => Cgroup,
        FaultStep.Spawn => Spawn,
        FaultStep.Mount => Mount,
        _ => throw new ArgumentOutOfRangeException(nameof(step)),
    };

    /// <summary>Parses the gocker.supervision block (null or empty: the defaults). Bad values are
    /// refused with the key that is wrong.</summary>
    public static SupervisionSettings FromConfig(Config? supervision)
    {
        if (supervision is null || supervision.IsEmpty) return Default;
        return new SupervisionSettings(
            Parse(supervision, "cgroup", Default.Cgroup),
            Parse(supervision, "spawn", Default.Spawn),
            Parse(supervision, "mount", Default.Mount));
    }

    static readonly ConditionalWeakTable<ActorSystem, SupervisionSettings> Cache = new();

    /// <summary>The settings of an actor system (its config's gocker.supervision), parsed once.</summary>
    public static SupervisionSettings For(ActorSystem system) =>
        Cache.GetValue(system, s => FromConfig(s.Settings.Config.GetConfig("gocker.supervision")));

    static StepPolicy Parse(Config c, string step, StepPolicy def)
    {
        var key = $"gocker.supervision.{step}";
        if (!c.HasPath(step)) return def;
        var b = c.GetConfig(step);
        var decision = b.HasPath("decision") ? b.GetString("decision") switch
        {
            "retry" => SupervisionDecision.Retry,
            "teardown" => SupervisionDecision.Teardown,
            var v => throw new ArgumentException($"{key}.decision = {v}: use retry or teardown"),
        } : def.Decision;
        // A policy switched to retry without its numbers gets the shipped retry numbers.
        var numbers = def.Decision == SupervisionDecision.Retry ? def : Default.Cgroup;
        var retries = b.HasPath("max-retries") ? b.GetInt("max-retries") : numbers.MaxRetries;
        var backoff = b.HasPath("backoff") ? b.GetTimeSpan("backoff") : numbers.Backoff;
        var maxBackoff = b.HasPath("max-backoff") ? b.GetTimeSpan("max-backoff") : TimeSpan.FromTicks(Math.Max(numbers.MaxBackoff.Ticks, backoff.Ticks));
        var multiplier = b.HasPath("multiplier") ? b.GetDouble("multiplier") : numbers.Multiplier;
        if (retries is < 0 or > 100) throw new ArgumentException($"{key}.max-retries = {retries}: use 0 to 100");
        if (backoff < TimeSpan.Zero) throw new ArgumentException($"{key}.backoff = {backoff}: must not be negative");
        if (maxBackoff < backoff) throw new ArgumentException($"{key}.max-backoff = {maxBackoff}: must be at least backoff ({backoff})");
        if (multiplier < 1 || double.IsNaN(multiplier)) throw new ArgumentException($"{key}.multiplier = {multiplier}: must be at least 1");
        var policy = decision == SupervisionDecision.Teardown
            ? StepPolicy.Teardown
            : new StepPolicy(decision, retries, backoff, maxBackoff, multiplier);
        if (policy.WorstCaseBackoff() > MaxTotalBackoff)
            throw new ArgumentException($"{key}: max-retries × backoff adds up to {policy.WorstCaseBackoff().TotalSeconds:0.###} s; keep it under {MaxTotalBackoff.TotalSeconds} s (a start must answer within the API's 60 s)");
        return policy;
    }
}
