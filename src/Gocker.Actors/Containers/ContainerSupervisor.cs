using Akka.Actor;
using Akka.Event;
using Gocker.Actors.Engine;
using Gocker.Api;
using Gocker.Images;

namespace Gocker.Actors.Containers;

/// <summary>
/// Parent of every ContainerActor (child per container, named by id). Resolves references (id,
/// unique id prefix or name), keeps the listing from the children's Changed events, and makes sure
/// one container's failure never reaches the daemon.
/// </summary>
public sealed class ContainerSupervisor : ReceiveActor, IWithUnboundedStash
{
    public IStash Stash { get; set; } = null!;
    /// <summary>Containers loaded from disk whose actors have not yet settled their real state.</summary>
    readonly HashSet<string> _settling = new(StringComparer.Ordinal);

    /// <summary>Creates a container. The image is resolved by the caller (it can take a while the
    /// first time, and must not block this actor).</summary>
    /// <param name="StartsNow">The same request starts it right away (gockerd's gockerRun/gockerStart).</param>
    public sealed record Create(ContainerCreateRequest Request, string? Name, ImageRecord Image, bool StartsNow = false);
    public sealed record CreatedContainer(string Id);
    /// <summary>Delivers Message to the container Reference resolves to (the reply comes from it).</summary>
    public sealed record ToContainer(string Reference, object Message);
    public sealed record Resolve(string Reference);
    public sealed record Resolved(string Id);
    public sealed record List(bool All);
    public sealed record Listing(IReadOnlyList<ContainerRecord> Containers);
    /// <summary>`rename`: the name is checked and moved here (one actor owns the name table), then the
    /// container records it (ContainerActor.Rename answers).</summary>
    public sealed record RenameContainer(string Reference, string NewName);

    readonly EngineServices _svc;
    readonly ILoggingAdapter _log = Context.GetLogger();
    readonly Dictionary<string, IActorRef> _children = new(StringComparer.Ordinal);
    readonly Dictionary<string, ContainerRecord> _records = new(StringComparer.Ordinal);
    readonly Dictionary<string, string> _names = new(StringComparer.Ordinal);

    public static Props Props(EngineServices svc) => Akka.Actor.Props.Create(() => new ContainerSupervisor(svc));

    public ContainerSupervisor(EngineServices svc)
    {
        _svc = svc;
        Receive<Create>(HandleCreate);
        Receive<ToContainer>(HandleToContainer);
        Receive<RenameContainer>(HandleRename);
        Receive<Resolve>(m => Answer(() => new Resolved(ResolveId(m.Reference))));
        Receive<List>(m => _settling.Count > 0, _ => Stash.Stash());
        Receive<ContainerActor.Settled>(m =>
        {
            if (_settling.Remove(m.Id) && _settling.Count == 0) Settled();
        });
        Receive<List>(m => Sender.Tell(new Listing(_svc.Listing.Snapshot(m.All))));
        Receive<ContainerActor.Changed>(m => _records[m.Record.Spec.Id] = m.Record);
        Receive<Terminated>(HandleTerminated);
        // Before Terminated, which comes after `rm` returned: `rm -f x; run --name x` must find the name free.
        Receive<ContainerActor.Removed>(HandleRemoved);
    }

    /// <summary>A bug in one ContainerActor must not take the others (or the daemon) down.</summary>
    protected override SupervisorStrategy SupervisorStrategy() =>
        new OneForOneStrategy(ex =>
        {
            _log.Error(ex, "container actor failed");
            return Directive.Resume;
        });

    protected override void PreStart()
    {
        Directory.CreateDirectory(_svc.Options.ContainersDir);
        foreach (var dir in Directory.EnumerateDirectories(_svc.Options.ContainersDir))
        {
            try { Load(dir); }
            catch (Exception ex) { _log.Error("cannot load container state from {0}: {1}", dir, ex.Message); }
        }
        // Network state of containers that are gone or stopped (a crash between an exit and its
        // DELs, or a removal cut short). Synchronous on purpose: no new container can attach
        // before it finishes, so it never detaches one that just started. Re-adopted containers
        // (running, paused) keep their endpoints.
        if (_svc.Network is { } net)
        {
            var live = _records.Values.Where(r => r.Status is ContainerStatus.Running or ContainerStatus.Paused or ContainerStatus.Restarting)
                .Select(r => r.Spec.Id).ToHashSet(StringComparer.Ordinal);
            try { net.CleanupStale(live); }
            catch (Exception ex) { _log.Error("network cleanup at start failed: {0}", ex.Message); }
        }
        // A run dir with no record left is from a container whose removal was cut short.
        if (Directory.Exists(_svc.Options.RunContainersDir))
            foreach (var dir in Directory.EnumerateDirectories(_svc.Options.RunContainersDir))
                if (!_children.ContainsKey(Path.GetFileName(dir)))
                {
                    try { Directory.Delete(dir, recursive: true); }
                    catch (Exception ex) { _log.Error("cannot remove stale run dir {0}: {1}", dir, ex.Message); }
                }
        if (_settling.Count == 0) _svc.Listing.MarkReady();
    }

