using Akka.Actor;
using Akka.Configuration;
using Akka.Event;
using Gocker.Actors.Engine;
using Xunit;

namespace Gocker.Tests.Actors;

/// <summary>The scheduler gockerd runs Akka on (issue #22): Akka's semantics, and nothing left pending.</summary>
public sealed class TimerQueueSchedulerTests : IDisposable
{
    static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    readonly TimerQueueScheduler _s = new(ConfigurationFactory.Empty, NoLogger.Instance);
    IActionScheduler Actions => _s;

    public void Dispose() => _s.Dispose();

    static void Until(Func<bool> cond, string what)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (!cond()) { if (DateTime.UtcNow > deadline) Assert.Fail("timed out waiting for " + what); Thread.Sleep(5); }
    }

    [Fact]
    public void Once_runs_once_and_is_then_gone()
    {
        var runs = 0;
        Actions.ScheduleOnce(TimeSpan.FromMilliseconds(20), () => Interlocked.Increment(ref runs));
        Until(() => runs == 1, "the item to run");
        Until(() => _s.Pending == 0, "the item to go");
        Thread.Sleep(100);
        Assert.Equal(1, runs);
    }

    [Fact]
    public void A_cancelled_item_never_runs_and_goes_at_once()
    {
        var runs = 0;
        var c = new Cancelable((IScheduler)_s);
        Actions.ScheduleOnce(TimeSpan.FromSeconds(30), () => Interlocked.Increment(ref runs), c);
        Assert.Equal(1, _s.Pending);
        c.Cancel();
        // Gone now, not when it would have fired: a container's cancelled kill timer must not linger.
        Assert.Equal(0, _s.Pending);
        Assert.Equal(0, runs);
    }

    [Fact]
    public void A_repeating_item_repeats_until_cancelled()
    {
        var runs = 0;
        var c = new Cancelable((IScheduler)_s);
        Actions.ScheduleRepeatedly(TimeSpan.Zero, TimeSpan.FromMilliseconds(10), () => Interlocked.Increment(ref runs), c);
        Until(() => runs >= 3, "three runs");
        c.Cancel();
        var after = Volatile.Read(ref runs);
        Thread.Sleep(100);
        Assert.InRange(runs, after, after + 1); // one may already have been on its way
        Assert.Equal(0, _s.Pending);
    }

    [Fact]
    public void A_repeating_item_that_throws_stops()
    {
        var runs = 0;
        Actions.ScheduleRepeatedly(TimeSpan.Zero, TimeSpan.FromMilliseconds(10), () => { Interlocked.Increment(ref runs); throw new InvalidOperationException("boom"); });
        Until(() => _s.Pending == 0, "the failed item to go");
        Thread.Sleep(100);
        Assert.Equal(1, runs);
    }

    [Fact]
    public void Nothing_runs_after_dispose_and_new_work_is_refused()
    {
        var runs = 0;
        Actions.ScheduleOnce(TimeSpan.FromMilliseconds(50), () => Interlocked.Increment(ref runs));
        _s.Dispose();
        Assert.Equal(0, _s.Pending);
        Thread.Sleep(150);
        Assert.Equal(0, runs);
        Assert.Throws<SchedulerException>(() => Actions.ScheduleOnce(TimeSpan.Zero, () => { }));
    }

    [Fact]
    public async Task An_actor_system_configured_as_gockerd_is_uses_it_for_actor_timers()
    {
        var config = ConfigurationFactory.ParseString(GockerHostingExtensions.DefaultHocon);
        using var system = ActorSystem.Create("timers", config);
        var scheduler = Assert.IsType<TimerQueueScheduler>(system.Scheduler);
        var probe = system.ActorOf(Props.Create(() => new Echo()));
        var reply = await probe.Ask<string>("go", Wait);
        Assert.Equal("tick", reply);
        Until(() => scheduler.Pending == 0, "the actor's timer to go");
        await system.Terminate().WaitAsync(Wait);
    }

    sealed class Echo : ReceiveActor, IWithTimers
    {
        public ITimerScheduler Timers { get; set; } = null!;
        IActorRef? _asker;
        public Echo()
        {
            Receive<string>(s => s == "go", _ => { _asker = Sender; Timers.StartSingleTimer("t", "tick", TimeSpan.FromMilliseconds(20)); });
            Receive<string>(s => s == "tick", s => _asker!.Tell(s));
        }
    }
}
