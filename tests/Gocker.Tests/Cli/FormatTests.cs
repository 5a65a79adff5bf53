using Gocker.Api;
using Gocker.Cli;
using Gocker.Cli.Commands;

namespace Gocker.Tests.Cli;

public class FormatTests
{
    [Theory]
    [InlineData(0.5, "Less than a second")]
    [InlineData(1, "1 second")]
    [InlineData(5, "5 seconds")]
    [InlineData(59, "59 seconds")]
    [InlineData(60, "About a minute")]
    [InlineData(119, "About a minute")]
    [InlineData(120, "2 minutes")]
    [InlineData(3599, "59 minutes")]
    [InlineData(3600, "About an hour")]
    [InlineData(5400, "2 hours")]
    [InlineData(47 * 3600, "47 hours")]
    [InlineData(48 * 3600, "2 days")]
    [InlineData(14 * 86400, "2 weeks")]
    [InlineData(60 * 86400, "2 months")]
    [InlineData(800 * 86400, "2 years")]
    public void Human_duration_matches_go_units(double seconds, string expected) =>
        Assert.Equal(expected, Format.HumanDuration(TimeSpan.FromSeconds(seconds)));

    [Fact]
    public void Ago_clamps_clock_skew()
    {
        var now = DateTimeOffset.FromUnixTimeSeconds(1_000_000);
        Assert.Equal("5 seconds ago", Format.Ago(999_995, now));
        Assert.Equal("Less than a second ago", Format.Ago(1_000_010, now));
    }

    [Theory]
    [InlineData(0, "0B")]
    [InlineData(999, "999B")]
    [InlineData(1000, "1kB")]
    [InlineData(1500, "1.5kB")]
    [InlineData(4_261_234, "4.26MB")]
    [InlineData(123_456_789, "123MB")]
    [InlineData(2_000_000_000, "2GB")]
    public void Human_size_matches_go_units(long bytes, string expected) => Assert.Equal(expected, Format.HumanSize(bytes));

    [Fact]
    public void Ellipsis_quote_and_short_id()
    {
        Assert.Equal("sh -c 'echo a b'", Format.Ellipsis("sh -c 'echo a b'", 20));
        Assert.Equal("sh -c 'while true; …", Format.Ellipsis("sh -c 'while true; do sleep 1; done'", 20));
        Assert.Equal(20, Format.Ellipsis(new string('x', 50), 20).Length);
        Assert.Equal("\"echo \\\"hi\\\" \\\\n\"", Format.Quote("echo \"hi\" \\n"));
        Assert.Equal("\"a\\nb\"", Format.Quote("a\nb"));
        Assert.Equal("0123456789ab", Format.ShortId("sha256:0123456789abcdef"));
        Assert.Equal("0123456789ab", Format.ShortId("0123456789abcdef"));
        Assert.Equal("abc", Format.ShortId("abc"));
    }

    [Fact]
    public void Table_pads_columns_by_three_spaces()
    {
        var w = new StringWriter();
        Format.Table(w, ["A", "BB", "C"], [["xxxx", "y", "z"], ["1", "22222", "3"]]);
        Assert.Equal("A      BB      C\nxxxx   y       z\n1      22222   3\n", w.ToString());
    }

    [Fact]
    public void Ps_row_like_docker()
    {
        var now = DateTimeOffset.FromUnixTimeSeconds(2_000_000_000);
        var c = new ContainerSummary
        {
            Id = "4f2a9c1b7e3d5a6b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b",
            Names = ["/web"],
            Image = "busybox",
            Command = "sh -c 'while true; do sleep 1; done'",
            Created = 2_000_000_000 - 5,
            State = "running",
            Status = "Up 5 seconds",
        };
        Assert.Equal(["4f2a9c1b7e3d", "busybox", "\"sh -c 'while true; …\"", "5 seconds ago", "Up 5 seconds", "", "web"],
            ContainerCommands.PsRow(c, now, noTrunc: false));
        var full = ContainerCommands.PsRow(c, now, noTrunc: true);
        Assert.Equal(c.Id, full[0]);
        Assert.Equal("\"sh -c 'while true; do sleep 1; done'\"", full[2]);
        c.Status = "";
        c.State = "exited";
        Assert.Equal("Exited", ContainerCommands.PsRow(c, now, false)[4]);
        c.Ports = [new ContainerPort { IP = "127.0.0.1", PrivatePort = 80, PublicPort = 8080, Type = "tcp" },
                   new ContainerPort { IP = "0.0.0.0", PrivatePort = 53, PublicPort = 5353, Type = "udp" }];
        Assert.Equal("127.0.0.1:8080->80/tcp, 0.0.0.0:5353->53/udp", ContainerCommands.PsRow(c, now, false)[5]);
    }
}