    /// <summary>Loads a container known from a previous daemon run. Its actor re-adopts it if it was
    /// running (ContainerActor.HandleReadopt): a daemon restart never kills containers.</summary>
    void Load(string dir)
    {
        var record = StateStore.Load(dir);
        if (record is null)
        {
            // state.json is written last by create: without it this is a create or a removal that
            // was cut short, never a container anyone was told about.
            _log.Warning("removing {0}: no state.json (interrupted create or removal)", dir);
            Directory.Delete(dir, recursive: true);
            return;
        }
        // A record from a daemon before reserved records: rewritten with its spare now, while there
        // may be room, so its next write (an exit) cannot fail for want of space (StateStore).
        if (!record.Spec.AutoRemove && !StateStore.HasSpare(dir))
        {
            try { StateStore.Save(dir, record, reserve: true); }
            catch (IOException ex) { _log.Warning("container {0}: its record could not be given a spare: {1}", record.Spec.Id[..12], ex.Message); }
        }
        if (record.Status == ContainerStatus.Removing)
        {
            // The previous daemon died while removing it: finish the job.
            record = record with { Status = ContainerStatus.Dead };
        }
        _settling.Add(record.Spec.Id);
        // Its volumes are in use again (refused to `volume rm` and prune) before any request is served.
        _svc.Volumes.Track(record.Spec.Id, VolumeNames(record.Spec));
        StartChild(record);
    }

    /// <summary>The volumes a container mounts (by name).</summary>
    public static IEnumerable<string> VolumeNames(ContainerSpec spec) =>
        spec.Mounts.Where(m => m.Type == "volume" && m.Name is not null).Select(m => m.Name!);

    /// <summary>Each volume of the spec is created if missing and marked in use by the container (an
    /// anonymous one is named now); the spec gets their _data dirs as binds.</summary>
    ContainerSpec AcquireVolumes(ContainerSpec spec)
    {
        if (!spec.Mounts.Any(m => m.Type == "volume")) return spec;
        var mounts = new List<ContainerMount>();
        try
        {
            foreach (var m in spec.Mounts)
            {
                if (m.Type != "volume") { mounts.Add(m); continue; }
                var name = m.Name ?? Volumes.VolumeStore.NewAnonymousName();
                var labels = m.Anonymous
                    ? new Dictionary<string, string>(m.Labels ?? [], StringComparer.Ordinal) { [Volumes.VolumeStore.AnonymousLabel] = "" }
                    : m.Labels;
                // A remapped container's root owns a volume it creates (as its upper dir); with
                // --userns host the host's root does.
                var source = _svc.Volumes.Acquire(spec.Id, name, labels, spec.Userns);
                mounts.Add(m with { Name = name, Source = source });
            }
        }
        catch
        {
            _svc.Volumes.Release(spec.Id, mounts.Where(m => m.Type == "volume").Select(m => m.Name!), removeAnonymous: true);
            throw;
        }
        return spec with { Mounts = [.. mounts], Volumes = ContainerSpecFactory.BindList(mounts) };
    }

    void HandleCreate(Create m)
    {
        Answer(() =>
        {
            var name = m.Name;
            if (string.IsNullOrEmpty(name))
            {
                do name = ContainerIds.RandomName(); while (_names.ContainsKey(name));
            }
            else
            {
                name = name.TrimStart('/');
                ContainerIds.ValidateName(name);
                if (_names.TryGetValue(name, out var existing))
                    throw new ConflictException($"Conflict. The container name \"/{name}\" is already in use by container \"{existing}\". You have to remove (or rename) that container to be able to reuse that name.");
            }
            if (string.IsNullOrEmpty(m.Request.Image)) throw new BadRequestException("No image specified");
            var id = ContainerIds.New();
            var spec = ContainerSpecFactory.Build(id, name, m.Request, m.Image,
                new GockerOptionsView(_svc.Options.DefaultLimits, _svc.Network is null ? "none" : _svc.Options.DefaultNetwork, _svc.Options.RestartBackoff, _svc.Options.UsernsRemap)
                { DefaultLog = _svc.Options.Logs }, _svc.Clock.GetUtcNow());
            // Docker refuses an unknown network at create, not at start.
            if (_svc.Network is not null && spec.NetworkMode is { } net && net is not ("none" or "host")) _svc.Network.Inspect(net);
            if (spec.Group is { } group && !_svc.Groups.Exists(group))
                throw new BadRequestException($"group \"{group}\" does not exist (create it with `gocker group create {group}`)");
            spec = AcquireVolumes(spec);
            var record = new ContainerRecord { Spec = spec };
            // An --rm container started by the same request: its "created" record would be replaced a
            // moment later by the "running" one (written at start), and removed with it at exit. Not
            // writing it takes a file creation and an fsync off `run --rm`. A daemon that dies before
            // the start leaves a dir without state.json, which the next one removes (Load): the
            // container never ran and would have been removed at its exit.
            try { ContainerLayout.For(_svc.Options, id).CreateData(record, persist: !(m.StartsNow && spec.AutoRemove)); }
            catch
            {
                _svc.Volumes.Release(id, VolumeNames(spec), removeAnonymous: true);
                throw;
            }
            StartChild(record);
            Context.System.EventStream.Publish(new Events.GockerEvent("container", "create", id,
                spec.Group is { } g
                    ? new Dictionary<string, string>(StringComparer.Ordinal) { ["name"] = name, ["image"] = spec.Image, ["group"] = g }
                    : new Dictionary<string, string>(StringComparer.Ordinal) { ["name"] = name, ["image"] = spec.Image }, _svc.Clock.GetUtcNow()));
            return new CreatedContainer(id);
        });
    }

