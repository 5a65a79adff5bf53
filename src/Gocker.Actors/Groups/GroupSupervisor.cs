using System.Globalization;
using Akka.Actor;
using Akka.Event;
using Gocker.Actors.Containers;
using Gocker.Actors.Events;
using Gocker.Actors.Restart;

namespace Gocker.Actors.Groups;

/// <summary>
/// One supervision group (OTP's supervisor, for containers). Members report their exits (not the
/// ones by hand, nor the group's own stops); the pure GroupDecider picks who restarts or whether to
/// give up, and this actor carries it out through the members' ContainerActors: stops (in reverse
/// start order, as OTP terminates children) with ContainerActor.GroupStop, then starts in start
/// order with ContainerActor.GroupRestart (the container's normal start path, counting RestartCount).
/// One exit is handled at a time (ReceiveAsync): an exit reported meanwhile by a member that has
/// already been restarted is stale and ignored.
/// </summary>
public sealed class GroupSupervisor : ReceiveActor
{
    public sealed record MemberExited(string Id, int ExitCode);
    public sealed record MemberStarted(string Id);
    public sealed record MemberRemoved(string Id);
    public sealed record GetState;
    /// <summary>To the parent after every change (it answers ls/inspect).</summary>
    public sealed record Changed(GroupState State);

    static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(30);

    readonly string _dir;
    readonly ICanTell _containers;
    readonly TimeProvider _clock;
    readonly TimeSpan _stopTimeout;
    readonly ILoggingAdapter _log = Context.GetLogger();
    GroupState _state;

    public static Props Props(GroupState state, string dir, ICanTell containers, TimeProvider clock, TimeSpan stopTimeout) =>
        Akka.Actor.Props.Create(() => new GroupSupervisor(state, dir, containers, clock, stopTimeout));

    public GroupSupervisor(GroupState state, string dir, ICanTell containers, TimeProvider clock, TimeSpan stopTimeout)
    {
        _state = state;
        _dir = dir;
        _containers = containers;
        _clock = clock;
        _stopTimeout = stopTimeout;
        Receive<GetState>(_ => Sender.Tell(_state));
        Receive<MemberStarted>(m =>
        {
            if (!_state.Members.Contains(m.Id)) Save(_state with { Members = [.. _state.Members, m.Id] });
            // A given-up group starts nothing itself: a member started now was started by hand, and
            // the user taking over again revives the group (with a fresh intensity window).
            if (_state.GivenUp)
            {
                Save(_state with { GivenUp = false, GiveUpReason = null, GaveUpAt = null, RestartLog = [] });
                Publish("group-resume", ("startedBy", m.Id));
            }
        });
        Receive<MemberRemoved>(m =>
        {
            if (_state.Members.Contains(m.Id)) Save(_state with { Members = _state.Members.Where(x => x != m.Id).ToArray() });
        });
        ReceiveAsync<MemberExited>(HandleExited);
    }

    async Task HandleExited(MemberExited m)
    {
        if (_state.GivenUp) return;
        var record = await Inspect(m.Id);
        if (record is null)
        {
            if (_state.Members.Contains(m.Id)) Save(_state with { Members = _state.Members.Where(x => x != m.Id).ToArray() });
            return;
        }
        // Stale: restarted meanwhile (by this group for an earlier exit, or by hand).
        if (record.Status is ContainerStatus.Running or ContainerStatus.Paused or ContainerStatus.Restarting) return;
        if (!_state.Members.Contains(m.Id)) _state = _state with { Members = [.. _state.Members, m.Id] };

        var now = _clock.GetUtcNow();
        switch (GroupDecider.Decide(_state.Settings, _state.Members, m.Id, _state.RestartLog, now))
        {
            case GroupDecision.GiveUp g:
                foreach (var id in _state.Members.Reverse()) await StopMember(id);
                Save(_state with { GivenUp = true, GiveUpReason = g.Reason, GaveUpAt = now, RestartLog = [] });
                Publish("group-give-up", ("failed", m.Id), ("failedName", record.Spec.Name), ("exitCode", Str(m.ExitCode)), ("reason", g.Reason));
                break;
            case GroupDecision.RestartMembers r:
                Save(_state with { RestartLog = r.RestartLog.ToArray(), Restarts = _state.Restarts + 1 });
                foreach (var id in r.Members.Where(x => x != m.Id).Reverse()) await StopMember(id);
                var restarted = new List<string>();
                foreach (var id in r.Members)
                    if (await RestartMember(id)) restarted.Add(id);
                Publish("group-restart", ("failed", m.Id), ("failedName", record.Spec.Name), ("exitCode", Str(m.ExitCode)),
                    ("restarted", string.Join(',', restarted)), ("restartCount", Str(_state.Restarts)));
                break;
        }
    }

    async Task<ContainerRecord?> Inspect(string id)
    {
        try { return await Ask(id, new ContainerActor.Inspect(), AskTimeout) as ContainerRecord; }
        catch (ContainerNotFoundException) { return null; }
        catch (Exception ex)
        {
            _log.Warning("group {0}: inspecting {1} failed: {2}", _state.Name, id, ex.Message);
            return null;
        }
    }

    /// <summary>The longest a group waits for one member's stop (its --stop-timeout may exceed the daemon's).</summary>
    static readonly TimeSpan MemberStopCap = TimeSpan.FromHours(1);

    async Task StopMember(string id)
    {
        // A member with its own --stop-timeout is stopped with it (ContainerActor.GroupStop), which may be
        // longer than the daemon's: the answer comes when it has exited, so wait for up to an hour.
        var grace = _stopTimeout > MemberStopCap ? _stopTimeout : MemberStopCap;
        try { await Ask(id, new ContainerActor.GroupStop(_stopTimeout), grace + AskTimeout); }
        catch (ContainerNotFoundException) { }
        catch (Exception ex) { _log.Warning("group {0}: stopping {1} failed: {2}", _state.Name, id, ex.Message); }
    }

    /// <summary>True when the member runs again; false when it stays down (stopped by hand, gone,
    /// or its start failed: that failure comes back as an exit report).</summary>
    async Task<bool> RestartMember(string id)
    {
        try { return await Ask(id, new ContainerActor.GroupRestart(), AskTimeout) is ContainerActor.Started; }
        catch (ContainerNotFoundException) { return false; }
        catch (Exception ex)
        {
            _log.Warning("group {0}: restarting {1} failed: {2}", _state.Name, id, ex.Message);
            return false;
        }
    }

    async Task<object> Ask(string id, object message, TimeSpan timeout)
    {
        var reply = await _containers.Ask<object>(new ContainerSupervisor.ToContainer(id, message), timeout);
        return reply is Status.Failure f ? throw f.Cause : reply;
    }

    void Save(GroupState next)
    {
        _state = next;
        try { GroupStore.Save(_dir, next); }
        catch (Exception ex) { _log.Error("group {0}: saving state failed: {1}", next.Name, ex.Message); }
        Context.Parent.Tell(new Changed(next));
    }

    void Publish(string action, params (string Key, string Value)[] extra)
    {
        var attrs = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["name"] = _state.Name,
            ["strategy"] = GroupSettings.NameOf(_state.Strategy),
        };
        foreach (var (k, v) in extra) attrs[k] = v;
        Context.System.EventStream.Publish(new GockerEvent("group", action, _state.Name, attrs, _clock.GetUtcNow()));
    }

    static string Str(int v) => v.ToString(CultureInfo.InvariantCulture);
}
