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

    /// <summary>The new record, on disk before this returns (RecordWriter.Save).</summary>
    void SetRecord(ContainerRecord next)
    {
        if (Accept(next)) _writer.Save(_record);
        Publish();
    }

    /// <summary>The new record, written behind (RecordWriter.SaveBehind): the task completes once
    /// it is on disk.</summary>
    Task SetRecordBehind(ContainerRecord next)
    {
        var written = Accept(next) ? _writer.SaveBehind(_record) : Task.CompletedTask;
        Publish();
        return written;
    }

    /// <summary>Takes the record (checking the transition); true when it is to be written.</summary>
    bool Accept(ContainerRecord next)
    {
        if (next.Status != _record.Status) ContainerStatusRules.CheckTransition(_record.Status, next.Status);
        _record = next;
        // An --rm container's exit record would be deleted a moment later: skip that write (and its
        // fsync) on the run path. If the daemon dies in between, the next one finds the process
        // gone, records the exit and removes the container all the same.
        var removedNext = next.Status == ContainerStatus.Exited && ((next.Spec.AutoRemove && !_run.StoppingForRestart) || _removal.Pending);
        // Likewise the exit record of a run the policy restarts: "restarting" is written right after.
        var restartedNext = next.Status == ContainerStatus.Exited && PlanRestart(next);
        return next.Status != ContainerStatus.Removing && !removedNext && !restartedNext;
    }

    /// <summary>The listing (`ps`) first, synchronously, then the supervisor (inspect, names).</summary>
    void Publish()
    {
        if (_removal.Done) return;
        _svc.Listing.Set(_record);
        Context.Parent.Tell(new Changed(_record));
    }
}
