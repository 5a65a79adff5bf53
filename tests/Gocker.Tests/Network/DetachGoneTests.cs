using System.Diagnostics;
using Gocker.Network;
using Gocker.Network.Cni;

namespace Gocker.Tests.Network;

/// <summary>Detach after the container is gone (the exit path): the pin is dropped first and the
/// kernel deletes the veth pair with the namespace; Detach returns only once the host end is gone,
/// also when something else still holds the namespace.</summary>
[Trait("Needs", "root")]
public class DetachGoneTests
{
    /// <summary>A network namespace held only by one process, as a container's is by its init.</summary>
    sealed class ProcessNetns : IDisposable
    {
        public Process Proc { get; }
        public string Path => $"/proc/{Proc.Id}/ns/net";

        public ProcessNetns()
        {
            Proc = Process.Start(new ProcessStartInfo("unshare", ["--net", "/bin/busybox", "sleep", "1000"]))!;
            // The raw link text ("net:[INODE]") names the namespace.
            var own = new FileInfo("/proc/self/ns/net").LinkTarget;
            for (int i = 0; i < 400; i++)
            {
                try
                {
                    // unshare(1) makes the namespace, then execs busybox in place (same process).
                    if (new FileInfo(Path).LinkTarget is { } mine && mine.StartsWith("net:[") && mine != own)
                        return;
                }
                catch (IOException) { }
                Thread.Sleep(5);
            }
            throw new InvalidOperationException("unshare --net did not come up");
        }

        public void Exit()
        {
            Proc.Kill();
            Proc.WaitForExit();
        }

        public void Dispose()
        {
            try { if (!Proc.HasExited) Exit(); } catch { }
            Proc.Dispose();
        }
    }

    static List<string> Members(string bridge) =>
        Directory.Exists($"/sys/class/net/{bridge}/brif")
            ? Directory.GetFileSystemEntries($"/sys/class/net/{bridge}/brif").Select(p => System.IO.Path.GetFileName(p)!).ToList()
            : [];

    static void AssertNothingLeft(TestNetworks t, string hostVeth)
    {
        Assert.False(Directory.Exists("/sys/class/net/" + hostVeth), $"{hostVeth} is still there");
        Assert.Empty(Members(t.Bridge));
        Assert.Empty(AttachTests.IpamAllocations(t));
        Assert.Empty(Directory.GetFiles(System.IO.Path.Combine(t.StateDir, "netns")));
        Assert.Empty(Directory.GetFiles(System.IO.Path.Combine(t.StateDir, "endpoints")));
    }

    [Fact]
    public void After_the_last_process_exits_detach_returns_once_the_kernel_deleted_the_veth()
    {
        using var t = new TestNetworks();
        try
        {
            for (int i = 0; i < 5; i++)
            {
                using var c = new ProcessNetns();
                var id = TestNetworks.NewId();
                var a = t.Manager.Attach(new AttachRequest(id, "gone" + i, id[..12], c.Path, null, [], t.EtcDir(id)));
                Assert.NotNull(a.Primary);
                var veth = Assert.Single(Members(t.Bridge));
                c.Exit();
                // The pin still holds the namespace: the exit alone deletes nothing.
                Assert.True(Directory.Exists("/sys/class/net/" + veth));
                var sw = Stopwatch.StartNew();
                t.Manager.Detach(id, containerGone: true);
                AssertNothingLeft(t, veth);
                // Far below the grace after which the host end is deleted by hand: the kernel did it.
                Assert.True(sw.Elapsed < VethReaper.KernelGrace, $"detach took {sw.Elapsed.TotalMilliseconds:F0} ms");
            }
        }
        finally { Sh.Run("ip", "link", "del", t.Bridge); }
    }

    [Fact]
    public void A_namespace_still_held_elsewhere_loses_its_veth_anyway()
    {
        using var t = new TestNetworks();
        using var ns = new TestNetns(); // `ip netns add` keeps it alive after the pin is dropped
        try
        {
            var id = TestNetworks.NewId();
            t.Manager.Attach(new AttachRequest(id, "held", id[..12], ns.Path, null, [], t.EtcDir(id)));
            var veth = Assert.Single(Members(t.Bridge));
            t.Manager.Detach(id, containerGone: true);
            AssertNothingLeft(t, veth);
            Assert.DoesNotContain("eth0", ns.Exec("ip", "-br", "link").Out);
            t.Manager.Detach(id, containerGone: true); // idempotent
        }
        finally { Sh.Run("ip", "link", "del", t.Bridge); }
    }

    [Fact]
    public void Host_veths_are_read_from_the_add_result()
    {
        const string result = """
            {"cniVersion":"1.0.0","interfaces":[{"name":"gk0","mac":"aa"},{"name":"veth1234abcd","mac":"bb"},
             {"name":"eth0","mac":"cc","sandbox":"/x/netns/c1"}],"ips":[{"address":"10.1.0.2/24","interface":2}]}
            """;
        Assert.Equal(["veth1234abcd"], CniResultDevices.HostVeths(result, "gk0"));
        Assert.Empty(CniResultDevices.HostVeths(null, "gk0"));
        Assert.Empty(CniResultDevices.HostVeths("not json", "gk0"));
        Assert.True(VethReaper.IsDeviceName("veth1234abcd"));
        Assert.False(VethReaper.IsDeviceName("../../etc"));
        Assert.False(VethReaper.IsDeviceName(".."));
        Assert.False(VethReaper.IsDeviceName("averyveryverylongname"));
    }
}
