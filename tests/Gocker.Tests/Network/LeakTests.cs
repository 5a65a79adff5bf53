using System.Diagnostics;
using Gocker.Network;
using Xunit.Abstractions;

namespace Gocker.Tests.Network;

[Trait("Needs", "root")]
public class LeakTests(ITestOutputHelper output)
{
    [Fact]
    public void Three_hundred_attach_detach_cycles_leak_no_veth_rule_or_ip()
    {
        using var t = new TestNetworks();
        using var ns = new TestNetns();
        var ids = new List<string>();
        var attach = new List<double>();
        var detach = new List<double>();
        var seen = new HashSet<string>();
        for (int i = 0; i < 300; i++)
        {
            var id = TestNetworks.NewId();
            ids.Add(id);
            var sw = Stopwatch.StartNew();
            var a = t.Manager.Attach(new AttachRequest(id, "c" + i, id[..12], ns.Path, null, [], t.EtcDir(id)));
            attach.Add(sw.Elapsed.TotalMilliseconds);
            Assert.True(Ipv4Cidr.Parse(t.Subnet).IsHostAddress(Ipv4Cidr.ParseAddress(a.Primary!.Ip)));
            Assert.NotEqual(t.Manager.Inspect("bridge").Network.Gateway, a.Primary.Ip);
            seen.Add(a.Primary.Ip);
            sw.Restart();
            t.Manager.Detach(id);
            detach.Add(sw.Elapsed.TotalMilliseconds);
        }
        // host-local hands out addresses round-robin: 300 cycles walk most of a /24, never the network,
        // broadcast or gateway address (checked above), and reuse only released ones.
        Assert.True(seen.Count > 200, $"{seen.Count} distinct addresses");
        Assert.Empty(Directory.GetFileSystemEntries($"/sys/class/net/{t.Bridge}/brif"));
        var rules = Sh.Ruleset();
        Assert.DoesNotContain(ids, rules.Contains);
        Assert.Empty(AttachTests.IpamAllocations(t));
        Assert.Empty(Directory.GetFiles(Path.Combine(t.StateDir, "netns")));
        Assert.Empty(Directory.GetFiles(Path.Combine(t.StateDir, "endpoints")));
        Assert.DoesNotContain("eth0", ns.Exec("ip", "-br", "link").Out);
        output.WriteLine($"attach median {Median(attach):F1} ms, detach median {Median(detach):F1} ms (300 cycles)");
    }

    [Fact]
    public void Concurrent_attaches_never_get_the_same_address()
    {
        using var t = new TestNetworks();
        var spaces = Enumerable.Range(0, 8).Select(_ => new TestNetns()).ToList();
        try
        {
            var results = new Attachment[spaces.Count];
            Parallel.For(0, spaces.Count, i =>
            {
                var id = TestNetworks.NewId();
                results[i] = t.Manager.Attach(new AttachRequest(id, "p" + i, id[..12], spaces[i].Path, null, [], t.EtcDir(id)));
            });
            Assert.Equal(spaces.Count, results.Select(r => r.Primary!.Ip).Distinct().Count());
            Assert.Equal(spaces.Count, AttachTests.IpamAllocations(t).Length);
        }
        finally { foreach (var s in spaces) s.Dispose(); }
    }

    static double Median(List<double> xs)
    {
        var s = xs.Order().ToList();
        return s[s.Count / 2];
    }
}
