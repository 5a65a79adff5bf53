namespace Gocker.Actors.Restart;

/// <summary>OTP's strategies for a supervision group of containers.</summary>
public enum GroupStrategy { OneForOne, OneForAll, RestForOne }

/// <summary>A group's restart intensity: more than MaxRestarts restarts within Within and the
/// group gives up (stops its members), as an OTP supervisor does.</summary>
public sealed record GroupSettings(GroupStrategy Strategy, int MaxRestarts, TimeSpan Within)
{
    public static string NameOf(GroupStrategy s) => s switch
    {
        GroupStrategy.OneForAll => "one-for-all",
        GroupStrategy.RestForOne => "rest-for-one",
        _ => "one-for-one",
    };

    public static GroupStrategy? Parse(string? name) => name switch
    {
        "one-for-one" => GroupStrategy.OneForOne,
        "one-for-all" => GroupStrategy.OneForAll,
        "rest-for-one" => GroupStrategy.RestForOne,
        _ => null,
    };
}

public abstract record GroupDecision
{
    /// <summary>Restart these members (ids, in their start order). Stop the running ones among them
    /// first (all but the failed one).</summary>
    public sealed record RestartMembers(IReadOnlyList<string> Members, IReadOnlyList<DateTimeOffset> RestartLog) : GroupDecision;
    /// <summary>The intensity limit is exceeded: stop every member and give up.</summary>
    public sealed record GiveUp(string Reason) : GroupDecision;
}

/// <summary>
/// The group supervisor's decision as a pure function (the groundwork for issue 4's supervision
/// groups; the GroupSupervisor actor that carries it out is not written yet). Members are given in
/// their start order; the restart log holds the times of the group's earlier restarts.
/// </summary>
public static class GroupDecider
{
    public static GroupDecision Decide(GroupSettings g, IReadOnlyList<string> membersInStartOrder, string failed,
        IReadOnlyList<DateTimeOffset> restartLog, DateTimeOffset now)
    {
        var index = -1;
        for (var i = 0; i < membersInStartOrder.Count; i++)
            if (membersInStartOrder[i] == failed) { index = i; break; }
        if (index < 0) throw new ArgumentException($"{failed} is not a member of the group", nameof(failed));
        // OTP's intensity: keep the restarts inside the window, count this one.
        var recent = restartLog.Where(t => now - t < g.Within).Append(now).ToList();
        if (recent.Count > g.MaxRestarts)
            return new GroupDecision.GiveUp($"{recent.Count} restarts within {g.Within.TotalSeconds:0.###}s exceed the limit of {g.MaxRestarts}");
        IReadOnlyList<string> members = g.Strategy switch
        {
            GroupStrategy.OneForAll => membersInStartOrder.ToList(),
            GroupStrategy.RestForOne => membersInStartOrder.Skip(index).ToList(),
            _ => [failed],
        };
        return new GroupDecision.RestartMembers(members, recent);
    }
}
