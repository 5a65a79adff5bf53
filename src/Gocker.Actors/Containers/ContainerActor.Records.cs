using Akka.Actor;
using Akka.Event;
using Gocker.Actors.Engine;
using Gocker.Actors.Events;

namespace Gocker.Actors.Containers;

public sealed partial class ContainerActor
{
    /// <summary>The container's record writer: reserved records (a preallocated spare, see
    /// StateStore) for all but --rm containers, and its failures reported as container events
    /// ("state-write-failed" / "state-write-resumed", with the record's path and the state).</summary>
    static RecordWriter NewRecordWriter(EngineServices svc, ContainerRecord record, ContainerLayout layout, ILoggingAdapter log)
    {
        var system = Context.System;
        var (id, name, image, clock) = (record.Spec.Id, record.Spec.Name, record.Spec.Image, svc.Clock);
        // Called on a thread-pool thread: publishes straight to the event stream (thread-safe).
        RecordWriter.Reporter report = (action, attrs) =>
        {
            var all = new Dictionary<string, string>(StringComparer.Ordinal) { ["name"] = name, ["image"] = image };
            foreach (var (k, v) in attrs) all[k] = v;
            system.EventStream.Publish(new GockerEvent("container", action, id, all, clock.GetUtcNow()));
        };
        return new RecordWriter(layout.DataDir, log, id, reserve: !record.Spec.AutoRemove, report);
    }
}

public sealed partial class ContainerActor
{
    /// <summary>
    /// Log timestamps across a daemon outage, recorded honestly rather than invented: while no daemon
    /// runs, the keeper holds the container's pipes (or terminal) but does not read them, so what the
    /// container writes meanwhile is read, and time-stamped, at re-adoption. The gap is recorded as
    /// a "log-gap" event (and a warning in the daemon's log) with its bounds: <c>since</c>, when the
    /// last chunk before the outage was logged (or the run's start), and <c>until</c>, now; every
    /// line the container wrote during the outage was written within them, and those read now
    /// (<c>pendingBytes</c>, what waited in the pipes) carry the time of <c>until</c>.
    /// Time-stamping at the source would need the keeper to read and spool the pipes, a reader per
    /// container outside the daemon: a cost on every start for an event (a daemon restart) that is
    /// rare; see docs/ARCHITECTURE.md "Log timestamps across a daemon outage".
    /// </summary>
    void ReportLogGap(DateTimeOffset since, long? pendingBytes)
    {
        var until = _svc.Clock.GetUtcNow();
        if (since > until) since = until;
        string Stamp(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", System.Globalization.CultureInfo.InvariantCulture);
        var attrs = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["name"] = _record.Spec.Name, ["image"] = _record.Spec.Image, ["since"] = Stamp(since), ["until"] = Stamp(until),
        };
        if (pendingBytes is { } n) attrs["pendingBytes"] = n.ToString(System.Globalization.CultureInfo.InvariantCulture);
        _log.Warning("container {0}: no daemon read its output from {1} to {2}: what it wrote meanwhile{3} is logged with the time of {2}",
            Id[..12], attrs["since"], attrs["until"], pendingBytes is { } p ? $" ({p} bytes waiting in its pipes)" : "");
        Context.System.EventStream.Publish(new GockerEvent("container", "log-gap", Id, attrs, until));
    }

    /// <summary>The gap's lower bound: when the log's newest chunk was logged, or the run's start if
    /// later. Read before the pipes are copied again (the backlog's chunks would move it).</summary>
    DateTimeOffset LogGapSince()
    {
        var lastNanos = OpenLog().LastNanos;
        var since = lastNanos > 0 ? DateTimeOffset.UnixEpoch.AddTicks(lastNanos / 100) : DateTimeOffset.MinValue;
        return _record.StartedAt is { } started && started > since ? started : since;
    }
}
