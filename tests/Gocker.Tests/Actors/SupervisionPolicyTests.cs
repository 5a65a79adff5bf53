using Akka.Configuration;
using Gocker.Actors.Containers;
using Gocker.Actors.Faults;
using Gocker.Syscalls.Spawn;

namespace Gocker.Tests.Actors;

public class SupervisionPolicyTests
{
    static readonly StepPolicy Retry3 = new(SupervisionDecision.Retry, 3, TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(150));

    [Fact]
    public void Retry_policy_doubles_the_delay_caps_it_and_gives_up_after_max_retries()
    {
        Assert.Equal((SupervisionDecision.Retry, TimeSpan.FromMilliseconds(50)), Retry3.Decide(1));
        Assert.Equal((SupervisionDecision.Retry, TimeSpan.FromMilliseconds(100)), Retry3.Decide(2));
        Assert.Equal((SupervisionDecision.Retry, TimeSpan.FromMilliseconds(150)), Retry3.Decide(3)); // 200 capped
        Assert.Equal(SupervisionDecision.Teardown, Retry3.Decide(4).Decision);
        Assert.Equal(TimeSpan.FromMilliseconds(300), Retry3.WorstCaseBackoff());
    }

    [Fact]
    public void Teardown_policy_never_retries()
    {
        Assert.Equal((SupervisionDecision.Teardown, TimeSpan.Zero), StepPolicy.Teardown.Decide(1));
        var zeroRetries = Retry3 with { MaxRetries = 0 };
        Assert.Equal(SupervisionDecision.Teardown, zeroRetries.Decide(1).Decision);
        Assert.Throws<ArgumentOutOfRangeException>(() => Retry3.Decide(0));
    }

    [Fact]
    public void Settings_parse_the_hocon_block_and_keep_defaults_for_what_is_absent()
    {
        var s = SupervisionSettings.FromConfig(ConfigurationFactory.ParseString("""
            cgroup { decision = retry, max-retries = 5, backoff = 10ms, max-backoff = 80ms, multiplier = 3 }
            spawn { decision = teardown }
            """));
        Assert.Equal(new StepPolicy(SupervisionDecision.Retry, 5, TimeSpan.FromMilliseconds(10), TimeSpan.FromMilliseconds(80), 3), s.Cgroup);
        Assert.Equal(TimeSpan.FromMilliseconds(30), s.Cgroup.DelayBefore(2));
        Assert.Equal(StepPolicy.Teardown, s.Spawn);
        Assert.Equal(SupervisionSettings.Default.Mount, s.Mount);
        Assert.Equal(SupervisionSettings.Default, SupervisionSettings.FromConfig(null));
        // mount switched to retry without numbers gets the shipped retry numbers
        var m = SupervisionSettings.FromConfig(ConfigurationFactory.ParseString("mount { decision = retry }")).Mount;
        Assert.Equal(SupervisionDecision.Retry, m.Decision);
        Assert.Equal(SupervisionSettings.Default.Cgroup.MaxRetries, m.MaxRetries);
    }

    [Theory]
    [InlineData("cgroup { decision = restart }", "gocker.supervision.cgroup.decision = restart")]
    [InlineData("spawn { max-retries = -1 }", "gocker.supervision.spawn.max-retries")]
    [InlineData("cgroup { backoff = 2s, max-backoff = 1s }", "gocker.supervision.cgroup.max-backoff")]
    [InlineData("cgroup { multiplier = 0.5 }", "gocker.supervision.cgroup.multiplier")]
    [InlineData("spawn { max-retries = 100, backoff = 1s, max-backoff = 1s }", "keep it under 30 s")]
    public void Settings_refuse_bad_values_naming_the_key(string hocon, string expected)
    {
        var ex = Assert.Throws<ArgumentException>(() => SupervisionSettings.FromConfig(ConfigurationFactory.ParseString(hocon)));
        Assert.Contains(expected, ex.Message);
    }

    [Fact]
    public void Injector_fires_the_container_count_then_the_global_one()
    {
        var f = new FaultInjector();
        f.Arm("a", FaultKind.Spawn, 2);
        f.ArmGlobal(FaultKind.Spawn, 1);
        Assert.True(f.TryConsume("a", FaultKind.Spawn));
        Assert.False(f.TryConsume("a", FaultKind.Mount));
        Assert.True(f.TryConsume("a", FaultKind.Spawn));
        Assert.Equal(0, f.Armed("a", FaultKind.Spawn));
        Assert.True(f.TryConsume("b", FaultKind.Spawn)); // the global one, any container
        Assert.False(f.TryConsume("a", FaultKind.Spawn));
        f.Arm("c", FaultKind.CgroupWrite, 3);
        f.Forget("c");
        Assert.False(f.TryConsume("c", FaultKind.CgroupWrite));
        var ex = Assert.Throws<InjectedFaultException>(() => { f.Arm("d", FaultKind.Mount, 1); f.ThrowIfArmed("d", FaultKind.Mount); });
        Assert.Equal("injected fault: mount (gocker debug inject-fault)", ex.Message);
        Assert.Throws<ArgumentException>(() => f.Arm("d", FaultKind.Mount, -1));
    }

    [Fact]
    public void Injector_reads_the_global_switch_and_kinds_parse_by_name()
    {
        var f = new FaultInjector();
        f.ArmGlobal(ConfigurationFactory.ParseString("cgroup-write = 2, mount = 0"));
        Assert.Equal(2, f.ArmedGlobal(FaultKind.CgroupWrite));
        Assert.Equal(0, f.ArmedGlobal(FaultKind.Spawn));
        Assert.Throws<ArgumentException>(() => f.ArmGlobal(ConfigurationFactory.ParseString("spawn = -3")));
        Assert.Equal(FaultKind.CgroupWrite, FaultKinds.Parse("cgroup-write"));
        Assert.Equal(FaultKind.Mount, FaultKinds.Parse("MOUNT"));
        Assert.Contains("use cgroup-write, spawn or mount", Assert.Throws<ArgumentException>(() => FaultKinds.Parse("disk")).Message);
    }

    [Theory]
    [InlineData("mount-overlay", 125, true)]
    [InlineData("volume /data", 125, true)]
    [InlineData("pivot-root", 125, true)]
    [InlineData("exec", 127, false)]
    [InlineData("workdir", 125, false)]
    public void Rootfs_steps_are_the_mount_step(string step, int code, bool rootfs) =>
        Assert.Equal(rootfs, ContainerActor.IsRootfsSetup(new ExecResult(false, code, step, "x")));
}
