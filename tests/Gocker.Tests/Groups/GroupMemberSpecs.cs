using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Gocker.Actors.Containers;
using Gocker.Actors.Engine;
using Gocker.Api;
using Gocker.Tests.Actors;
using static Gocker.Actors.Containers.ContainerSupervisor;

namespace Gocker.Tests.Groups;

/// <summary>The member's side (ContainerActor.Group.cs) on the fake engine: which exits are
/// reported to the group, and GroupStop/GroupRestart.</summary>
public sealed class GroupMemberSpecs : TestKit
{
    static readonly Config SpecConfig = ConfigurationFactory.ParseString(GockerHostingExtensions.DefaultHocon + """
        akka.scheduler.implementation = "Akka.TestKit.TestScheduler, Akka.TestKit"
        akka.loglevel = WARNING
        """);

    readonly FakeEngine _engine = new();
    readonly IActorRef _supervisor;
    readonly TestProbe _reports;

    public GroupMemberSpecs() : base(SpecConfig)
    {
        _engine.Services.Groups.Add("g");
        _supervisor = Sys.ActorOf(ContainerSupervisor.Props(_engine.Services), "containers");
        _reports = CreateTestProbe();
        Sys.EventStream.Subscribe(_reports.Ref, typeof(ContainerActor.GroupMemberExited));
    }

    protected override void AfterAll()
    {
        base.AfterAll();
        _engine.Dispose();
    }

    object Create(string? group, string? restart = null)
    {
        var req = new ContainerCreateRequest
        {
            Image = "busybox", Cmd = ["true"],
            HostConfig = new HostConfig { GockerGroup = group, RestartPolicy = restart is null ? null : new RestartPolicy { Name = restart } },
        };
        _supervisor.Tell(new Create(req, null, FakeEngine.Image));
        return ExpectMsg<object>(TimeSpan.FromSeconds(10));
    }

    string Member() => Assert.IsType<CreatedContainer>(Create("g")).Id;

    object Send(string id, object message)
    {
        _supervisor.Tell(new ToContainer(id, message));
        return ExpectMsg<object>(TimeSpan.FromSeconds(10));
    }

    ContainerRecord Inspect(string id) => Assert.IsType<ContainerRecord>(Send(id, new ContainerActor.Inspect()));

    FakeInitProcess Latest(string id) =>
        _engine.Spawner.Processes.Values.Where(p => p.Request.SpecPath.Contains(id)).OrderBy(p => p.Pid).Last();

    [Fact]
    public void An_exit_on_its_own_is_reported_and_the_container_does_not_restart_itself()
    {
        var id = Member();
        Assert.IsType<ContainerActor.Started>(Send(id, new ContainerActor.Start()));
        Latest(id).Exit(3);
        var report = _reports.ExpectMsg<ContainerActor.GroupMemberExited>(TimeSpan.FromSeconds(10));
        Assert.Equal(("g", id, 3), (report.Group, report.Id, report.ExitCode));
        var r = Inspect(id);
        Assert.Equal(ContainerStatus.Exited, r.Status);
        Assert.Equal("g", r.Spec.Group);

        Assert.IsType<ContainerActor.Started>(Send(id, new ContainerActor.GroupRestart()));
        r = Inspect(id);
        Assert.Equal(ContainerStatus.Running, r.Status);
        Assert.Equal(1, r.RestartCount);
        Assert.IsType<ContainerActor.NotModified>(Send(id, new ContainerActor.GroupRestart()));
    }

    [Fact]
    public void Stops_by_the_group_and_by_hand_are_not_reported_and_a_member_stopped_by_hand_stays_down()
    {
        var id = Member();
        Assert.IsType<ContainerActor.Started>(Send(id, new ContainerActor.Start()));
        Assert.IsType<ContainerActor.Ack>(Send(id, new ContainerActor.GroupStop(TimeSpan.FromSeconds(5))));
        Assert.False(Inspect(id).ManuallyStopped);
        Assert.IsType<ContainerActor.Started>(Send(id, new ContainerActor.GroupRestart()));

        Assert.IsType<ContainerActor.Ack>(Send(id, new ContainerActor.Stop(TimeSpan.FromSeconds(5))));
        Assert.True(Inspect(id).ManuallyStopped);
        _reports.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        Assert.IsType<ContainerActor.NotModified>(Send(id, new ContainerActor.GroupRestart()));
        Assert.Equal(ContainerStatus.Exited, Inspect(id).Status);
    }

    [Fact]
    public void Create_refuses_an_unknown_group_and_a_restart_policy_of_its_own()
    {
        var unknown = Assert.IsType<Status.Failure>(Create("nope"));
        Assert.Contains("group \"nope\" does not exist", unknown.Cause.Message);
        var conflict = Assert.IsType<Status.Failure>(Create("g", "on-failure"));
        Assert.Contains("--restart on-failure and --group g", conflict.Cause.Message);
        Assert.IsType<CreatedContainer>(Create("g", "no"));
    }
}
