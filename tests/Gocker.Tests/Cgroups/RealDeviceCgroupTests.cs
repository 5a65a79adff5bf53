using Gocker.Syscalls;
using Gocker.Syscalls.Cgroups;

namespace Gocker.Tests.Cgroups;

/// <summary>
/// Device control on this machine's kernel: a real shell (root, so CAP_MKNOD, as a container has)
/// placed in the cgroup opens /dev/null, creates a block node with the numbers of /dev/loop0 in
/// a temp dir (m is allowed by Docker's defaults) and tries to open it (r/w are not). The node
/// stands for the host's disk: that open is the attack the rules stop.
/// </summary>
[Trait("Needs", "root")]
public abstract class DeviceProbe : IDisposable
{
    protected readonly RealHost H;
    readonly string _tmp = Directory.CreateTempSubdirectory("gocker-devtest-").FullName;
    int _nodes;
    protected static readonly DeviceRule Loop0 = DeviceRule.ForHostDevice("/dev/loop0");

    protected DeviceProbe(ICgroupManager? manager) => H = new RealHost(manager);

    public void Dispose()
    {
        H.Dispose();
        try { Directory.Delete(_tmp, true); } catch (IOException) { }
    }

    public sealed record Result(string Output, string Node)
    {
        public bool Has(string marker) => Output.Split('\n').Contains(marker);
        public bool ReadDenied => Output.Contains($"can't open {Node}: Operation not permitted");
        public bool WriteDenied => Output.Contains($"can't create {Node}: Operation not permitted");
        public override string ToString() => Output;
    }

    /// <summary>Runs the probe in <paramref name="cg"/>: the shell waits for a line, so every
    /// step runs once it is inside the cgroup.</summary>
    protected async Task<Result> Probe(ICgroup cg)
    {
        var node = Path.Combine(_tmp, $"disk{Interlocked.Increment(ref _nodes)}");
        var script = string.Join("; ",
            "exec 2>&1", "read go",
            "echo x > /dev/null && echo null-ok",
            $"/bin/busybox mknod {node} b {Loop0.Major} {Loop0.Minor} && echo mknod-ok",
            $"( : < {node} ) && echo read-ok",
            $"( : > {node} ) && echo write-ok",
            "echo done");
        var p = H.Start($"sh -c \"{script}\"", stdin: true);
        cg.AddProcess(p.Id);
        await p.StandardInput.WriteLineAsync("go");
        await p.StandardInput.FlushAsync();
        var output = await p.StandardOutput.ReadToEndAsync();
        Assert.True(p.WaitForExit(20_000));
        var r = new Result(output, node);
        Assert.True(r.Has("done"), output);
        Assert.True(File.Exists(node) || !r.Has("mknod-ok"), output);
        return r;
    }

    /// <summary>Docker's defaults: /dev/null works, mknod works, opening the disk node does not.</summary>
    protected static void AssertDockerDefault(Result r)
    {
        Assert.True(r.Has("null-ok"), r.Output);
        Assert.True(r.Has("mknod-ok"), r.Output);
        Assert.False(r.Has("read-ok"), r.Output);
        Assert.False(r.Has("write-ok"), r.Output);
        Assert.True(r.ReadDenied, r.Output);
        Assert.True(r.WriteDenied, r.Output);
    }

    protected static CgroupLimits DockerDefaultPlus(params string[] extra) =>
        new() { Devices = [.. DeviceRules.DockerDefault, .. extra.Select(t => DeviceRule.Parse(t))] };
}

/// <summary>The v1 devices controller (this hybrid machine mounts it; the detected driver uses it).</summary>
[Trait("Needs", "root")]
public sealed class RealV1DeviceCgroupTests() : DeviceProbe(null)
{
    string DevicesDir(ICgroup cg) => Path.Combine(Mounts["devices"], cg.RelativePath);

    IReadOnlyDictionary<string, string> Mounts => H.Manager switch
    {
        HybridCgroupManager h => h.ControllerMounts,
        V1CgroupManager v1 => v1.ControllerMounts,
        _ => throw new InvalidOperationException($"this test needs the v1 devices controller; the host is {H.Manager.Mode}"),
    };

    string[] List(ICgroup cg) => File.ReadAllLines(Path.Combine(DevicesDir(cg), "devices.list"));

    [Fact]
    public async Task Docker_default_allows_null_and_mknod_but_not_opening_a_disk()
    {
        Assert.Contains("devices", Mounts.Keys);
        var cg = H.Create("default", new CgroupLimits { Devices = DeviceRules.DockerDefault, PidsMax = 20 });
        Assert.Equal(DeviceRules.DockerDefault.Select(r => r.ToV1Text()).Order(), List(cg).Order());
        AssertDockerDefault(await Probe(cg));
    }

    [Fact]
    public async Task An_extra_read_rule_opens_the_disk_for_reading_only()
    {
        var cg = H.Create("extra", DockerDefaultPlus($"b {Loop0.Major}:{Loop0.Minor} r"));
        Assert.Contains($"b {Loop0.Major}:{Loop0.Minor} r", List(cg));
        var r = await Probe(cg);
        Assert.True(r.Has("mknod-ok"), r.Output);
        Assert.True(r.Has("read-ok"), r.Output);
        Assert.True(r.WriteDenied, r.Output);
        Assert.False(r.Has("write-ok"), r.Output);
    }

    [Fact]
    public async Task Allow_all_and_no_rules_leave_every_device_open()
    {
        var all = H.Create("all", new CgroupLimits { Devices = DeviceRules.AllowAll });
        Assert.Equal(["a *:* rwm"], List(all));
        var r = await Probe(all);
        Assert.True(r.Has("read-ok") && r.Has("write-ok"), r.Output);

        var none = H.Create("none", CgroupLimits.None); // null: as the parent has it
        Assert.Equal(["a *:* rwm"], List(none));
    }

