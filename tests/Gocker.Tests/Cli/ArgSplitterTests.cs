using Gocker.Cli;

namespace Gocker.Tests.Cli;

public class ArgSplitterTests
{
    private static SplitArgs Split(params string[] args)
    {
        var app = new CliApp(new CliContext(new CliIO(new MemoryStream(), new MemoryStream()), _ => null, () => DateTimeOffset.UnixEpoch));
        return app.Split(args);
    }

    [Fact]
    public void Command_after_image_is_passed_through_exactly()
    {
        var s = Split("run", "busybox", "sh", "-c", "echo a b");
        Assert.Equal(["run", "busybox"], s.ParserArgs);
        Assert.Equal(["sh", "-c", "echo a b"], s.ContainerCommand);
    }

    [Fact]
    public void Options_after_image_belong_to_the_container()
    {
        var s = Split("run", "--rm", "busybox", "ls", "-la", "/", "--rm", "-e", "X=1");
        Assert.Equal(["run", "--rm", "busybox"], s.ParserArgs);
        Assert.Equal(["ls", "-la", "/", "--rm", "-e", "X=1"], s.ContainerCommand);
    }

    [Fact]
    public void Double_dash_after_image_is_part_of_the_command()
    {
        var s = Split("run", "busybox", "--", "x");
        Assert.Equal(["run", "busybox"], s.ParserArgs);
        Assert.Equal(["--", "x"], s.ContainerCommand);
    }

    [Fact]
    public void Double_dash_before_image_ends_options()
    {
        var s = Split("run", "-d", "--", "-weird-image", "echo", "hi");
        Assert.Equal(["run", "-d", "--", "-weird-image"], s.ParserArgs);
        Assert.Equal(["echo", "hi"], s.ContainerCommand);
    }

    [Fact]
    public void Value_options_consume_their_value_even_if_it_looks_like_an_image()
    {
        var s = Split("run", "--name", "web", "-e", "A=1", "-w", "/tmp", "-m", "512m", "busybox", "true");
        Assert.Equal(["run", "--name", "web", "-e", "A=1", "-w", "/tmp", "-m", "512m", "busybox"], s.ParserArgs);
        Assert.Equal(["true"], s.ContainerCommand);
    }

    [Fact]
    public void Long_options_with_equals_are_split()
    {
        var s = Split("run", "--name=web", "--env=A=b=c", "--volume=/a:/b:ro", "busybox");
        Assert.Equal(["run", "--name", "web", "--env", "A=b=c", "--volume", "/a:/b:ro", "busybox"], s.ParserArgs);
        Assert.Empty(s.ContainerCommand);
    }

    [Fact]
    public void Bundled_short_flags_are_expanded()
    {
        var s = Split("run", "-dit", "busybox", "sh");
        Assert.Equal(["run", "-d", "-i", "-t", "busybox"], s.ParserArgs);
        Assert.Equal(["sh"], s.ContainerCommand);
    }

    [Fact]
    public void Bundle_ending_in_a_value_option_takes_the_next_token()
    {
        var s = Split("run", "-de", "A=1", "busybox");
        Assert.Equal(["run", "-d", "-e", "A=1", "busybox"], s.ParserArgs);
    }

    [Fact]
    public void Short_option_with_attached_value()
    {
        Assert.Equal(["run", "-e", "A=1", "-m", "64m", "busybox"], Split("run", "-eA=1", "-m64m", "busybox").ParserArgs);
        Assert.Equal(["run", "-e", "A=1", "busybox"], Split("run", "-e=A=1", "busybox").ParserArgs);
        Assert.Equal(["run", "-i", "-e", "A=1", "busybox"], Split("run", "-ieA=1", "busybox").ParserArgs);
    }

    [Fact]
    public void Hostname_short_h_takes_a_value()
    {
        var s = Split("run", "-h", "box", "busybox", "hostname");
        Assert.Equal(["run", "-h", "box", "busybox"], s.ParserArgs);
        Assert.Equal(["hostname"], s.ContainerCommand);
    }

    [Fact]
    public void Global_host_option_before_the_command_is_skipped()
    {
        var s = Split("-H", "unix:///x.sock", "run", "busybox", "-H", "y");
        Assert.Equal(["-H", "unix:///x.sock", "run", "busybox"], s.ParserArgs);
        Assert.Equal(["-H", "y"], s.ContainerCommand);
        Assert.Equal(["--host=unix:///x", "create", "img"], Split("--host=unix:///x", "create", "img", "a").ParserArgs);
    }

    [Fact]
    public void Single_dash_is_a_positional()
    {
        var s = Split("run", "-", "x");
        Assert.Equal(["run", "-"], s.ParserArgs);
        Assert.Equal(["x"], s.ContainerCommand);
    }

    [Fact]
    public void Missing_image_leaves_everything_to_the_parser()
    {
        var s = Split("run", "--rm", "--name");
        Assert.Equal(["run", "--rm", "--name"], s.ParserArgs);
        Assert.Empty(s.ContainerCommand);
    }

    [Fact]
    public void Other_commands_are_not_split()
    {
        string[] args = ["ps", "-a", "x", "-q"];
        var s = Split(args);
        Assert.Equal(args, s.ParserArgs);
        Assert.Empty(s.ContainerCommand);
        // "run" as an argument of another command is not a run.
        Assert.Equal(["rm", "run", "x"], Split("rm", "run", "x").ParserArgs);
    }

    [Fact]
    public void Unknown_options_before_image_are_refused()
    {
        Assert.Equal("unknown flag: --bogus", Assert.Throws<UsageException>(() => Split("run", "--bogus", "busybox")).Message);
        Assert.Equal("unknown flag: --bogus", Assert.Throws<UsageException>(() => Split("run", "--bogus=1", "busybox")).Message);
        Assert.Equal("unknown shorthand flag: 'x' in -ix", Assert.Throws<UsageException>(() => Split("create", "-ix", "busybox")).Message);
        // After IMAGE anything goes.
        Assert.Equal(["--bogus"], Split("run", "busybox", "--bogus").ContainerCommand);
    }

    [Fact]
    public void Help_is_known()
    {
        Assert.Equal(["run", "--help"], Split("run", "--help").ParserArgs);
    }
}
