using System.Text;
using Gocker.Cli;

namespace Gocker.Tests.Cli;

public class DetachKeysTests
{
    [Theory]
    [InlineData("ctrl-p,ctrl-q", new byte[] { 16, 17 })]
    [InlineData("ctrl-a", new byte[] { 1 })]
    [InlineData("a,b,ctrl-Z", new byte[] { (byte)'a', (byte)'b', 26 })]
    [InlineData("ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_", new byte[] { 0, 27, 28, 29, 30, 31 })]
    public void Docker_syntax_parses(string spec, byte[] expected) => Assert.Equal(expected, DetachKeys.Parse(spec));

    [Theory]
    [InlineData("")]
    [InlineData("ctrl-")]
    [InlineData("ctrl-1")]
    [InlineData("shift-a")]
    [InlineData("ab")]
    public void Bad_sequences_are_refused(string spec)
    {
        var e = Assert.Throws<UsageException>(() => DetachKeys.Parse(spec));
        Assert.Contains("Invalid detach keys", e.Message);
    }

    [Fact]
    public void Held_back_prefix_is_forwarded_when_the_sequence_breaks()
    {
        var m = new DetachKeyMatcher(DetachKeys.Parse(DetachKeys.Default));
        var (fwd, detach) = m.Feed("ab\u0010"u8);
        Assert.Equal("ab", Encoding.ASCII.GetString(fwd));
        Assert.False(detach);
        (fwd, detach) = m.Feed("c"u8);
        Assert.Equal("\u0010c", Encoding.ASCII.GetString(fwd));
        Assert.False(detach);
        (fwd, detach) = m.Feed("\u0010\u0010\u0011rest"u8); // P P Q: the first P is input
        Assert.Equal("\u0010", Encoding.ASCII.GetString(fwd));
        Assert.True(detach);
    }

    [Fact]
    public void A_sequence_split_across_reads_detaches()
    {
        var m = new DetachKeyMatcher(DetachKeys.Parse("ctrl-p,ctrl-q"));
        Assert.False(m.Feed("x\u0010"u8).Detach);
        var (fwd, detach) = m.Feed("\u0011"u8);
        Assert.Empty(fwd);
        Assert.True(detach);
    }
}
