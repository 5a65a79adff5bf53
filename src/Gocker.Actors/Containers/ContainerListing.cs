using System.Collections.Concurrent;

namespace Gocker.Actors.Containers;

/// <summary>
/// The records behind `ps` (GET /containers/json), read without a message: each ContainerActor
/// writes its record here synchronously whenever it publishes one, before it answers the verb
/// that changed it, and takes it out before it answers `rm`; the supervisor adds a container before
/// it answers its create. So a `ps` sees every container whose `run -d` returned and none whose
/// `rm` returned, and never waits in the supervisor's mailbox behind a restart storm's traffic.
/// </summary>
public sealed class ContainerListing
{
    readonly ConcurrentDictionary<string, ContainerRecord> _records = new(StringComparer.Ordinal);
    volatile bool _ready;

    /// <summary>False while containers loaded from disk have not settled their real state after a
    /// daemon restart: then `ps` asks the supervisor (which waits for them) instead.</summary>
    public bool Ready => _ready;

    internal void MarkReady() => _ready = true;
    internal void Set(ContainerRecord record) => _records[record.Spec.Id] = record;
    internal void Remove(string id) => _records.TryRemove(id, out _);

    /// <summary>The containers (all, or only running, paused and restarting ones), newest first,
    /// as the supervisor's List answers.</summary>
    public IReadOnlyList<ContainerRecord> Snapshot(bool all) =>
        _records.Values
            .Where(r => all || r.Status is ContainerStatus.Running or ContainerStatus.Paused or ContainerStatus.Restarting)
            .OrderByDescending(r => r.Spec.Created).ToList();
}
