using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Gocker.Actors.Containers;
using Gocker.Actors.Engine;
using Gocker.Actors.Events;
using Gocker.Actors.Faults;
using Gocker.Api;
using Gocker.Syscalls.Spawn;
using static Gocker.Actors.Containers.ContainerSupervisor;

namespace Gocker.Tests.Actors;

/// <summary>The supervision policies on virtual time: injected faults are retried after the
/// configured backoff (nothing happens until the clock is advanced), or torn down cleanly.</summary>
public class FaultSupervisionSpecs : TestKit
{
    static readonly Config SpecConfig = ConfigurationFactory.ParseString(GockerHostingExtensions.DefaultHocon + """
        akka.scheduler.implementation = "Akka.TestKit.TestScheduler, Akka.TestKit"
        akka.loglevel = ERROR
        gocker.supervision {
          cgroup { decision = retry, max-retries = 2, backoff = 100ms, max-backoff = 1s }
          spawn { decision = teardown }
          mount { decision = retry, max-retries = 1, backoff = 300ms }
        }
        """);

    readonly FakeEngine _engine = new();
    readonly IActorRef _supervisor;
    readonly TestProbe _events;

    public FaultSupervisionSpecs() : base(SpecConfig)
    {
        _supervisor = Sys.ActorOf(ContainerSupervisor.Props(_engine.Services), "containers");
        _events = CreateTestProbe();
        Sys.EventStream.Subscribe(_events.Ref, typeof(GockerEvent));
        // The fake init honours the mount fault the way gocker-init does: it fails mount-overlay.
        _engine.Spawner.ReleaseResult = r =>
            InitSpecReader.Read(File.ReadAllBytes(r.SpecPath)).InjectMountFault
                ? new ExecResult(false, 125, "mount-overlay", "injected fault: mount (gocker debug inject-fault)")
                : ExecResult.Success;
    }

    protected override void AfterAll()
    {
        base.AfterAll();
        _engine.Dispose();
    }

    TestScheduler Clock => (TestScheduler)Sys.Scheduler;

    string CreateContainer()
    {
        var req = new ContainerCreateRequest { Image = "busybox", Cmd = ["true"] };
        _supervisor.Tell(new Create(req, null, FakeEngine.Image));
        return ExpectMsg<CreatedContainer>().Id;
    }

    void Arm(string id, FaultKind kind, int count)
    {
        _supervisor.Tell(new ToContainer(id, new ContainerActor.ArmFault(kind, count)));
        Assert.Equal(count, ExpectMsg<ContainerActor.FaultArmed>().Count);
    }

    GockerEvent ExpectFault(string id) =>
        (GockerEvent)_events.FishForMessage(m => m is GockerEvent { Action: "fault" } e && e.Id == id, TimeSpan.FromSeconds(10));

    void AssertNothingLeft(string id)
    {
        AwaitAssert(() =>
        {
            Assert.False(_engine.Cgroups.Exists("spec", id));
            Assert.False(Directory.Exists(ContainerLayout.For(_engine.Services.Options, id).RunDir));
            Assert.All(_engine.Spawner.Processes.Values.Where(p => p.Request.SpecPath.Contains(id)),
                p => Assert.True(p.WaitForExitAsync().IsCompleted, $"pid {p.Pid} still runs"));
        }, TimeSpan.FromSeconds(5));
    }