    [Fact]
    public void A_rule_the_parent_forbids_fails_create_and_leaves_nothing()
    {
        // A parent that already denies everything: the kernel refuses the child's allow rules.
        var parentDir = Path.Combine(Mounts["devices"], H.Parent);
        Directory.CreateDirectory(parentDir);
        File.WriteAllText(Path.Combine(parentDir, "devices.deny"), "a");
        var ex = Assert.Throws<SyscallException>(() => H.Manager.Create(H.Parent, "forbidden", new CgroupLimits { Devices = DeviceRules.DockerDefault }));
        Assert.Contains(Path.Combine(parentDir, "forbidden", "devices.allow"), ex.Message);
        Assert.Contains("Operation not permitted", ex.Message);
        Assert.False(H.Manager.Exists(H.Parent, "forbidden"));
    }
}

/// <summary>cgroup v2: the eBPF program, on this machine's cgroup2 tree (/sys/fs/cgroup/unified
/// here, /sys/fs/cgroup on a pure v2 host), through the v2 driver and through the hybrid driver
/// when no v1 devices controller is mounted.</summary>
[Trait("Needs", "root")]
public sealed class RealV2DeviceCgroupTests() : DeviceProbe(new V2CgroupManager(RealUnifiedTreeTests.UnifiedRoot()))
{
    [Fact]
    public async Task Docker_default_program_allows_null_and_mknod_but_not_opening_a_disk()
    {
        var cg = H.Create("default", new CgroupLimits { Devices = DeviceRules.DockerDefault });
        Assert.Equal(1, DeviceFilter.AttachedCount(cg.Directories[0]));
        AssertDockerDefault(await Probe(cg));
    }

    [Fact]
    public async Task An_extra_read_rule_opens_the_disk_for_reading_only_and_a_later_deny_wins()
    {
        var cg = H.Create("extra", DockerDefaultPlus($"b {Loop0.Major}:{Loop0.Minor} r"));
        var r = await Probe(cg);
        Assert.True(r.Has("mknod-ok") && r.Has("read-ok"), r.Output);
        Assert.True(r.WriteDenied, r.Output);

        // a deny after the defaults: /dev/null's write is taken away, its read is not
        var deny = H.Create("deny", new CgroupLimits { Devices = [.. DeviceRules.DockerDefault, DeviceRule.Parse("c 1:3 w", allow: false)] });
        var p = H.Start("sh -c \"exec 2>&1; read go; ( : > /dev/null ) && echo write-ok; ( : < /dev/null ) && echo read-ok; echo done\"", stdin: true);
        deny.AddProcess(p.Id);
        await p.StandardInput.WriteLineAsync("go");
        await p.StandardInput.FlushAsync();
        var output = await p.StandardOutput.ReadToEndAsync();
        Assert.True(p.WaitForExit(20_000));
        Assert.Contains("can't create /dev/null: Operation not permitted", output);
        Assert.DoesNotContain("write-ok", output);
        Assert.Contains("read-ok", output);
    }

    [Fact]
    public async Task Open_and_recycle_do_not_attach_again()
    {
        var cg = H.Create("reuse", new CgroupLimits { Devices = DeviceRules.DockerDefault });
        AssertDockerDefault(await Probe(cg));
        var dir = cg.Directories[0];
        Assert.True(TestWait.Until(() => cg.Processes().Count == 0));
        Assert.True(((IRecyclableCgroup)cg).TryRecycle());
        var adopted = H.Manager.Open(H.Parent, "reuse"); // re-adoption after a daemon restart
        Assert.Equal(1, DeviceFilter.AttachedCount(dir));
        AssertDockerDefault(await Probe(adopted)); // the next run keeps the rules

        var none = H.Create("none", CgroupLimits.None);
        Assert.Equal(0, DeviceFilter.AttachedCount(none.Directories[0]));
        Assert.True((await Probe(none)).Has("read-ok"));
    }

    [Fact]
    public async Task Hybrid_without_a_v1_devices_controller_uses_the_program()
    {
        if (CgroupManagerFactory.Detect() is not HybridCgroupManager host)
        {
            Assert.Equal(CgroupMode.V2, H.Manager.Mode); // pure v2: the tests above already are the production path
            return;
        }
        using var hybrid = new RealHost(new HybridCgroupManager(
            host.ControllerMounts.Where(kv => kv.Key != "devices").ToDictionary(), host.UnifiedRoot));
        var cg = hybrid.Create("hyb", new CgroupLimits { Devices = DeviceRules.DockerDefault, PidsMax = 20 });
        var unifiedDir = Path.Combine(host.UnifiedRoot, cg.RelativePath);
        Assert.Equal(1, DeviceFilter.AttachedCount(unifiedDir));
        AssertDockerDefault(await Probe(cg));
    }

    [Fact]
    public void A_program_the_verifier_rejects_reports_its_log_and_the_directory()
    {
        var cg = H.Create("bad", CgroupLimits.None);
        // exit without setting r0
        var ex = Assert.Throws<SyscallException>(() => DeviceFilter.Attach(cg.Directories[0], [new BpfInsn(0x95, 0, 0, 0, 0)]));
        Assert.Contains(cg.Directories[0], ex.Message);
        Assert.Contains("verifier log:", ex.Message);
        Assert.Contains("R0 !read_ok", ex.Message);
        Assert.Equal(0, DeviceFilter.AttachedCount(cg.Directories[0]));
    }
}
