using Gocker.Network;

namespace Gocker.Tests.Network;

/// <summary>Endpoint records are written without fsync (only a power loss can tear one, and then its
/// container is gone too): a torn record must not keep the daemon from starting.</summary>
[Trait("Needs", "root")]
public class EndpointStoreTests
{
    [Fact]
    public void A_torn_endpoint_record_is_dropped_at_start_and_its_allocation_released()
    {
        using var t = new TestNetworks();
        using var ns = new TestNetns();
        try
        {
            var id = TestNetworks.NewId();
            t.Manager.Attach(new AttachRequest(id, "torn", id[..12], ns.Path, null, [], t.EtcDir(id)));
            Assert.Single(AttachTests.IpamAllocations(t));
            var record = Path.Combine(t.StateDir, "endpoints", id + ".json");
            File.WriteAllText(record, File.ReadAllText(record)[..20]); // what a power loss may leave

            var m = t.Reopen();
            Assert.Null(m.Get(id));
            Assert.False(File.Exists(record));
            m.CleanupStale(new HashSet<string>());
            Assert.Empty(AttachTests.IpamAllocations(t));
            Assert.Empty(Directory.GetFiles(Path.Combine(t.StateDir, "netns")));
        }
        finally
        {
            Sh.Run("ip", "netns", "exec", ns.Name, "ip", "link", "del", "eth0");
            Sh.Run("ip", "link", "del", t.Bridge);
        }
    }
}