    [Fact]
    public void A_failing_cgroup_write_is_retried_after_the_backoff_and_the_start_succeeds()
    {
        var id = CreateContainer();
        Arm(id, FaultKind.CgroupWrite, 2);
        _supervisor.Tell(new ToContainer(id, new ContainerActor.Start()));

        var first = ExpectFault(id);
        Assert.Equal(("cgroup-create", "retry", "1", "100ms"), (first.Attributes["step"], first.Attributes["decision"], first.Attributes["attempt"], first.Attributes["delay"]));
        Assert.Contains("injected fault: cgroup-write", first.Attributes["error"]);
        // Virtual time: no retry before the backoff has passed.
        ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        Clock.Advance(TimeSpan.FromMilliseconds(100));
        var second = ExpectFault(id);
        Assert.Equal(("2", "200ms"), (second.Attributes["attempt"], second.Attributes["delay"]));
        Clock.Advance(TimeSpan.FromMilliseconds(200));

        var started = ExpectMsg<ContainerActor.Started>(TimeSpan.FromSeconds(10));
        Assert.True(_engine.Cgroups.Exists("spec", id));
        Assert.Equal(0, _engine.Services.Faults.Armed(id, FaultKind.CgroupWrite));
        var log = _engine.Log.ToList();
        Assert.True(log.IndexOf($"cgroup add {started.Pid} spec/{id}") < log.IndexOf($"release {started.Pid}"));
    }

    [Fact]
    public void A_cgroup_placement_that_fails_once_is_retried_with_the_same_waiting_init()
    {
        var failures = 0;
        _engine.Cgroups.FailAddProcess = (_, _) => Interlocked.Increment(ref failures) == 1;
        var id = CreateContainer();
        _supervisor.Tell(new ToContainer(id, new ContainerActor.Start()));
        Assert.Equal("cgroup-add-process", ExpectFault(id).Attributes["step"]);
        Clock.Advance(TimeSpan.FromMilliseconds(100));
        var started = ExpectMsg<ContainerActor.Started>(TimeSpan.FromSeconds(10));
        // One init only: it waited on its go pipe while the placement was retried.
        Assert.Single(_engine.Spawner.Processes.Values, p => p.Request.SpecPath.Contains(id));
        Assert.Contains(started.Pid, _engine.Cgroups.Live[$"spec/{id}"].Pids);
    }

    [Fact]
    public void Retries_exhausted_tear_the_container_down_and_name_the_step()
    {
        var id = CreateContainer();
        Arm(id, FaultKind.CgroupWrite, 3);
        _supervisor.Tell(new ToContainer(id, new ContainerActor.Start()));
        ExpectFault(id);
        Clock.Advance(TimeSpan.FromMilliseconds(100));
        ExpectFault(id);
        Clock.Advance(TimeSpan.FromMilliseconds(200));
        var last = ExpectFault(id);
        Assert.Equal(("teardown", "3"), (last.Attributes["decision"], last.Attributes["attempt"]));

        var failure = ExpectMsg<Status.Failure>(TimeSpan.FromSeconds(10));
        Assert.Equal(125, Assert.IsType<StartFailedException>(failure.Cause).ExitCode);
        Assert.StartsWith("cgroup-create: injected fault: cgroup-write", failure.Cause.Message);
        Assert.Contains("gave up after 3 attempts", failure.Cause.Message);
        AssertNothingLeft(id);
        _supervisor.Tell(new ToContainer(id, new ContainerActor.Inspect()));
        var record = ExpectMsg<ContainerRecord>();
        Assert.Equal(ContainerStatus.Exited, record.Status);
        Assert.Contains("cgroup-create", record.Error);
    }

