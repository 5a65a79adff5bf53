using Gocker.Api;
using Gocker.Cli;
using Gocker.Cli.Commands;
using Gocker.Cli.Interactive;

namespace Gocker.Tests.Events;

public class EventParsingTests
{
    static readonly DateTimeOffset Now = new(2026, 11, 29, 6, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData("10m", 600)]
    [InlineData("1h30m", 5400)]
    [InlineData("1.5h", 5400)]
    [InlineData("90s", 90)]
    [InlineData("2h45m30s", 9930)]
    public void Durations_count_back_from_now(string text, int seconds)
    {
        Assert.True(EventTimes.TryParseCli(text, Now, out var t));
        Assert.Equal(Now.AddSeconds(-seconds), t);
    }

    [Fact]
    public void Timestamps_unix_seconds_and_wire_form_round_trip()
    {
        Assert.True(EventTimes.TryParseCli("2026-11-29T05:00:00Z", Now, out var a));
        Assert.Equal(Now.AddHours(-1), a);
        Assert.True(EventTimes.TryParseCli("2026-11-29T07:00:00+02:00", Now, out var b));
        Assert.Equal(Now.AddHours(-1), b);
        Assert.True(EventTimes.TryParseWire("1700000000.5", out var c));
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1700000000).AddMilliseconds(500), c);
        var t = Now.AddTicks(1234567);
        Assert.Equal("1795932000.123456700", EventTimes.ToWire(t));
        Assert.True(EventTimes.TryParseWire(EventTimes.ToWire(t), out var back));
        Assert.Equal(t, back);
        Assert.Equal("2026-11-29T06:00:00.123456700Z", EventTimes.Rfc3339Nano(t));
        foreach (var bad in new[] { "", "10x", "yesterday", "1.2.3", "m" })
            Assert.False(EventTimes.TryParseCli(bad, Now, out _), bad);
    }

    [Fact]
    public void The_default_line_is_dockers()
    {
        var m = new EventMessage
        {
            Type = "container", Action = "die",
            Actor = new EventActor { ID = "3f2a", Attributes = new() { ["name"] = "foo", ["image"] = "busybox", ["exitCode"] = "0" } },
            TimeNano = EventTimes.UnixNanos(Now.AddTicks(1234567)),
        };
        Assert.Equal("2026-11-29T06:00:00.123456700Z container die 3f2a (exitCode=0, image=busybox, name=foo)", EventFormat.Line(m, null, "{}"));
        Assert.Equal("die foo 0 <no value>", EventFormat.Line(m, "{{.Action}} {{.Actor.Attributes.name}} {{index .Actor.Attributes \"exitCode\"}} {{.Actor.Attributes.nope}}", "{}"));
        Assert.Equal("{\"raw\":1}", EventFormat.Line(m, "json", "{\"raw\":1}"));
        Assert.Throws<UsageException>(() => EventFormat.Validate("{{.Nope}}"));
    }

    [Fact]
    public void Filter_flags_become_the_filters_json_and_bad_ones_are_refused()
    {
        Assert.Equal("{\"container\":[\"a\",\"b\"],\"event\":[\"die\"]}", EventCommands.FiltersJson(["event=die", "container=a", "container=b"]));
        Assert.Null(EventCommands.FiltersJson([]));
        Assert.Throws<UsageException>(() => EventCommands.FiltersJson(["colour=red"]));
        Assert.Throws<UsageException>(() => EventCommands.FiltersJson(["die"]));
    }

    [Theory]
    [InlineData("ps -a", new[] { "ps", "-a" })]
    [InlineData("  run --rm busybox   echo hi  ", new[] { "run", "--rm", "busybox", "echo", "hi" })]
    [InlineData("run busybox sh -c 'echo $A; ls'", new[] { "run", "busybox", "sh", "-c", "echo $A; ls" })]
    [InlineData("run -e \"A=x \\\"y\\\"\" b", new[] { "run", "-e", "A=x \"y\"", "b" })]
    [InlineData("echo a\\ b''c # comment", new[] { "echo", "a bc" })]
    [InlineData("x ''", new[] { "x", "" })]
    [InlineData("# only a comment", new string[0])]
    public void Console_lines_split_like_a_shell(string line, string[] expected) =>
        Assert.Equal(expected, ShellWords.Split(line));

    [Theory]
    [InlineData("echo 'open")]
    [InlineData("echo \"open")]
    [InlineData("echo trailing\\")]
    public void Unterminated_quotes_are_refused(string line) =>
        Assert.Throws<FormatException>(() => ShellWords.Split(line));
}
