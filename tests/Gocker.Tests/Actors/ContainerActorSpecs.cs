using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Gocker.Actors.Containers;
using Gocker.Actors.Engine;
using Gocker.Api;
using Gocker.Syscalls.Spawn;
using static Gocker.Actors.Containers.ContainerSupervisor;

namespace Gocker.Tests.Actors;

public class ContainerActorSpecs : TestKit
{
    static readonly Config SpecConfig = ConfigurationFactory.ParseString(GockerHostingExtensions.DefaultHocon + """
        akka.scheduler.implementation = "Akka.TestKit.TestScheduler, Akka.TestKit"
        akka.loglevel = WARNING
        # These specs fail steps for good and expect the teardown at once; retries are FaultSupervisionSpecs'.
        gocker.supervision { cgroup.decision = teardown, spawn.decision = teardown }
        """);

    readonly FakeEngine _engine = new();
    readonly IActorRef _supervisor;

    public ContainerActorSpecs() : base(SpecConfig)
    {
        _supervisor = Sys.ActorOf(ContainerSupervisor.Props(_engine.Services), "containers");
    }

    protected override void AfterAll()
    {
        base.AfterAll();
        _engine.Dispose();
    }

    string CreateContainer(bool autoRemove = false, string? name = null)
    {
        var req = new ContainerCreateRequest { Image = "busybox", Cmd = ["true"], HostConfig = new HostConfig { AutoRemove = autoRemove } };
        _supervisor.Tell(new Create(req, name, FakeEngine.Image));
        return ExpectMsg<CreatedContainer>().Id;
    }

    object Send(string id, object message)
    {
        _supervisor.Tell(new ToContainer(id, message));
        try { return ExpectMsg<object>(TimeSpan.FromSeconds(10)); }
        catch (Exception ex) { throw new Exception("no answer; engine log:\n" + string.Join("\n", _engine.Log), ex); }
    }

    [Fact]
    public void ContainerActor_must_start_place_in_cgroup_before_release_and_report_the_exit()
    {
        var id = CreateContainer();
        Assert.IsType<ContainerActor.Started>(Send(id, new ContainerActor.Start()));
        var proc = _engine.Spawner.ForSpec(id);
        var log = _engine.Log.ToList();
        // The init is in the cgroup before it is released to exec the user's command.
        Assert.True(log.IndexOf($"cgroup add {proc.Pid} spec/{id}") < log.IndexOf($"release {proc.Pid}"), string.Join("\n", log));

        _supervisor.Tell(new ToContainer(id, new ContainerActor.Wait(ContainerActor.WaitCondition.NotRunning)));
        proc.Exit(3);
        var result = ExpectMsg<ContainerActor.WaitResult>(TimeSpan.FromSeconds(10));
        Assert.Equal(3, result.ExitCode);
        AwaitAssert(() => Assert.False(_engine.Cgroups.Exists("spec", id)), TimeSpan.FromSeconds(5));
        var record = Assert.IsType<ContainerRecord>(Send(id, new ContainerActor.Inspect()));
        Assert.Equal(ContainerStatus.Exited, record.Status);
        Assert.False(Directory.Exists(ContainerLayout.For(_engine.Services.Options, id).RunDir));
    }

