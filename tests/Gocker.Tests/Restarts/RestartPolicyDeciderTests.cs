using Gocker.Actors.Restart;
using static Gocker.Actors.Restart.RestartDecision;

namespace Gocker.Tests.Restarts;

public class RestartPolicyDeciderTests
{
    static readonly TimeSpan Short = TimeSpan.FromSeconds(1);
    static RestartSettings P(RestartMode m, int max = 0, BackoffSettings? b = null) =>
        new() { Mode = m, MaximumRetryCount = max, Backoff = b ?? BackoffSettings.Docker };

    static RestartDecision D(RestartSettings p, int exit = 1, bool oom = false, bool manual = false, TimeSpan? run = null,
        int count = 0, TimeSpan? previous = null, double jitter = 0) =>
        RestartPolicyDecider.Decide(new RestartInput(p, exit, oom, manual, run ?? Short, count, previous), jitter);

    // ---- which policy restarts what -------------------------------------------------------------
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(137)]
    public void No_never_restarts(int exit) => Assert.IsType<NoRestart>(D(P(RestartMode.No), exit));

    [Fact]
    public void On_failure_restarts_a_non_zero_exit() => Assert.IsType<Restart>(D(P(RestartMode.OnFailure), exit: 1));

    [Fact]
    public void On_failure_does_not_restart_exit_zero()
    {
        var n = Assert.IsType<NoRestart>(D(P(RestartMode.OnFailure), exit: 0));
        Assert.Contains("0", n.Reason);
    }

    [Fact]
    public void On_failure_restarts_an_unknown_exit_status() => Assert.IsType<Restart>(D(P(RestartMode.OnFailure), exit: -1));

    [Fact]
    public void On_failure_restarts_an_oom_kill_and_says_so()
    {
        var r = Assert.IsType<Restart>(D(P(RestartMode.OnFailure, 1), exit: 137, oom: true));
        Assert.Contains("OOM", r.Reason);
        Assert.Equal(1, r.RestartCount);
    }

    [Theory]
    [InlineData(0, true)]
    [InlineData(2, true)]
    [InlineData(3, false)]
    [InlineData(4, false)]
    public void On_failure_N_restarts_at_most_N_times(int count, bool restarts)
    {
        var d = D(P(RestartMode.OnFailure, 3), exit: 1, count: count);
        Assert.Equal(restarts, d is Restart);
        if (d is Restart r) Assert.Equal(count + 1, r.RestartCount);
        else Assert.Contains("limit", ((NoRestart)d).Reason);
    }

    [Fact]
    public void On_failure_with_zero_max_has_no_limit() =>
        Assert.IsType<Restart>(D(P(RestartMode.OnFailure, 0), exit: 2, count: 10_000));

    [Theory]
    [InlineData(RestartMode.Always, 0)]
    [InlineData(RestartMode.Always, 1)]
    [InlineData(RestartMode.UnlessStopped, 0)]
    [InlineData(RestartMode.UnlessStopped, 143)]
    public void Always_and_unless_stopped_restart_any_exit(RestartMode m, int exit) =>
        Assert.IsType<Restart>(D(P(m), exit, count: 500));

    [Theory]
    [InlineData(RestartMode.OnFailure)]
    [InlineData(RestartMode.Always)]
    [InlineData(RestartMode.UnlessStopped)]
    public void A_manual_stop_is_never_undone(RestartMode m)
    {
        var n = Assert.IsType<NoRestart>(D(P(m), exit: 137, manual: true));
        Assert.Contains("by hand", n.Reason);
    }

    // ---- backoff --------------------------------------------------------------------------------
    [Fact]
    public void Docker_backoff_starts_at_100ms_and_doubles()
    {
        var p = P(RestartMode.Always);
        var r1 = Assert.IsType<Restart>(D(p));
        Assert.Equal(TimeSpan.FromMilliseconds(100), r1.Delay);
        var r2 = Assert.IsType<Restart>(D(p, previous: r1.BaseDelay, count: 1));
        Assert.Equal(TimeSpan.FromMilliseconds(200), r2.Delay);
        var r3 = Assert.IsType<Restart>(D(p, previous: r2.BaseDelay, count: 2));
        Assert.Equal(TimeSpan.FromMilliseconds(400), r3.Delay);
    }

    [Fact]
    public void Backoff_is_capped_at_the_max_delay()
    {
        var p = P(RestartMode.Always);
        TimeSpan? prev = null;
        for (var i = 0; i < 20; i++) prev = Assert.IsType<Restart>(D(p, previous: prev, count: i)).Delay;
        Assert.Equal(TimeSpan.FromMinutes(1), prev);
        Assert.Equal(TimeSpan.FromMinutes(1), Assert.IsType<Restart>(D(p, previous: TimeSpan.FromSeconds(40))).Delay);
    }

    [Theory]
    [InlineData(9_999, 800)]
    [InlineData(10_000, 100)]
    [InlineData(60_000, 100)]
    public void A_long_enough_run_resets_the_backoff(int runMs, int expectedMs)
    {
        var r = Assert.IsType<Restart>(D(P(RestartMode.Always), run: TimeSpan.FromMilliseconds(runMs), previous: TimeSpan.FromMilliseconds(400)));
        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), r.Delay);
    }

    [Fact]
    public void Custom_backoff_is_used()
    {
        var b = new BackoffSettings { Delay = TimeSpan.FromSeconds(1), MaxDelay = TimeSpan.FromSeconds(5), Multiplier = 3, ResetAfter = TimeSpan.FromSeconds(2) };
        var p = P(RestartMode.OnFailure, b: b);
        Assert.Equal(TimeSpan.FromSeconds(1), Assert.IsType<Restart>(D(p)).Delay);
        Assert.Equal(TimeSpan.FromSeconds(3), Assert.IsType<Restart>(D(p, previous: TimeSpan.FromSeconds(1))).Delay);
        Assert.Equal(TimeSpan.FromSeconds(5), Assert.IsType<Restart>(D(p, previous: TimeSpan.FromSeconds(3))).Delay);
        Assert.Equal(TimeSpan.FromSeconds(1), Assert.IsType<Restart>(D(p, previous: TimeSpan.FromSeconds(3), run: TimeSpan.FromSeconds(2))).Delay);
    }

    [Fact]
    public void Zero_delay_stays_zero()
    {
        var p = P(RestartMode.Always, b: new BackoffSettings { Delay = TimeSpan.Zero });
        var r1 = Assert.IsType<Restart>(D(p));
        Assert.Equal(TimeSpan.Zero, r1.Delay);
        Assert.Equal(TimeSpan.Zero, Assert.IsType<Restart>(D(p, previous: r1.BaseDelay)).Delay);
    }

    [Fact]
    public void Multiplier_one_keeps_the_delay_constant() =>
        Assert.Equal(TimeSpan.FromMilliseconds(100), Assert.IsType<Restart>(D(P(RestartMode.Always, b: new BackoffSettings { Multiplier = 1 }),
            previous: TimeSpan.FromMilliseconds(100))).Delay);

    // ---- jitter ---------------------------------------------------------------------------------
    [Fact]
    public void Jitter_stretches_the_delay_but_not_the_base()
    {
        var p = P(RestartMode.Always, b: new BackoffSettings { Jitter = 0.5 });
        var r = Assert.IsType<Restart>(D(p, previous: TimeSpan.FromMilliseconds(100), jitter: 0.999));
        Assert.Equal(TimeSpan.FromMilliseconds(200), r.BaseDelay);
        Assert.InRange(r.Delay, TimeSpan.FromMilliseconds(299), TimeSpan.FromMilliseconds(300));
        Assert.Equal(TimeSpan.FromMilliseconds(200), Assert.IsType<Restart>(D(p, previous: TimeSpan.FromMilliseconds(100), jitter: 0)).Delay);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.5)]
    [InlineData(0.999)]
    public void Jitter_never_exceeds_the_max_delay(double sample)
    {
        var p = P(RestartMode.Always, b: new BackoffSettings { Jitter = 1, MaxDelay = TimeSpan.FromSeconds(1) });
        var r = Assert.IsType<Restart>(D(p, previous: TimeSpan.FromMilliseconds(800), jitter: sample));
        Assert.True(r.Delay <= TimeSpan.FromSeconds(1), r.Delay.ToString());
        Assert.True(r.Delay >= r.BaseDelay);
    }
}