    [Fact]
    public void A_spawn_fault_under_a_teardown_policy_fails_the_start_at_once_and_leaks_nothing()
    {
        var id = CreateContainer();
        Arm(id, FaultKind.Spawn, 1);
        _supervisor.Tell(new ToContainer(id, new ContainerActor.Start()));
        var fault = ExpectFault(id);
        Assert.Equal(("spawn", "teardown"), (fault.Attributes["step"], fault.Attributes["decision"]));
        var failure = ExpectMsg<Status.Failure>(TimeSpan.FromSeconds(10));
        Assert.Equal("spawn: injected fault: spawn (gocker debug inject-fault)", failure.Cause.Message);
        Assert.DoesNotContain(_engine.Spawner.Processes.Values, p => p.Request.SpecPath.Contains(id));
        AssertNothingLeft(id);

        // The fault is consumed: the next start works.
        _supervisor.Tell(new ToContainer(id, new ContainerActor.Start()));
        ExpectMsg<ContainerActor.Started>(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void A_failed_rootfs_setup_is_retried_with_a_fresh_init()
    {
        var id = CreateContainer();
        Arm(id, FaultKind.Mount, 1);
        _supervisor.Tell(new ToContainer(id, new ContainerActor.Start()));
        var fault = ExpectFault(id);
        Assert.Equal(("mount", "retry", "300ms"), (fault.Attributes["step"], fault.Attributes["decision"], fault.Attributes["delay"]));
        Assert.Contains("mount-overlay: injected fault: mount", fault.Attributes["error"]);
        Clock.Advance(TimeSpan.FromMilliseconds(300));
        var started = ExpectMsg<ContainerActor.Started>(TimeSpan.FromSeconds(10));

        var procs = _engine.Spawner.Processes.Values.Where(p => p.Request.SpecPath.Contains(id)).OrderBy(p => p.Pid).ToList();
        Assert.Equal(2, procs.Count);
        Assert.True(procs[0].WaitForExitAsync().IsCompleted);
        Assert.Equal(procs[1].Pid, started.Pid);
        // The first init's exit (a run id of its own) must not tear down the running container.
        ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        _supervisor.Tell(new ToContainer(id, new ContainerActor.Inspect()));
        Assert.Equal(ContainerStatus.Running, ExpectMsg<ContainerRecord>().Status);
    }

    [Fact]
    public void A_rootfs_setup_failing_past_its_retries_fails_the_start_with_the_mount_step_named()
    {
        var id = CreateContainer();
        Arm(id, FaultKind.Mount, 2);
        _supervisor.Tell(new ToContainer(id, new ContainerActor.Start()));
        ExpectFault(id);
        Clock.Advance(TimeSpan.FromMilliseconds(300));
        Assert.Equal("teardown", ExpectFault(id).Attributes["decision"]);
        var failure = ExpectMsg<Status.Failure>(TimeSpan.FromSeconds(10));
        Assert.StartsWith("mount-overlay: injected fault: mount", failure.Cause.Message);
        Assert.Contains("gave up after 2 attempts", failure.Cause.Message);
        AssertNothingLeft(id);
    }

    [Fact]
    public void An_exception_escaping_the_namespace_actor_tears_the_running_container_down()
    {
        var id = CreateContainer();
        _supervisor.Tell(new ToContainer(id, new ContainerActor.Start()));
        var started = ExpectMsg<ContainerActor.Started>(TimeSpan.FromSeconds(10));
        _supervisor.Tell(new ToContainer(id, new ContainerActor.Wait(ContainerActor.WaitCondition.NotRunning)));

        _engine.Spawner.Processes[started.Pid].FailWait(new IOException("poll pidfd: EIO"));
        var fault = ExpectFault(id);
        Assert.Equal(("namespace", "teardown", "true"), (fault.Attributes["step"], fault.Attributes["decision"], fault.Attributes["escaped"]));
        var result = ExpectMsg<ContainerActor.WaitResult>(TimeSpan.FromSeconds(10));
        Assert.Equal(137, result.ExitCode);
        Assert.Contains("engine fault", result.Error);
        // The kill through the NamespaceActor is answered before the teardown announces the exit.
        Assert.Contains(9, _engine.Spawner.Processes[started.Pid].Signals);
        AwaitAssert(() => Assert.False(_engine.Cgroups.Exists("spec", id)), TimeSpan.FromSeconds(5));
        Assert.False(Directory.Exists(ContainerLayout.For(_engine.Services.Options, id).RunDir));
    }

    [Fact]
    public void Armed_faults_are_forgotten_when_the_container_is_removed()
    {
        var id = CreateContainer();
        Arm(id, FaultKind.Spawn, 5);
        _supervisor.Tell(new ToContainer(id, new ContainerActor.Remove(false)));
        ExpectMsg<ContainerActor.Ack>(TimeSpan.FromSeconds(10));
        AwaitAssert(() => Assert.Equal(0, _engine.Services.Faults.Armed(id, FaultKind.Spawn)), TimeSpan.FromSeconds(5));
    }
}
