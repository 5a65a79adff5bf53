using Akka.Actor;
using Akka.Event;
using Gocker.Actors.Containers;
using Gocker.Actors.Events;
using Gocker.Actors.Restart;

namespace Gocker.Actors.Groups;

/// <summary>
/// Owns the supervision groups: one GroupSupervisor child per group, loaded from DataRoot/groups at
/// daemon start. It hears members on the EventStream (their "start"/"destroy" events carry the group
/// attribute; ContainerActor.GroupMemberExited reports an exit) and routes them to their group.
/// Answers create, ls, inspect and rm for the API.
/// </summary>
public sealed class GroupsManager : ReceiveActor
{
    public sealed record Create(string Name, string? Strategy, int MaxRestarts, TimeSpan Within);
    public sealed record List;
    public sealed record Listing(IReadOnlyList<GroupState> Groups);
    public sealed record Get(string Name);
    public sealed record Remove(string Name);
    public sealed record Removed(string Name);

    readonly string _dir;
    readonly GroupDirectory _directory;
    readonly ICanTell _containers;
    readonly TimeProvider _clock;
    readonly TimeSpan _stopTimeout;
    readonly ILoggingAdapter _log = Context.GetLogger();
    readonly Dictionary<string, IActorRef> _children = new(StringComparer.Ordinal);
    readonly Dictionary<string, GroupState> _states = new(StringComparer.Ordinal);

    public static Props Props(string dir, GroupDirectory directory, ICanTell containers, TimeProvider clock, TimeSpan stopTimeout) =>
        Akka.Actor.Props.Create(() => new GroupsManager(dir, directory, containers, clock, stopTimeout));

    public GroupsManager(string dir, GroupDirectory directory, ICanTell containers, TimeProvider clock, TimeSpan stopTimeout)
    {
        _dir = dir;
        _directory = directory;
        _containers = containers;
        _clock = clock;
        _stopTimeout = stopTimeout;
        Receive<Create>(HandleCreate);
        Receive<List>(_ => Sender.Tell(new Listing(_states.Values.OrderBy(s => s.Created).ToList())));
        Receive<Get>(m =>
        {
            if (_states.TryGetValue(m.Name, out var s)) Sender.Tell(s);
            else Sender.Tell(new Status.Failure(new GroupNotFoundException(m.Name)));
        });
        ReceiveAsync<Remove>(HandleRemove);
        Receive<GroupSupervisor.Changed>(m => { if (_children.ContainsKey(m.State.Name)) _states[m.State.Name] = m.State; });
        Receive<ContainerActor.GroupMemberExited>(m => Route(m.Group, new GroupSupervisor.MemberExited(m.Id, m.ExitCode)));
        Receive<GockerEvent>(HandleEvent);
    }

    /// <summary>A bug in one group must not take the others down.</summary>
    protected override SupervisorStrategy SupervisorStrategy() =>
        new OneForOneStrategy(ex =>
        {
            _log.Error(ex, "group supervisor failed");
            return Directive.Resume;
        });

    protected override void PreStart()
    {
        Directory.CreateDirectory(_dir);
        foreach (var path in Directory.EnumerateFiles(_dir, "*.json"))
        {
            try { StartChild(GroupStore.Load(path)); }
            catch (Exception ex) { _log.Error("cannot load group state from {0}: {1}", path, ex.Message); }
        }
    }

    void HandleCreate(Create m)
    {
        try
        {
            GroupStore.ValidateName(m.Name);
            var strategy = string.IsNullOrEmpty(m.Strategy) ? GroupStrategy.OneForOne
                : GroupSettings.Parse(m.Strategy) ?? throw new BadRequestException($"invalid strategy \"{m.Strategy}\": use one-for-one, one-for-all or rest-for-one");
            if (m.MaxRestarts < 0) throw new BadRequestException($"invalid max restarts {m.MaxRestarts}: must be 0 or more");
            if (m.Within <= TimeSpan.Zero) throw new BadRequestException($"invalid window {m.Within}: must be positive");
            if (_children.ContainsKey(m.Name)) throw new ConflictException($"group \"{m.Name}\" already exists");
            var state = new GroupState
            {
                Name = m.Name, Strategy = strategy, MaxRestarts = m.MaxRestarts, Within = m.Within, Created = _clock.GetUtcNow(),
            };
            GroupStore.Save(_dir, state);
            StartChild(state);
            Publish(state, "create");
            Sender.Tell(state);
        }
        catch (Exception ex) { Sender.Tell(new Status.Failure(ex)); }
    }

    /// <summary>Refused while containers name the group (Docker's rule for networks in use). The
    /// name leaves the directory first, so a create racing this removal is refused, not orphaned.</summary>
    async Task HandleRemove(Remove m)
    {
        var sender = Sender;
        if (!_children.TryGetValue(m.Name, out var child))
        {
            sender.Tell(new Status.Failure(new GroupNotFoundException(m.Name)));
            return;
        }
        _directory.Remove(m.Name);
        try
        {
            var listing = await _containers.Ask<ContainerSupervisor.Listing>(new ContainerSupervisor.List(true), TimeSpan.FromSeconds(30));
            var members = listing.Containers.Where(r => r.Spec.Group == m.Name).Select(r => r.Spec.Name).ToList();
            if (members.Count > 0)
            {
                _directory.Add(m.Name);
                sender.Tell(new Status.Failure(new ConflictException(
                    $"error while removing group {m.Name}: group has member containers ({string.Join(", ", members)}): remove them first")));
                return;
            }
            Context.Stop(child);
            _children.Remove(m.Name);
            _states.Remove(m.Name, out var state);
            GroupStore.Delete(_dir, m.Name);
            if (state is not null) Publish(state, "destroy");
            sender.Tell(new Removed(m.Name));
        }
        catch (Exception ex)
        {
            if (_children.ContainsKey(m.Name)) _directory.Add(m.Name);
            sender.Tell(new Status.Failure(ex));
        }
    }

    void HandleEvent(GockerEvent e)
    {
        if (e.Type != "container" || !e.Attributes.TryGetValue("group", out var group)) return;
        switch (e.Action)
        {
            case "start": Route(group, new GroupSupervisor.MemberStarted(e.Id)); break;
            case "destroy": Route(group, new GroupSupervisor.MemberRemoved(e.Id)); break;
        }
    }

    void Route(string group, object message)
    {
        if (_children.TryGetValue(group, out var child)) child.Tell(message);
        else _log.Warning("message for unknown group {0}: {1}", group, message.GetType().Name);
    }

    void StartChild(GroupState state)
    {
        var child = Context.ActorOf(GroupSupervisor.Props(state, _dir, _containers, _clock, _stopTimeout), state.Name);
        _children[state.Name] = child;
        _states[state.Name] = state;
        _directory.Add(state.Name);
    }

    void Publish(GroupState s, string action) =>
        Context.System.EventStream.Publish(new GockerEvent("group", action, s.Name,
            new Dictionary<string, string>(StringComparer.Ordinal) { ["name"] = s.Name, ["strategy"] = GroupSettings.NameOf(s.Strategy) },
            _clock.GetUtcNow()));
}
