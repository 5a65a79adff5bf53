using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Gocker.Actors.Containers;
using Gocker.Actors.Engine;
using Gocker.Actors.Events;
using Gocker.Api;
using static Gocker.Actors.Containers.ContainerSupervisor;

namespace Gocker.Tests.Actors;

/// <summary>The restart policy carried out by the ContainerActor's timers, on virtual time.</summary>
public class RestartPolicySpecs : TestKit
{
    static readonly Config SpecConfig = ConfigurationFactory.ParseString(GockerHostingExtensions.DefaultHocon + """
        akka.scheduler.implementation = "Akka.TestKit.TestScheduler, Akka.TestKit"
        akka.loglevel = WARNING
        """);

    readonly FakeEngine _engine = new();
    readonly IActorRef _supervisor;
    readonly TestProbe _events;

    public RestartPolicySpecs() : base(SpecConfig)
    {
        _supervisor = Sys.ActorOf(ContainerSupervisor.Props(_engine.Services), "containers");
        _events = CreateTestProbe();
        Sys.EventStream.Subscribe(_events.Ref, typeof(GockerEvent));
    }

    protected override void AfterAll()
    {
        base.AfterAll();
        _engine.Dispose();
    }

    TestScheduler Clock => (TestScheduler)Sys.Scheduler;

    string Create(string policy, int max = 0, RestartBackoff? backoff = null)
    {
        var req = new ContainerCreateRequest
        {
            Image = "busybox", Cmd = ["true"],
            HostConfig = new HostConfig { RestartPolicy = new RestartPolicy { Name = policy, MaximumRetryCount = max }, GockerRestartBackoff = backoff },
        };
        _supervisor.Tell(new Create(req, null, FakeEngine.Image));
        return ExpectMsg<CreatedContainer>().Id;
    }

    object Send(string id, object message)
    {
        _supervisor.Tell(new ToContainer(id, message));
        return ExpectMsg<object>(TimeSpan.FromSeconds(10));
    }

    ContainerRecord Inspect(string id) => Assert.IsType<ContainerRecord>(Send(id, new ContainerActor.Inspect()));

    FakeInitProcess Latest(string id) =>
        _engine.Spawner.Processes.Values.Where(p => p.Request.SpecPath.Contains(id)).OrderBy(p => p.Pid).Last();

    int Runs(string id) => _engine.Spawner.Processes.Values.Count(p => p.Request.SpecPath.Contains(id));

    GockerEvent ExpectEvent(string action) =>
        _events.FishForMessage<GockerEvent>(e => e.Action == action, TimeSpan.FromSeconds(10));

    [Fact]
    public void On_failure_3_restarts_three_times_with_growing_delays_then_stays_exited()
    {
        var id = Create("on-failure", 3);
        Assert.IsType<ContainerActor.Started>(Send(id, new ContainerActor.Start()));
        var delays = new List<long>();
        for (var i = 1; i <= 3; i++)
        {
            Latest(id).Exit(1);
            var scheduled = ExpectEvent("restart-scheduled");
            var delay = long.Parse(scheduled.Attributes["delayMs"]);
            delays.Add(delay);
            Assert.Equal(i.ToString(), scheduled.Attributes["restartCount"]);
            var waiting = Inspect(id);
            Assert.Equal(ContainerStatus.Restarting, waiting.Status);
            Assert.Equal(i, waiting.RestartCount);
            Assert.NotNull(waiting.NextRestartAt);
            // Not a tick before its delay.
            Clock.Advance(TimeSpan.FromMilliseconds(delay - 1));
            Assert.Equal(i, Runs(id));
            Clock.Advance(TimeSpan.FromMilliseconds(1));
            Assert.Equal(i.ToString(), ExpectEvent("restart").Attributes["restartCount"]);
            Assert.Equal(i + 1, Runs(id));
            Assert.Equal(ContainerStatus.Running, Inspect(id).Status);
        }
        Assert.Equal([100L, 200L, 400L], delays);
        Latest(id).Exit(1);
        Assert.Contains("limit", ExpectEvent("restart-skipped").Attributes["reason"]);
        Clock.Advance(TimeSpan.FromMinutes(5));
        var final = Inspect(id);
        Assert.Equal(ContainerStatus.Exited, final.Status);
        Assert.Equal(3, final.RestartCount);
        Assert.Equal(1, final.ExitCode);
        Assert.Equal(4, Runs(id));
        // Persisted: a new daemon would see the same.
        var onDisk = StateStore.Load(ContainerLayout.For(_engine.Services.Options, id).DataDir)!;
        Assert.Equal(3, onDisk.RestartCount);
        Assert.Equal(Gocker.Actors.Restart.RestartMode.OnFailure, onDisk.Spec.Restart.Mode);
    }

    [Fact]
    public void On_failure_leaves_a_clean_exit_alone()
    {
        var id = Create("on-failure");
        Assert.IsType<ContainerActor.Started>(Send(id, new ContainerActor.Start()));
        Latest(id).Exit(0);
        Assert.Contains("0", ExpectEvent("restart-skipped").Attributes["reason"]);
        Clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(ContainerStatus.Exited, Inspect(id).Status);
        Assert.Equal(1, Runs(id));
    }

