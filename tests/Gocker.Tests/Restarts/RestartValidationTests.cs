using Gocker.Actors.Containers;
using Gocker.Actors.Restart;
using Gocker.Api;
using Gocker.Cli;

namespace Gocker.Tests.Restarts;

public class RestartValidationTests
{
    static RestartSettings Build(string? name, int max = 0, RestartBackoff? b = null, bool rm = false) =>
        RestartSpecFactory.Build(new HostConfig
        {
            AutoRemove = rm, RestartPolicy = name is null ? null : new RestartPolicy { Name = name, MaximumRetryCount = max }, GockerRestartBackoff = b,
        }, BackoffSettings.Docker);

    [Theory]
    [InlineData(null, RestartMode.No)]
    [InlineData("", RestartMode.No)]
    [InlineData("no", RestartMode.No)]
    [InlineData("on-failure", RestartMode.OnFailure)]
    [InlineData("always", RestartMode.Always)]
    [InlineData("unless-stopped", RestartMode.UnlessStopped)]
    public void Policy_names(string? name, RestartMode mode) => Assert.Equal(mode, Build(name).Mode);

    [Fact]
    public void Unknown_policy_names_the_field()
    {
        var ex = Assert.Throws<BadRequestException>(() => Build("sometimes"));
        Assert.Contains("HostConfig.RestartPolicy.Name", ex.Message);
        Assert.Contains("sometimes", ex.Message);
    }

    [Fact]
    public void Max_retries_only_with_on_failure()
    {
        Assert.Equal(3, Build("on-failure", 3).MaximumRetryCount);
        Assert.Contains("MaximumRetryCount", Assert.Throws<BadRequestException>(() => Build("always", 3)).Message);
        Assert.Contains("negative", Assert.Throws<BadRequestException>(() => Build("on-failure", -1)).Message);
    }

    [Fact]
    public void Restart_with_auto_remove_is_refused()
    {
        Assert.Contains("AutoRemove", Assert.Throws<BadRequestException>(() => Build("always", rm: true)).Message);
        Assert.Equal(RestartMode.No, Build("no", rm: true).Mode);
    }

    [Fact]
    public void Backoff_takes_defaults_for_unset_fields()
    {
        var b = Build("always", b: new RestartBackoff { DelayMs = 0, Multiplier = 3 }).Backoff;
        Assert.Equal(TimeSpan.Zero, b.Delay);
        Assert.Equal(3, b.Multiplier);
        Assert.Equal(TimeSpan.FromMinutes(1), b.MaxDelay);
        Assert.Equal(TimeSpan.FromSeconds(10), b.ResetAfter);
    }

    [Theory]
    [InlineData(-1L, null, null, null, null, "DelayMs")]
    [InlineData(null, -5L, null, null, null, "MaxDelayMs")]
    [InlineData(null, null, null, -1L, null, "ResetAfterMs")]
    [InlineData(null, null, 0.5, null, null, "Multiplier")]
    [InlineData(null, null, null, null, 1.5, "Jitter")]
    [InlineData(null, null, null, null, -0.1, "Jitter")]
    [InlineData(5000L, 1000L, null, null, null, "MaxDelayMs")]
    public void Bad_backoff_names_the_field(long? delay, long? maxDelay, double? mult, long? reset, double? jitter, string field)
    {
        var ex = Assert.Throws<BadRequestException>(() => Build("always", b: new RestartBackoff
        {
            DelayMs = delay, MaxDelayMs = maxDelay, Multiplier = mult, ResetAfterMs = reset, Jitter = jitter,
        }));
        Assert.Contains("GockerRestartBackoff." + field, ex.Message);
    }

    // ---- console flags ----------------------------------------------------------------------------
    [Theory]
    [InlineData("no", "no", 0)]
    [InlineData("always", "always", 0)]
    [InlineData("unless-stopped", "unless-stopped", 0)]
    [InlineData("on-failure", "on-failure", 0)]
    [InlineData("on-failure:3", "on-failure", 3)]
    public void Restart_flag(string value, string name, int max)
    {
        var p = RunFlags.ParseRestart(value);
        Assert.Equal(name, p.Name);
        Assert.Equal(max, p.MaximumRetryCount);
    }

    [Theory]
    [InlineData("sometimes")]
    [InlineData("always:3")]
    [InlineData("on-failure:x")]
    [InlineData("on-failure:-1")]
    [InlineData("")]
    public void Bad_restart_flags(string value) => Assert.Throws<UsageException>(() => RunFlags.ParseRestart(value));

    [Theory]
    [InlineData("0", 0L)]
    [InlineData("0ms", 0L)]
    [InlineData("250ms", 250L)]
    [InlineData("2s", 2000L)]
    [InlineData("1.5s", 1500L)]
    [InlineData("1m", 60_000L)]
    [InlineData("1h", 3_600_000L)]
    public void Durations(string value, long ms) => Assert.Equal(ms, RunFlags.ParseDurationMs(value, "--restart-delay"));

    [Theory]
    [InlineData("10")]
    [InlineData("-1s")]
    [InlineData("1d")]
    [InlineData("s")]
    [InlineData("25h")]
    public void Bad_durations(string value)
    {
        var ex = Assert.Throws<UsageException>(() => RunFlags.ParseDurationMs(value, "--restart-delay"));
        Assert.Contains("--restart-delay", ex.Message);
    }
}
