using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Configuration;
using Akka.Dispatch;
using Akka.Event;

namespace Gocker.Actors.Engine;

/// <summary>
/// Akka's scheduler on the runtime's own timer queue: one <see cref="Timer"/> per scheduled item, so
/// nothing runs while nothing is due.
///
/// Why not Akka's default (HashedWheelTimerScheduler): its wheel ticks every `tick-duration` (10 ms)
/// forever once the first item was ever scheduled (the first container's kill timer is enough), and
/// each tick wakes a thread-pool worker that then spins in the pool's semaphore before it sleeps.
/// An idle gockerd with no containers cost 6-7% of a core and ~12,000 context switches a second
/// (issue #22, bench/idle-bench.sh). The runtime's timer queue sleeps until the earliest due timer,
/// and a disposed timer costs nothing. Akka ships no other production scheduler; this one is small
/// because the timer queue does the work (ordering, one native wait, per-core queues).
///
/// Semantics kept from Akka's: a cancelled item never runs (checked again at fire time, since a
/// timer may already be queued when it is cancelled); a repeating item that throws is logged and
/// stops; after the scheduler is disposed (actor system shut down) nothing runs.
/// </summary>
public sealed class TimerQueueScheduler : SchedulerBase, IDateTimeOffsetNowTimeProvider, IDisposable
{
    // Live items, so that Dispose can stop them: a timer that fires after the actor system is gone
    // would Tell into a terminated system.
    readonly ConcurrentDictionary<Item, byte> _live = new();
    volatile bool _disposed;

    public TimerQueueScheduler(Config scheduler, ILoggingAdapter log) : base(scheduler, log) { }

    protected override DateTimeOffset TimeNow => DateTimeOffset.Now;
    static readonly long Origin = System.Diagnostics.Stopwatch.GetTimestamp();
    public override TimeSpan MonotonicClock => System.Diagnostics.Stopwatch.GetElapsedTime(Origin);
    public override TimeSpan HighResMonotonicClock => MonotonicClock;

    /// <summary>Items scheduled and not yet finished or cancelled (for tests and the idle bench).</summary>
    public int Pending => _live.Count;

    protected override void InternalScheduleTellOnce(TimeSpan delay, ICanTell receiver, object message, IActorRef sender, ICancelable cancelable) =>
        Schedule(delay, Timeout.InfiniteTimeSpan, new Tell(receiver, message, sender), cancelable);

    protected override void InternalScheduleTellRepeatedly(TimeSpan initialDelay, TimeSpan interval, ICanTell receiver, object message, IActorRef sender, ICancelable cancelable) =>
        Schedule(initialDelay, interval, new Tell(receiver, message, sender), cancelable);

    protected override void InternalScheduleOnce(TimeSpan delay, Action action, ICancelable cancelable) =>
        Schedule(delay, Timeout.InfiniteTimeSpan, new Invoke(action), cancelable);

    protected override void InternalScheduleRepeatedly(TimeSpan initialDelay, TimeSpan interval, Action action, ICancelable cancelable) =>
        Schedule(initialDelay, interval, new Invoke(action), cancelable);

    protected override void InternalScheduleOnce(TimeSpan delay, IRunnable action, ICancelable cancelable) =>
        Schedule(delay, Timeout.InfiniteTimeSpan, action, cancelable);

    protected override void InternalScheduleRepeatedly(TimeSpan initialDelay, TimeSpan interval, IRunnable action, ICancelable cancelable) =>
        Schedule(initialDelay, interval, action, cancelable);

    void Schedule(TimeSpan delay, TimeSpan interval, IRunnable work, ICancelable? cancelable)
    {
        if (_disposed) throw new SchedulerException("cannot enqueue after timer shutdown");
        var item = new Item(this, work, cancelable, interval);
        _live[item] = 0;
        item.Arm(delay < TimeSpan.Zero ? TimeSpan.Zero : delay);
    }

    public void Dispose()
    {
        _disposed = true;
        foreach (var item in _live.Keys) item.Stop();
        _live.Clear();
    }

    sealed class Item
    {
        readonly TimerQueueScheduler _owner;
        readonly IRunnable _work;
        readonly ICancelable? _cancelable;
        readonly TimeSpan _interval;
        readonly Timer _timer;
        CancellationTokenRegistration _onCancel;
        int _stopped;

        public Item(TimerQueueScheduler owner, IRunnable work, ICancelable? cancelable, TimeSpan interval)
        {
            _owner = owner; _work = work; _cancelable = cancelable; _interval = interval;
            // Not started yet: Arm starts it once the cancellation hook is in place.
            _timer = new Timer(static s => ((Item)s!).Fire(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }

        public void Arm(TimeSpan delay)
        {
            // Cancelled items go at once rather than when they would have fired: actors cancel most of
            // their timers (a kill timeout when the process exits in time), and 1,000 containers'
            // pending timers must not pile up.
            if (_cancelable is not null)
                _onCancel = _cancelable.Token.Register(static s => ((Item)s!).Stop(), this);
            if (Volatile.Read(ref _stopped) == 0) _timer.Change(delay, _interval);
        }

        void Fire()
        {
            if (Volatile.Read(ref _stopped) != 0 || _owner._disposed) return;
            if (_cancelable is { IsCancellationRequested: true }) { Stop(); return; }
            try { _work.Run(); }
            catch (Exception ex)
            {
                _owner.Log.Error(ex, "Error while executing scheduled task {0}", _work);
                Stop();
                return;
            }
            if (_interval == Timeout.InfiniteTimeSpan) Stop();
        }

        public void Stop()
        {
            if (Interlocked.Exchange(ref _stopped, 1) != 0) return;
            _timer.Dispose();
            _onCancel.Dispose();
            _owner._live.TryRemove(this, out _);
        }
    }

    sealed record Tell(ICanTell Receiver, object Message, IActorRef Sender) : IRunnable
    {
        public void Run() => Receiver.Tell(Message, Sender);
        public void Execute() => Run();
        public override string ToString() => $"[{Receiver}.Tell({Message}, {Sender})]";
    }

    sealed record Invoke(Action Action) : IRunnable
    {
        public void Run() => Action();
        public void Execute() => Run();
    }
}
