using Gocker.Syscalls;
using Gocker.Syscalls.Spawn;
using Gocker.Tests.Network;

namespace Gocker.Tests.Spawn;

/// <summary>SpawnRequest.NetnsPath: the init joins a network namespace made beforehand (a pooled
/// one) instead of a new, empty one; every other namespace is still new, and lo comes up.</summary>
[Trait("Needs", "root")]
public class NetnsJoinTests(BusyboxImage image) : IClassFixture<BusyboxImage>
{
    /// <summary>The spawner under test (ZygoteNetnsJoinTests: a zygote joins the netns at its claim).</summary>
    protected virtual ISpawner Spawner => TestContainer.Spawner;

    [Fact]
    public async Task The_init_joins_the_given_netns_and_brings_its_lo_up()
    {
        using var ns = new TestNetns();
        Sh.Ok("ip", "netns", "exec", ns.Name, "ip", "link", "set", "lo", "down");
        Sh.Ok("ip", "netns", "exec", ns.Name, "ip", "link", "add", "pooltest0", "type", "veth", "peer", "name", "pooltest1");
        using var c = new TestContainer(image, "sh", "-c", "ls /sys/class/net; cat /sys/class/net/lo/operstate; ip -o link show lo; hostname") { With = Spawner };
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
        using var c = new TestContainer(image, "true") { With = Spawner };
        var missing = "/tmp/no-such-netns-" + Guid.NewGuid().ToString("N")[..8];
        var ex = Assert.Throws<SyscallException>(() => c.Spawn(req => req with { NetnsPath = missing }));
        Assert.Contains(missing, ex.Message);
        // A file that is no network namespace: refused (setns EINVAL, or the zygote pool's nsfs check), nothing is spawned.
        var plain = Path.Combine(c.Dir, "plain");
        File.WriteAllText(plain, "");
        var ex2 = Assert.Throws<SyscallException>(() => c.Spawn(req => req with { NetnsPath = plain }));
        Assert.Contains("setns", ex2.Message);
        Assert.Throws<ArgumentException>(() => c.Spawn(req => req with { NetnsPath = plain, HostNetwork = true }));
    }
}

/// <summary>NetnsJoinTests through a zygote pool: the claim carries the netns, the zygote joins it.</summary>
[Trait("Needs", "root")]
public sealed class ZygoteNetnsJoinTests : NetnsJoinTests, IDisposable
{
    readonly ZygoteSpawner _pool;
    readonly BusyboxImage _image;

    public ZygoteNetnsJoinTests(BusyboxImage image) : base(image)
    {
        _image = image;
        _pool = new ZygoteSpawner(TestContainer.Spawner, InitBinary.Path, size: 1);
        ZygoteSpawnTests.WaitReady(_pool, 1);
    }

    protected override ISpawner Spawner => _pool;

    [Fact]
    public async Task A_pooled_netns_start_is_served_by_a_zygote()
    {
        using var ns = new TestNetns();
        Sh.Ok("ip", "netns", "exec", ns.Name, "ip", "link", "add", "zygtest0", "type", "veth", "peer", "name", "zygtest1");
        var zygote = Assert.Single(_pool.ReadyPids());
        using var c = new TestContainer(_image, "ls", "/sys/class/net") { With = _pool };
        var r = await c.RunAsync(req => req with { NetnsPath = ns.Path });
        Assert.True(r.Exec.Ok, r.Exec + r.Stderr);
        Assert.Equal(1, _pool.Claims);
        Assert.Equal(0, _pool.Fallbacks);
        Assert.Contains("zygtest0", r.Stdout);
        Assert.DoesNotContain(zygote, _pool.ReadyPids());
    }

    public void Dispose() => _pool.Dispose();
}
