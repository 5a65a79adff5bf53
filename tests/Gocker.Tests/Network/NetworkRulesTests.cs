using Gocker.Network;

namespace Gocker.Tests.Network;

/// <summary>The parsing of iptables -S lines that NetworkRules compares against its own rules.</summary>
[Trait("Needs", "root")]
public sealed class NetworkRulesTests
{
    [Fact]
    public void Words_unquote_comments_with_spaces_and_escaped_quotes()
    {
        Assert.Equal(["-A", "POSTROUTING", "-s", "10.1.2.0/24", "!", "-o", "gt0", "-m", "comment", "--comment", "gocker-net gt0", "-j", "MASQUERADE"],
            NetworkRules.Words("-A POSTROUTING -s 10.1.2.0/24 ! -o gt0 -m comment --comment \"gocker-net gt0\" -j MASQUERADE"));
        // portmap's comments hold quotes, escaped by iptables -S.
        Assert.Equal(["-A", "X", "--comment", "dnat name: \"n\" id: \"1\"", "-j", "Y"],
            NetworkRules.Words("-A X --comment \"dnat name: \\\"n\\\" id: \\\"1\\\"\" -j Y"));
        Assert.Equal(["a", "", "b"], NetworkRules.Words("a \"\" b"));
    }
}
