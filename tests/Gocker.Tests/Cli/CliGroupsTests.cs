using Gocker.Cli;
using Gocker.Cli.Commands;

namespace Gocker.Tests.Cli;

public class CliGroupsTests
{
    static readonly HashSet<string> Globals = ["-H", "--host"];

    [Theory]
    [InlineData("container ls -a", "ps -a")]
    [InlineData("container list -q", "ps -q")]
    [InlineData("-H unix:///x container ps", "-H unix:///x ps")]
    [InlineData("container run --rm busybox ls -la", "run --rm busybox ls -la")]
    [InlineData("container remove -f a", "rm -f a")]
    [InlineData("container exec c echo container ls", "exec c echo container ls")]
    [InlineData("system info --format {{.ID}}", "info --format {{.ID}}")]
    [InlineData("system events --since 1m", "events --since 1m")]
    [InlineData("system df -v", "system df -v")]
    [InlineData("container inspect c", "container inspect c")]
    [InlineData("container --help", "container --help")]
    [InlineData("container", "container")]
    [InlineData("run busybox container ls", "run busybox container ls")]
    public void Group_aliases_become_the_top_level_command(string line, string expected) =>
        Assert.Equal(expected.Split(' '), CommandGroups.Rewrite(line.Split(' '), Globals));

    [Fact]
    public void Env_file_lines_are_read_as_dockers()
    {
        var lines = new[] { "\uFEFF# comment", "", "  A=1", "B= spaced value ", "C=\"q\"", "FROM_ENV", "UNSET", "D=x=y\r" };
        var env = EnvFile.Read(["f"], k => k == "FROM_ENV" ? "console" : null, _ => lines);
        Assert.Equal(["A=1", "B= spaced value ", "C=\"q\"", "FROM_ENV=console", "D=x=y"], env);
        var e = Assert.Throws<UsageException>(() => EnvFile.Read(["f"], _ => null, _ => ["OK=1", "BAD KEY=1"]));
        Assert.Equal("--env-file f, line 2: variable 'BAD KEY' contains whitespaces", e.Message);
        var missing = Assert.Throws<UsageException>(() => EnvFile.Read(["/nonexistent/env"], _ => null, File.ReadLines));
        Assert.StartsWith("--env-file /nonexistent/env:", missing.Message);
    }

    [Fact]
    public void Port_lines_sort_naturally()
    {
        var lines = new List<string> { "8080/tcp -> 0.0.0.0:1", "80/tcp -> 0.0.0.0:2", "53/udp -> 0.0.0.0:3", "443/tcp -> [::]:4" };
        lines.Sort(PortCommand.NaturalLess);
        Assert.Equal(["53/udp -> 0.0.0.0:3", "80/tcp -> 0.0.0.0:2", "443/tcp -> [::]:4", "8080/tcp -> 0.0.0.0:1"], lines);
    }
}