    void StartChild(ContainerRecord record)
    {
        var id = record.Spec.Id;
        var child = Context.ActorOf(ContainerActor.Props(_svc, record), id);
        Context.Watch(child);
        _children[id] = child;
        _records[id] = record;
        _svc.Listing.Set(record);
        _names[record.Spec.Name] = id;
    }

    void HandleToContainer(ToContainer m)
    {
        string id;
        try { id = ResolveId(m.Reference); }
        catch (Exception ex) { Sender.Tell(new Status.Failure(ex)); return; }
        // inspect is answered from the record the container last published (every state change
        // is published before the verb that caused it is answered, so a client never reads an
        // older state than its own last verb left). Asking the ContainerActor would queue it behind
        // that container's work in progress: a whole start (spawn, init, release) in a crash loop.
        // A container still settling after a daemon restart answers itself (its record is not yet true).
        if (m.Message is ContainerActor.Inspect && !_settling.Contains(id) && _records.TryGetValue(id, out var record))
        {
            Sender.Tell(record);
            return;
        }
        _children[id].Forward(m.Message);
    }

    void HandleRename(RenameContainer m)
    {
        string id, name;
        try
        {
            id = ResolveId(m.Reference);
            name = (m.NewName ?? "").TrimStart('/');
            if (name.Length == 0) throw new BadRequestException("Neither old nor new names may be empty");
            ContainerIds.ValidateName(name);
            var old = _records[id].Spec.Name;
            if (name == old) throw new BadRequestException("Renaming a container with the same name as its current name");
            if (_names.TryGetValue(name, out var existing))
                throw new ConflictException($"Error when allocating new name: Conflict. The container name \"/{name}\" is already in use by container \"{existing}\". You have to remove (or rename) that container to be able to reuse that name.");
            if (_names.TryGetValue(old, out var owner) && owner == id) _names.Remove(old);
            _names[name] = id;
            // The record the supervisor answers inspect from follows at once (the child's Changed confirms it).
            _records[id] = _records[id] with { Spec = _records[id].Spec with { Name = name } };
        }
        catch (Exception ex) { Sender.Tell(new Status.Failure(ex)); return; }
        _children[id].Forward(new ContainerActor.Rename(name));
    }

    string ResolveId(string reference)
    {
        if (string.IsNullOrEmpty(reference)) throw new ContainerNotFoundException(reference);
        if (_children.ContainsKey(reference)) return reference;
        if (_names.TryGetValue(reference.TrimStart('/'), out var byName)) return byName;
        var matches = _children.Keys.Where(k => k.StartsWith(reference, StringComparison.Ordinal)).Take(2).ToList();
        return matches.Count switch
        {
            1 => matches[0],
            0 => throw new ContainerNotFoundException(reference),
            _ => throw new BadRequestException($"Multiple IDs found with provided prefix: {reference}"),
        };
    }

    /// <summary>The container is gone for its clients from now on (its name free, "No such container"
    /// for its id); the child answers what was forwarded to it before this, then the PoisonPill,
    /// queued after those, stops it. Its Terminated finishes the bookkeeping.</summary>
    void HandleRemoved(ContainerActor.Removed m)
    {
        ReleaseName(m.Id);
        if (_children.Remove(m.Id, out var child)) child.Tell(PoisonPill.Instance);
    }

    void HandleTerminated(Terminated t)
    {
        var id = t.ActorRef.Path.Name;
        _children.Remove(id);
        if (_settling.Remove(id) && _settling.Count == 0) Settled();
        // The actor took itself out before answering `rm`; this covers an actor that stopped otherwise.
        _svc.Listing.Remove(id);
        ReleaseName(id);
        _records.Remove(id);
    }

    /// <summary>Frees the container's name, unless another container holds it by now.</summary>
    void ReleaseName(string id)
    {
        if (_records.TryGetValue(id, out var rec) && _names.TryGetValue(rec.Spec.Name, out var owner) && owner == id)
            _names.Remove(rec.Spec.Name);
    }

    /// <summary>Every loaded container has its real state: `ps` may read the listing directly.</summary>
    void Settled()
    {
        _svc.Listing.MarkReady();
        Stash.UnstashAll();
    }

    void Answer(Func<object> op)
    {
        try { Sender.Tell(op()); }
        catch (Exception ex) { Sender.Tell(new Status.Failure(ex)); }
    }
}
