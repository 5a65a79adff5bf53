using Gocker.Syscalls;
using Gocker.Syscalls.Spawn;
using Gocker.Tests.Network;

namespace Gocker.Tests.Spawn;

/// <summary>SpawnRequest.NetnsPath: the init joins a network namespace made beforehand (a pooled
/// one) instead of a new, empty one; every other namespace is still new, and lo comes up.</summary>
public class NetnsJoinTests(BusyboxImage image) : IClassFixture<BusyboxImage>
{
    [Fact]
    public async Task The_init_joins_the_given_netns_and_brings_its_lo_up()
    {
        using var ns = new TestNetns();
        Sh.Ok("ip", "netns", "exec", ns.Name, "ip", "link", "set", "lo", "down");
        Sh.Ok("ip", "netns", "exec", ns.Name, "ip", "link", "add", "pooltest0", "type", "veth", "peer", "name", "pooltest1");
        using var c = new TestContainer(image, "sh", "-c", "ls /sys/class/net; cat /sys/class/net/lo/operstate; ip -o link show lo; hostname");
        var r = await c.RunAsync(req => req with { NetnsPath = ns.Path });
        Assert.True(r.Exec.Ok, r.Exec + r.Stderr);
        Assert.Equal(0, r.Exit.ExitCode);
        Assert.Contains("pooltest0", r.Stdout);      // the namespace made beforehand
        Assert.Contains("LOOPBACK,UP", r.Stdout);    // brought up by gocker-init
        Assert.Contains(c.Spec.Hostname, r.Stdout); // UTS is still its own
        // The daemon's (here: the test's) own namespace is untouched by the spawn thread's setns.
        Assert.NotEqual(new FileInfo("/proc/self/ns/net").LinkTarget, new FileInfo(ns.Path).LinkTarget);
        Assert.False(Directory.Exists("/sys/class/net/pooltest0"));
    }

    [Fact]
    public void A_bad_netns_path_fails_the_spawn_naming_it_and_host_network_excludes_it()
    {
        using var c = new TestContainer(image, "true");
        var missing = "/tmp/no-such-netns-" + Guid.NewGuid().ToString("N")[..8];
        var ex = Assert.Throws<SyscallException>(() => c.Spawn(req => req with { NetnsPath = missing }));
        Assert.Contains(missing, ex.Message);
        // A file that is no network namespace: setns refuses it (EINVAL), nothing is spawned.
        var plain = Path.Combine(c.Dir, "plain");
        File.WriteAllText(plain, "");
        var ex2 = Assert.Throws<SyscallException>(() => c.Spawn(req => req with { NetnsPath = plain }));
        Assert.Contains("setns", ex2.Message);
        Assert.Throws<ArgumentException>(() => c.Spawn(req => req with { NetnsPath = plain, HostNetwork = true }));
    }
}