    [Fact]
    public void Stop_while_waiting_cancels_the_restart_for_good()
    {
        var id = Create("always", backoff: new RestartBackoff { DelayMs = 5000 });
        Assert.IsType<ContainerActor.Started>(Send(id, new ContainerActor.Start()));
        Latest(id).Exit(0);
        Assert.Equal("5000", ExpectEvent("restart-scheduled").Attributes["delayMs"]);
        Assert.IsType<ContainerActor.Ack>(Send(id, new ContainerActor.Stop(TimeSpan.FromSeconds(10))));
        Clock.Advance(TimeSpan.FromMinutes(2));
        var r = Inspect(id);
        Assert.Equal(ContainerStatus.Exited, r.Status);
        Assert.True(r.ManuallyStopped);
        Assert.Null(r.NextRestartAt);
        Assert.Equal(1, Runs(id));
    }

    [Fact]
    public void Stop_of_a_running_always_container_is_not_undone()
    {
        var id = Create("always");
        Assert.IsType<ContainerActor.Started>(Send(id, new ContainerActor.Start()));
        Assert.IsType<ContainerActor.Ack>(Send(id, new ContainerActor.Stop(TimeSpan.FromSeconds(10))));
        Assert.Contains("by hand", ExpectEvent("restart-skipped").Attributes["reason"]);
        Clock.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal(ContainerStatus.Exited, Inspect(id).Status);
        Assert.Equal(1, Runs(id));
        // A start by hand clears the flag: the policy applies again.
        Assert.IsType<ContainerActor.Started>(Send(id, new ContainerActor.Start()));
        Assert.False(Inspect(id).ManuallyStopped);
        Latest(id).Exit(3);
        ExpectEvent("restart-scheduled");
    }

    [Fact]
    public void Kill_with_a_non_fatal_signal_leaves_the_policy_in_place_and_sigkill_does_not()
    {
        var id = Create("always");
        Assert.IsType<ContainerActor.Started>(Send(id, new ContainerActor.Start()));
        Assert.IsType<ContainerActor.Ack>(Send(id, new ContainerActor.Kill(10)));   // SIGUSR1: the process exits by itself
        Latest(id).Exit(2);
        ExpectEvent("restart-scheduled");
        Clock.Advance(TimeSpan.FromMilliseconds(100));
        ExpectEvent("restart");
        Assert.IsType<ContainerActor.Ack>(Send(id, new ContainerActor.Kill(9)));
        Assert.Contains("by hand", ExpectEvent("restart-skipped").Attributes["reason"]);
        Clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(ContainerStatus.Exited, Inspect(id).Status);
        Assert.Equal(2, Runs(id));
    }

    [Fact]
    public void Start_of_a_container_waiting_to_restart_starts_it_now()
    {
        var id = Create("always", backoff: new RestartBackoff { DelayMs = 60_000 });
        Assert.IsType<ContainerActor.Started>(Send(id, new ContainerActor.Start()));
        Latest(id).Exit(1);
        ExpectEvent("restart-scheduled");
        Assert.IsType<ContainerActor.Started>(Send(id, new ContainerActor.Start()));
        ExpectEvent("restart");
        Assert.Equal(ContainerStatus.Running, Inspect(id).Status);
        // The cancelled timer does not start a second run.
        Clock.Advance(TimeSpan.FromMinutes(2));
        Assert.Equal(2, Runs(id));
        Assert.Equal(ContainerStatus.Running, Inspect(id).Status);
    }

    [Fact]
    public void Remove_of_a_restarting_container_needs_force_and_cancels_the_restart()
    {
        var id = Create("always", backoff: new RestartBackoff { DelayMs = 1000 });
        Assert.IsType<ContainerActor.Started>(Send(id, new ContainerActor.Start()));
        Latest(id).Exit(1);
        ExpectEvent("restart-scheduled");
        Assert.IsType<Status.Failure>(Send(id, new ContainerActor.Remove(false)));
        Assert.IsType<ContainerActor.Ack>(Send(id, new ContainerActor.Remove(true)));
        Clock.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(1, Runs(id));
        Assert.False(Directory.Exists(ContainerLayout.For(_engine.Services.Options, id).DataDir));
    }

    [Fact]
    public void A_failed_restart_counts_as_a_failed_run()
    {
        var id = Create("on-failure", 2, new RestartBackoff { DelayMs = 10 });
        Assert.IsType<ContainerActor.Started>(Send(id, new ContainerActor.Start()));
        _engine.Spawner.ReleaseResult = _ => new Gocker.Syscalls.Spawn.ExecResult(false, 127, "exec", "not found");
        Latest(id).Exit(1);
        ExpectEvent("restart-scheduled");
        Clock.Advance(TimeSpan.FromMilliseconds(10));
        // The init reports the failure and exits by itself with 127.
        AwaitCondition(() => Runs(id) == 2, TimeSpan.FromSeconds(5));
        Latest(id).Exit(127);
        var second = ExpectEvent("restart-scheduled");
        Assert.Equal("2", second.Attributes["restartCount"]);
        Assert.Equal("20", second.Attributes["delayMs"]);
    }
}
