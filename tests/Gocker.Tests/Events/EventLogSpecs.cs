using System.Threading.Channels;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using Gocker.Actors.Events;
using EvFilter = Gocker.Actors.Events.EventFilter;

namespace Gocker.Tests.Events;

public class EventLogSpecs : TestKit
{
    static readonly DateTimeOffset T0 = new(2026, 11, 29, 6, 0, 0, TimeSpan.Zero);

    public EventLogSpecs() : base("akka.loglevel = WARNING") { }

    static GockerEvent Ev(int second, string action, string id = "aaaa1111", string name = "web", string type = "container") =>
        new(type, action, id, new Dictionary<string, string> { ["name"] = name, ["image"] = "busybox" }, T0.AddSeconds(second));

    /// <summary>An EventLog subscribed to the EventStream synchronously, as WithGocker does.</summary>
    IActorRef NewLog(EventLogSettings settings)
    {
        var log = Sys.ActorOf(EventLog.Props(settings));
        Sys.EventStream.Subscribe(log, typeof(GockerEvent));
        return log;
    }

    List<GockerEvent> Query(IActorRef log, DateTimeOffset? since = null, DateTimeOffset? until = null, EvFilter? filter = null)
    {
        log.Tell(new EventLog.Query(since, until, filter ?? EvFilter.All));
        return ExpectMsg<EventLog.QueryResult>().Events.ToList();
    }

    EventLog.Subscribed Subscribe(IActorRef log, DateTimeOffset? since, EvFilter? filter = null)
    {
        log.Tell(new EventLog.Subscribe(since, filter ?? EvFilter.All));
        return ExpectMsg<EventLog.Subscribed>();
    }

    static GockerEvent Next(ChannelReader<GockerEvent> r)
    {
        var t = r.ReadAsync().AsTask();
        Assert.True(t.Wait(TimeSpan.FromSeconds(10)), "no event arrived");
        return t.Result;
    }

    [Fact]
    public void Keeps_only_the_last_max_events_published_on_the_event_stream()
    {
        var log = NewLog(new EventLogSettings(Max: 3));
        for (int i = 0; i < 5; i++) Sys.EventStream.Publish(Ev(i, "a" + i));
        Assert.Equal(["a2", "a3", "a4"], Query(log).Select(e => e.Action));
    }

    [Fact]
    public void Since_and_until_bound_the_query_inclusively()
    {
        var log = NewLog(new EventLogSettings());
        for (int i = 0; i < 6; i++) log.Tell(Ev(i, "a" + i));
        Assert.Equal(["a2", "a3"], Query(log, T0.AddSeconds(2), T0.AddSeconds(3)).Select(e => e.Action));
        Assert.Equal(["a4", "a5"], Query(log, since: T0.AddSeconds(4)).Select(e => e.Action));
        Assert.Equal(["a0", "a1"], Query(log, until: T0.AddSeconds(1)).Select(e => e.Action));
        Assert.Empty(Query(log, since: T0.AddSeconds(10)));
    }

    [Fact]
    public void Filters_select_by_container_event_and_type()
    {
        var log = NewLog(new EventLogSettings());
        log.Tell(Ev(0, "create", "aaaa1111", "web"));
        log.Tell(Ev(1, "start", "aaaa1111", "web"));
        log.Tell(Ev(2, "create", "bbbb2222", "db"));
        log.Tell(Ev(3, "die", "bbbb2222", "db"));
        log.Tell(Ev(4, "create", "net1", "front", type: "network"));
        var terms = (string k, params string[] v) => new EvFilter(new Dictionary<string, string[]> { [k] = v });
        Assert.Equal([0, 1], Query(log, filter: terms("container", "web")).Select(e => (int)(e.Time - T0).TotalSeconds));
        Assert.Equal([2, 3], Query(log, filter: terms("container", "bbbb")).Select(e => (int)(e.Time - T0).TotalSeconds));
        Assert.Equal([0, 2, 4], Query(log, filter: terms("event", "create")).Select(e => (int)(e.Time - T0).TotalSeconds));
        Assert.Equal([4], Query(log, filter: terms("type", "network")).Select(e => (int)(e.Time - T0).TotalSeconds));
        // Values of one key are alternatives; different keys must all match.
        var both = new EvFilter(new Dictionary<string, string[]> { ["container"] = ["web", "db"], ["event"] = ["create"] });
        Assert.Equal([0, 2], Query(log, filter: both).Select(e => (int)(e.Time - T0).TotalSeconds));
        Assert.Throws<ArgumentException>(() => terms("colour", "red"));
    }

