using Gocker.Actors.Restart;

namespace Gocker.Tests.Restarts;

public class GroupDeciderTests
{
    static readonly DateTimeOffset Now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    static readonly string[] Members = ["a", "b", "c"];

    static GroupDecision D(GroupStrategy s, string failed, int max = 3, params int[] secondsAgo) =>
        GroupDecider.Decide(new GroupSettings(s, max, TimeSpan.FromSeconds(60)), Members, failed,
            secondsAgo.Select(x => Now - TimeSpan.FromSeconds(x)).ToList(), Now);

    [Theory]
    [InlineData(GroupStrategy.OneForOne, "b", "b")]
    [InlineData(GroupStrategy.OneForAll, "b", "a,b,c")]
    [InlineData(GroupStrategy.RestForOne, "b", "b,c")]
    [InlineData(GroupStrategy.RestForOne, "a", "a,b,c")]
    [InlineData(GroupStrategy.RestForOne, "c", "c")]
    public void Strategies_pick_the_members_to_restart(GroupStrategy s, string failed, string expected) =>
        Assert.Equal(expected, string.Join(",", Assert.IsType<GroupDecision.RestartMembers>(D(s, failed)).Members));

    [Fact]
    public void Intensity_counts_only_restarts_within_the_window()
    {
        // Two restarts in the window plus this one: 3, the limit, still allowed.
        var r = Assert.IsType<GroupDecision.RestartMembers>(D(GroupStrategy.OneForOne, "a", 3, 10, 20, 61, 120));
        Assert.Equal(3, r.RestartLog.Count);
        // Three in the window plus this one: 4 > 3, give up.
        Assert.Contains("exceed", Assert.IsType<GroupDecision.GiveUp>(D(GroupStrategy.OneForOne, "a", 3, 10, 20, 30)).Reason);
    }

    [Fact]
    public void Zero_max_restarts_gives_up_at_the_first_failure() =>
        Assert.IsType<GroupDecision.GiveUp>(D(GroupStrategy.OneForAll, "c", 0));

    [Fact]
    public void An_unknown_member_is_an_error() =>
        Assert.Throws<ArgumentException>(() => D(GroupStrategy.OneForOne, "z"));

    [Theory]
    [InlineData("one-for-one", GroupStrategy.OneForOne)]
    [InlineData("one-for-all", GroupStrategy.OneForAll)]
    [InlineData("rest-for-one", GroupStrategy.RestForOne)]
    public void Strategy_names_round_trip(string name, GroupStrategy s)
    {
        Assert.Equal(s, GroupSettings.Parse(name));
        Assert.Equal(name, GroupSettings.NameOf(s));
    }
}
