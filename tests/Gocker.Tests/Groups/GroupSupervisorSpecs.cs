using Akka.Actor;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Gocker.Actors.Containers;
using Gocker.Actors.Events;
using Gocker.Actors.Groups;
using Gocker.Actors.Restart;
using static Gocker.Actors.Containers.ContainerSupervisor;

namespace Gocker.Tests.Groups;

/// <summary>The GroupSupervisor carrying out GroupDecider's decisions, against a probe standing in
/// for the ContainerSupervisor (so every stop and start it sends is checked, in order).</summary>
public sealed class GroupSupervisorSpecs : TestKit
{
    readonly string _dir = Path.Combine(Path.GetTempPath(), "gocker-groupspec-" + Guid.NewGuid().ToString("N")[..10]);
    readonly TestProbe _containers;
    readonly TestProbe _events;
    readonly ManualClock _clock = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    public GroupSupervisorSpecs() : base("akka.loglevel = WARNING")
    {
        Directory.CreateDirectory(_dir);
        _containers = CreateTestProbe();
        _events = CreateTestProbe();
        Sys.EventStream.Subscribe(_events.Ref, typeof(GockerEvent));
    }

    protected override void AfterAll()
    {
        base.AfterAll();
        try { Directory.Delete(_dir, true); } catch { }
    }

    sealed class ManualClock(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now = now;
        public override DateTimeOffset GetUtcNow() => Now;
    }

    IActorRef Group(GroupStrategy strategy, int maxRestarts, params string[] members)
    {
        var state = new GroupState { Name = "g" + Guid.NewGuid().ToString("N")[..6], Strategy = strategy, MaxRestarts = maxRestarts, Within = TimeSpan.FromSeconds(60), Members = members };
        return Sys.ActorOf(GroupSupervisor.Props(state, _dir, _containers.Ref, _clock, TimeSpan.FromSeconds(1)));
    }

    static ContainerRecord Record(string id, ContainerStatus status) => new()
    {
        Spec = new ContainerSpec { Id = id, Name = "n-" + id, Image = "busybox", ImageId = "x", ImageLayers = [], Args = ["true"], Env = [], Hostname = "h" },
        Status = status,
    };

    /// <summary>Expects ToContainer(id, T) and answers it.</summary>
    void Expect<T>(string id, object reply)
    {
        var m = _containers.ExpectMsg<ToContainer>(TimeSpan.FromSeconds(5));
        Assert.Equal(id, m.Reference);
        Assert.IsType<T>(m.Message);
        _containers.Reply(reply);
    }

    GockerEvent GroupEvent() => _events.FishForMessage<GockerEvent>(e => e.Type == "group", TimeSpan.FromSeconds(5));

    [Fact]
    public void One_for_all_stops_the_others_in_reverse_order_then_starts_all_in_start_order()
    {
        var g = Group(GroupStrategy.OneForAll, 3, "a", "b", "c");
        g.Tell(new GroupSupervisor.MemberExited("b", 1));
        Expect<ContainerActor.Inspect>("b", Record("b", ContainerStatus.Exited));
        Expect<ContainerActor.GroupStop>("c", new ContainerActor.Ack());
        Expect<ContainerActor.GroupStop>("a", new ContainerActor.Ack());
        Expect<ContainerActor.GroupRestart>("a", new ContainerActor.Started(10));
        Expect<ContainerActor.GroupRestart>("b", new ContainerActor.Started(11));
        Expect<ContainerActor.GroupRestart>("c", new ContainerActor.Started(12));
        var e = GroupEvent();
        Assert.Equal("group-restart", e.Action);
        Assert.Equal("one-for-all", e.Attributes["strategy"]);
        Assert.Equal("b", e.Attributes["failed"]);
        Assert.Equal("a,b,c", e.Attributes["restarted"]);
        g.Tell(new GroupSupervisor.GetState());
        var s = ExpectMsg<GroupState>();
        Assert.Equal(1, s.Restarts);
        Assert.Single(s.RestartLog);
        Assert.Equal(1, GroupStore.Load(GroupStore.PathOf(_dir, s.Name)).Restarts);
    }