    [Fact]
    public async Task A_subscriber_gets_the_matching_backlog_then_live_events_without_gap_or_duplicate()
    {
        var log = NewLog(new EventLogSettings());
        log.Tell(Ev(0, "create"));
        log.Tell(Ev(1, "start"));
        log.Tell(Ev(2, "create", "bbbb2222", "db"));
        var sub = Subscribe(log, T0, new EvFilter(new Dictionary<string, string[]> { ["container"] = ["web"] }));
        Assert.Equal("create", Next(sub.Events).Action);
        Assert.Equal("start", Next(sub.Events).Action);
        Sys.EventStream.Publish(Ev(3, "die", "bbbb2222", "db")); // not this subscriber's
        Sys.EventStream.Publish(Ev(4, "die"));
        var live = Next(sub.Events);
        Assert.Equal(("die", "aaaa1111"), (live.Action, live.Id));
        Assert.False(sub.Events.TryRead(out _));

        // Without since: live events only.
        var liveOnly = Subscribe(log, null);
        Assert.False(liveOnly.Events.TryRead(out _));
        log.Tell(Ev(5, "destroy"));
        Assert.Equal("destroy", Next(liveOnly.Events).Action);

        log.Tell(new EventLog.Unsubscribe(liveOnly.Id));
        await liveOnly.Events.Completion.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void A_slow_subscriber_is_cut_off_at_its_buffer_instead_of_growing()
    {
        var log = NewLog(new EventLogSettings(SubscriberBuffer: 2));
        var slow = Subscribe(log, null);
        var fast = Subscribe(log, null);
        for (int i = 0; i < 3; i++)
        {
            log.Tell(Ev(i, "a" + i));
            Assert.Equal("a" + i, Next(fast.Events).Action);
        }
        // What fitted is still delivered, then the stream ends with the reason.
        Assert.Equal("a0", Next(slow.Events).Action);
        Assert.Equal("a1", Next(slow.Events).Action);
        var ex = Assert.ThrowsAny<Exception>(() => slow.Events.Completion.Wait(TimeSpan.FromSeconds(10)));
        Assert.IsType<SubscriberTooSlowException>(ex.InnerException);
        log.Tell(new EventLog.GetStats());
        var stats = ExpectMsg<EventLog.Stats>();
        Assert.Equal((3, 1, 1L), (stats.Kept, stats.Subscribers, stats.Disconnected));
    }

    [Fact]
    public void The_journal_brings_the_events_back_after_a_restart_and_stays_bounded()
    {
        var dir = Path.Combine(Path.GetTempPath(), "gocker-events-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var first = NewLog(new EventLogSettings(Max: 3, JournalDir: dir));
            for (int i = 0; i < 7; i++) first.Tell(Ev(i, "a" + i));
            Assert.Equal(3, Query(first).Count); // the actor has processed all seven
            Watch(first);
            Sys.Stop(first);
            ExpectTerminated(first);
            var lines = Directory.GetFiles(dir).Sum(f => File.ReadAllLines(f).Length);
            Assert.InRange(lines, 3, 6);
            // A line torn by a crash is skipped, and the next append starts on a fresh line.
            File.AppendAllText(Path.Combine(dir, "events.log"), "{\"Type\":\"contai");

            var second = NewLog(new EventLogSettings(Max: 3, JournalDir: dir));
            var back = Query(second);
            Assert.Equal(["a4", "a5", "a6"], back.Select(e => e.Action));
            Assert.Equal(T0.AddSeconds(6), back[^1].Time);
            Assert.Equal("web", back[^1].Attributes["name"]);
            second.Tell(Ev(7, "a7"));
            Assert.Equal(["a5", "a6", "a7"], Query(second).Select(e => e.Action));
            Watch(second);
            Sys.Stop(second);
            ExpectTerminated(second);
            var third = NewLog(new EventLogSettings(Max: 3, JournalDir: dir));
            Assert.Equal(["a5", "a6", "a7"], Query(third).Select(e => e.Action));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