    [Fact]
    public void ContainerActor_must_write_the_default_seccomp_program_into_the_init_spec()
    {
        var id = CreateContainer();
        Assert.IsType<ContainerActor.Started>(Send(id, new ContainerActor.Start()));
        var proc = _engine.Spawner.ForSpec(id);
        var spec = InitSpecJson.Deserialize(File.ReadAllBytes(proc.Request.SpecPath));
        var expected = Gocker.Syscalls.Security.SeccompCompiler.Compile(
            Gocker.Syscalls.Security.SeccompProfile.Default, Gocker.Syscalls.Security.CapabilitySet.DockerDefault);
        Assert.Equal(expected, spec.Seccomp);
        Assert.False(spec.NoNewPrivileges);
        _supervisor.Tell(new ToContainer(id, new ContainerActor.Wait(ContainerActor.WaitCondition.NotRunning)));
        proc.Exit(0);
        ExpectMsg<ContainerActor.WaitResult>(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void ContainerActor_must_tear_down_when_its_cgroup_child_fails()
    {
        _engine.Cgroups.FailAddProcess = (_, _) => true;
        var id = CreateContainer();
        var failure = Assert.IsType<Status.Failure>(Send(id, new ContainerActor.Start()));
        Assert.Contains("injected failure", failure.Cause.Message);
        var proc = _engine.Spawner.ForSpec(id);
        // The half-started init is killed, its cgroup removed, nothing of the run left.
        AwaitAssert(() =>
        {
            Assert.Contains(9, proc.Signals);
            Assert.False(_engine.Cgroups.Exists("spec", id));
            var record = Assert.IsType<ContainerRecord>(Send(id, new ContainerActor.Inspect()));
            Assert.Equal(ContainerStatus.Exited, record.Status);
            Assert.Contains("injected failure", record.Error);
        }, TimeSpan.FromSeconds(5));
        Assert.False(Directory.Exists(ContainerLayout.For(_engine.Services.Options, id).RunDir));
    }

    [Fact]
    public void ContainerActor_must_report_a_command_that_cannot_be_found_as_127()
    {
        _engine.Spawner.ReleaseResult = _ => new ExecResult(false, 127, "exec", "nope: executable file not found in $PATH");
        var id = CreateContainer();
        var failure = Assert.IsType<Status.Failure>(Send(id, new ContainerActor.Start()));
        Assert.Equal(127, Assert.IsType<StartFailedException>(failure.Cause).ExitCode);
        AwaitAssert(() =>
        {
            var record = Assert.IsType<ContainerRecord>(Send(id, new ContainerActor.Inspect()));
            Assert.Equal(127, record.ExitCode);
            Assert.False(_engine.Cgroups.Exists("spec", id));
        }, TimeSpan.FromSeconds(5));
    }

    [Fact]
    public void ContainerActor_must_serialise_cgroup_writes_per_container_while_containers_run_in_parallel()
    {
        _engine.Cgroups.WriteDelay = TimeSpan.FromMilliseconds(20);
        var ids = Enumerable.Range(0, 6).Select(_ => CreateContainer()).ToList();
        foreach (var id in ids) _supervisor.Tell(new ToContainer(id, new ContainerActor.Start()));
        for (var i = 0; i < ids.Count; i++) ExpectMsg<ContainerActor.Started>(TimeSpan.FromSeconds(20));
        // Force-remove all at once: kill + cgroup removal race inside each container, never overlap.
        foreach (var id in ids) _supervisor.Tell(new ToContainer(id, new ContainerActor.Remove(Force: true)));
        for (var i = 0; i < ids.Count; i++) ExpectMsg<ContainerActor.Ack>(TimeSpan.FromSeconds(20));
        foreach (var id in ids) Assert.Equal(1, _engine.Cgroups.MaxInFlight[$"spec/{id}"]);
        Assert.Empty(_engine.Cgroups.Live);
        Assert.Empty(Directory.EnumerateDirectories(_engine.Services.Options.ContainersDir));
    }

    [Fact]
    public void ContainerSupervisor_must_keep_other_containers_running_when_one_fails()
    {
        var bad = CreateContainer(name: "bad");
        var good = CreateContainer(name: "good");
        _engine.Spawner.Fails = r => r.SpecPath.Contains(bad);
        Assert.IsType<Status.Failure>(Send("bad", new ContainerActor.Start()));
        Assert.IsType<ContainerActor.Started>(Send("good", new ContainerActor.Start()));
        _supervisor.Tell(new List(All: false));
        var listing = ExpectMsg<Listing>();
        Assert.Equal(good, Assert.Single(listing.Containers).Spec.Id);
        Assert.False(_engine.Cgroups.Exists("spec", bad));
    }

    [Fact]
    public void ContainerActor_must_escalate_stop_to_sigkill_when_sigterm_is_ignored()
    {
        _engine.Spawner.IgnoreSigterm = true;
        var id = CreateContainer();
        Assert.IsType<ContainerActor.Started>(Send(id, new ContainerActor.Start()));
        var proc = _engine.Spawner.ForSpec(id);
        _supervisor.Tell(new ToContainer(id, new ContainerActor.Stop(TimeSpan.FromSeconds(10))));
        AwaitAssert(() => Assert.Contains(15, proc.Signals), TimeSpan.FromSeconds(5));
        ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        Assert.DoesNotContain(9, proc.Signals);
        // Virtual time: the grace period passes without sleeping.
        ((TestScheduler)Sys.Scheduler).Advance(TimeSpan.FromSeconds(10));
        ExpectMsg<ContainerActor.Ack>(TimeSpan.FromSeconds(5));
        Assert.Contains(9, proc.Signals);
        var record = Assert.IsType<ContainerRecord>(Send(id, new ContainerActor.Inspect()));
        Assert.Equal(137, record.ExitCode);
    }

    [Fact]
    public void ContainerActor_must_remove_everything_after_exit_when_auto_remove_is_set()
    {
        var id = CreateContainer(autoRemove: true, name: "rm-me");
        Assert.IsType<ContainerActor.Started>(Send(id, new ContainerActor.Start()));
        _supervisor.Tell(new ToContainer(id, new ContainerActor.Wait(ContainerActor.WaitCondition.Removed)));
        _engine.Spawner.ForSpec(id).Exit(0);
        Assert.Equal(0, ExpectMsg<ContainerActor.WaitResult>(TimeSpan.FromSeconds(10)).ExitCode);
        AwaitAssert(() =>
        {
            _supervisor.Tell(new Resolve("rm-me"));
            Assert.IsType<ContainerNotFoundException>(ExpectMsg<Status.Failure>().Cause);
        }, TimeSpan.FromSeconds(5));
        Assert.False(Directory.Exists(ContainerLayout.For(_engine.Services.Options, id).DataDir));
        Assert.False(_engine.Cgroups.Exists("spec", id));
    }

    [Fact]
    public void ContainerSupervisor_must_refuse_duplicate_and_invalid_names()
    {
        CreateContainer(name: "web");
        var req = new ContainerCreateRequest { Image = "busybox", Cmd = ["true"] };
        _supervisor.Tell(new Create(req, "web", FakeEngine.Image));
        Assert.IsType<ConflictException>(ExpectMsg<Status.Failure>().Cause);
        _supervisor.Tell(new Create(req, "../etc", FakeEngine.Image));
        Assert.IsType<BadRequestException>(ExpectMsg<Status.Failure>().Cause);
        _supervisor.Tell(new List(All: true));
        Assert.Single(ExpectMsg<Listing>().Containers);
    }

    [Fact]
    public void ContainerSupervisor_must_free_a_name_before_rm_is_answered()
    {
        // `rm -f web; run --name web ...`: the second request reaches the supervisor right after the
        // first was answered, before the removed container's actor is gone (Terminated comes later).
        for (int i = 0; i < 20; i++)
        {
            var id = CreateContainer(name: "web");
            Assert.IsType<ContainerActor.Ack>(Send(id, new ContainerActor.Remove(Force: true)));
            var again = CreateContainer(name: "web");
            Assert.IsType<ContainerActor.Ack>(Send(again, new ContainerActor.Remove(Force: true)));
        }
    }
}