    [Fact]
    public void Rest_for_one_restarts_the_failed_member_and_those_started_after_it()
    {
        var g = Group(GroupStrategy.RestForOne, 3, "a", "b", "c");
        g.Tell(new GroupSupervisor.MemberExited("b", 1));
        Expect<ContainerActor.Inspect>("b", Record("b", ContainerStatus.Exited));
        Expect<ContainerActor.GroupStop>("c", new ContainerActor.Ack());
        Expect<ContainerActor.GroupRestart>("b", new ContainerActor.Started(11));
        Expect<ContainerActor.GroupRestart>("c", new ContainerActor.Started(12));
        Assert.Equal("b,c", GroupEvent().Attributes["restarted"]);
        _containers.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void One_for_one_a_member_stopped_by_hand_is_not_counted_as_restarted()
    {
        var g = Group(GroupStrategy.OneForOne, 3, "a", "b");
        g.Tell(new GroupSupervisor.MemberExited("a", 2));
        Expect<ContainerActor.Inspect>("a", Record("a", ContainerStatus.Exited));
        Expect<ContainerActor.GroupRestart>("a", new ContainerActor.NotModified());
        Assert.Equal("", GroupEvent().Attributes["restarted"]);
    }

    [Fact]
    public void Beyond_the_intensity_limit_it_stops_every_member_gives_up_and_ignores_later_exits()
    {
        var g = Group(GroupStrategy.OneForOne, 1, "a", "b", "c");
        g.Tell(new GroupSupervisor.MemberExited("b", 1));
        Expect<ContainerActor.Inspect>("b", Record("b", ContainerStatus.Exited));
        Expect<ContainerActor.GroupRestart>("b", new ContainerActor.Started(11));
        Assert.Equal("group-restart", GroupEvent().Action);

        _clock.Now += TimeSpan.FromSeconds(10);   // still inside the 60 s window
        g.Tell(new GroupSupervisor.MemberExited("b", 1));
        Expect<ContainerActor.Inspect>("b", Record("b", ContainerStatus.Exited));
        Expect<ContainerActor.GroupStop>("c", new ContainerActor.Ack());
        Expect<ContainerActor.GroupStop>("b", new ContainerActor.NotModified());
        Expect<ContainerActor.GroupStop>("a", new ContainerActor.Ack());
        var e = GroupEvent();
        Assert.Equal("group-give-up", e.Action);
        Assert.Equal("b", e.Attributes["failed"]);
        g.Tell(new GroupSupervisor.GetState());
        var s = ExpectMsg<GroupState>();
        Assert.True(s.GivenUp);
        Assert.Contains("exceed the limit of 1", s.GiveUpReason);
        Assert.True(GroupStore.Load(GroupStore.PathOf(_dir, s.Name)).GivenUp);

        g.Tell(new GroupSupervisor.MemberExited("a", 1));
        _containers.ExpectNoMsg(TimeSpan.FromMilliseconds(200));

        // A member started by hand revives it, with a fresh window.
        g.Tell(new GroupSupervisor.MemberStarted("b"));
        Assert.Equal("group-resume", GroupEvent().Action);
        g.Tell(new GroupSupervisor.GetState());
        var revived = ExpectMsg<GroupState>();
        Assert.False(revived.GivenUp);
        Assert.Empty(revived.RestartLog);
        g.Tell(new GroupSupervisor.MemberExited("b", 1));
        Expect<ContainerActor.Inspect>("b", Record("b", ContainerStatus.Exited));
        Expect<ContainerActor.GroupRestart>("b", new ContainerActor.Started(13));
        Assert.Equal("group-restart", GroupEvent().Action);
    }

    [Fact]
    public void A_stale_report_of_a_member_running_again_is_ignored_and_a_removed_one_leaves()
    {
        var g = Group(GroupStrategy.OneForAll, 3, "a", "b");
        g.Tell(new GroupSupervisor.MemberExited("a", 1));
        Expect<ContainerActor.Inspect>("a", Record("a", ContainerStatus.Running));
        _containers.ExpectNoMsg(TimeSpan.FromMilliseconds(200));

        g.Tell(new GroupSupervisor.MemberExited("b", 1));
        Expect<ContainerActor.Inspect>("b", new Status.Failure(new ContainerNotFoundException("b")));
        g.Tell(new GroupSupervisor.GetState());
        Assert.Equal(["a"], ExpectMsg<GroupState>().Members);
    }

    [Fact]
    public void Members_join_in_start_order_once_and_leave_when_removed()
    {
        var g = Group(GroupStrategy.RestForOne, 3);
        g.Tell(new GroupSupervisor.MemberStarted("x"));
        g.Tell(new GroupSupervisor.MemberStarted("y"));
        g.Tell(new GroupSupervisor.MemberStarted("x"));
        g.Tell(new GroupSupervisor.GetState());
        Assert.Equal(["x", "y"], ExpectMsg<GroupState>().Members);
        g.Tell(new GroupSupervisor.MemberRemoved("x"));
        g.Tell(new GroupSupervisor.GetState());
        Assert.Equal(["y"], ExpectMsg<GroupState>().Members);
    }
}
