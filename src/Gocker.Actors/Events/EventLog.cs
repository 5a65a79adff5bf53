using System.Threading.Channels;
using Akka.Actor;
using Akka.Event;

namespace Gocker.Actors.Events;

/// <summary>Settings of the event log (gocker.events in the HOCON).</summary>
/// <param name="Max">Events kept in memory (and, with a journal, on disk: up to twice that).</param>
/// <param name="SubscriberBuffer">Live events a subscriber may fall behind before it is cut off.</param>
/// <param name="JournalDir">Where the ring is persisted; null = memory only.</param>
public sealed record EventLogSettings(int Max = 10_000, int SubscriberBuffer = 1024, string? JournalDir = null);

/// <summary>A subscriber that fell more than SubscriberBuffer events behind: its stream is closed
/// (memory stays bounded; the client can reconnect with --since).</summary>
public sealed class SubscriberTooSlowException(int buffer)
    : Exception($"event subscriber fell more than {buffer} events behind and was disconnected (reconnect with since= to resume)");

/// <summary>
/// Keeps the last Max <see cref="GockerEvent"/>s published on the EventStream, answers queries over
/// them and feeds live subscribers. Query and subscribe are handled one message at a time with the
/// events, so a subscriber's backlog and its live events meet with no gap and no duplicate.
/// </summary>
public sealed class EventLog : ReceiveActor
{
    public sealed record Query(DateTimeOffset? Since, DateTimeOffset? Until, EventFilter Filter);
    public sealed record QueryResult(IReadOnlyList<GockerEvent> Events);
    /// <summary>Past events since Since (none when null) matching Filter, then live ones.</summary>
    public sealed record Subscribe(DateTimeOffset? Since, EventFilter Filter);
    public sealed record Subscribed(long Id, ChannelReader<GockerEvent> Events);
    public sealed record Unsubscribe(long Id);
    public sealed record GetStats;
    public sealed record Stats(int Kept, int Subscribers, long Disconnected);

    sealed record Subscriber(EventFilter Filter, ChannelWriter<GockerEvent> Writer);

    readonly EventLogSettings _settings;
    readonly Queue<GockerEvent> _ring = new();
    readonly Dictionary<long, Subscriber> _subs = new();
    readonly ILoggingAdapter _log = Context.GetLogger();
    EventJournal? _journal;
    long _nextId, _disconnected;

    public static Props Props(EventLogSettings settings) => Akka.Actor.Props.Create(() => new EventLog(settings));

    public EventLog(EventLogSettings settings)
    {
        _settings = settings with { Max = Math.Max(1, settings.Max), SubscriberBuffer = Math.Max(1, settings.SubscriberBuffer) };
        Receive<GockerEvent>(Add);
        Receive<Query>(q => Sender.Tell(new QueryResult(Select(q.Since, q.Until, q.Filter))));
        Receive<Subscribe>(HandleSubscribe);
        Receive<Unsubscribe>(u => { if (_subs.Remove(u.Id, out var s)) s.Writer.TryComplete(); });
        Receive<GetStats>(_ => Sender.Tell(new Stats(_ring.Count, _subs.Count, _disconnected)));
    }

    protected override void PreStart()
    {
        if (_settings.JournalDir is { } dir)
        {
            try
            {
                _journal = new EventJournal(dir, _settings.Max);
                foreach (var e in _journal.Load()) Keep(e);
            }
            catch (Exception ex)
            {
                _log.Warning("events: journal {0} unusable, keeping events in memory only: {1}", dir, ex.Message);
                _journal?.Dispose();
                _journal = null;
            }
        }
        // Idempotent: WithGocker subscribes us already, synchronously, so no early event is missed.
        Context.System.EventStream.Subscribe(Self, typeof(GockerEvent));
    }

    protected override void PostStop()
    {
        Context.System.EventStream.Unsubscribe(Self);
        foreach (var s in _subs.Values) s.Writer.TryComplete();
        _subs.Clear();
        _journal?.Dispose();
    }

    void Keep(GockerEvent e)
    {
        _ring.Enqueue(e);
        while (_ring.Count > _settings.Max) _ring.Dequeue();
    }

    void Add(GockerEvent e)
    {
        Keep(e);
        if (_journal is not null)
        {
            try { _journal.Append(e); }
            catch (Exception ex)
            {
                _log.Warning("events: writing the journal failed, keeping events in memory only: {0}", ex.Message);
                _journal.Dispose();
                _journal = null;
            }
        }
        List<long>? slow = null;
        foreach (var (id, s) in _subs)
        {
            if (!s.Filter.Matches(e)) continue;
            if (!s.Writer.TryWrite(e)) (slow ??= []).Add(id);
        }
        if (slow is null) return;
        foreach (var id in slow)
        {
            _subs.Remove(id, out var s);
            s!.Writer.TryComplete(new SubscriberTooSlowException(_settings.SubscriberBuffer));
            _disconnected++;
            _log.Warning("events: subscriber {0} fell {1} events behind: disconnected", id, _settings.SubscriberBuffer);
        }
    }

    List<GockerEvent> Select(DateTimeOffset? since, DateTimeOffset? until, EventFilter filter) =>
        _ring.Where(e => (since is null || e.Time >= since) && (until is null || e.Time <= until) && filter.Matches(e)).ToList();

    void HandleSubscribe(Subscribe m)
    {
        var backlog = m.Since is null ? [] : Select(m.Since, null, m.Filter);
        // Room for the whole backlog (bounded by Max) plus SubscriberBuffer live events.
        var channel = Channel.CreateBounded<GockerEvent>(new BoundedChannelOptions(backlog.Count + _settings.SubscriberBuffer)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait, // TryWrite then fails instead of dropping silently
        });
        foreach (var e in backlog) channel.Writer.TryWrite(e);
        var id = ++_nextId;
        _subs[id] = new Subscriber(m.Filter, channel.Writer);
        Sender.Tell(new Subscribed(id, channel.Reader));
    }
}
