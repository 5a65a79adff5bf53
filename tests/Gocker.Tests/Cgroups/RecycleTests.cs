using Gocker.Syscalls.Cgroups;

namespace Gocker.Tests.Cgroups;

/// <summary>IRecyclableCgroup on this machine's kernel: a cgroup is handed to a container's next run
/// only when it is empty, not frozen, and has no OOM kill counted.</summary>
[Trait("Needs", "root")]
public sealed class RecycleTests : IDisposable
{
    readonly RealHost _h = new();
    public void Dispose() => _h.Dispose();

    [Fact]
    public void A_cgroup_with_a_process_is_not_recycled_and_an_empty_one_is()
    {
        var cg = _h.Create("busy", CgroupLimits.None);
        var p = _h.Start("sleep 30");
        cg.AddProcess(p.Id);
        Assert.False(((IRecyclableCgroup)cg).TryRecycle());
        Assert.Contains(p.Id, cg.Processes());   // left alone: the caller removes (and kills) it
        p.Kill();
        p.WaitForExit();
        Assert.True(TestWait.Until(() => cg.Processes().Count == 0), "process still listed");
        Assert.True(((IRecyclableCgroup)cg).TryRecycle());
        // Still usable: the next run's init is placed in it.
        var q = _h.Start("sleep 30");
        cg.AddProcess(q.Id);
        Assert.Contains(q.Id, cg.Processes());
        q.Kill();
        q.WaitForExit();
    }

    [Fact]
    public void A_frozen_cgroup_is_thawed_for_the_next_run()
    {
        var cg = _h.Create("frozen", CgroupLimits.None);
        cg.Freeze();
        Assert.True(((IRecyclableCgroup)cg).TryRecycle());
        var p = _h.Start("sleep 30");
        cg.AddProcess(p.Id);
        // A thawed cgroup lets it run: sleeping (S), never stuck in the freezer (D on v1, or frozen on v2).
        Assert.True(TestWait.Until(() => RealHost.ProcState(p.Id).StartsWith('S')), RealHost.ProcState(p.Id));
        if (cg is HybridCgroup h && h.V1.HasFreezer)
            Assert.Equal("THAWED", File.ReadAllText(Path.Combine(h.V1.Directories.First(d => d.Contains("/freezer/")), "freezer.state")).Trim());
        p.Kill();
        p.WaitForExit();
    }

    [Fact]
    public void A_cgroup_that_counted_an_oom_kill_is_not_recycled()
    {
        var cg = _h.Create("oom", new CgroupLimits { MemoryBytes = 32 << 20 });
        Assert.True(((IRecyclableCgroup)cg).TryRecycle());
        var p = _h.Start("sh -c \"read go; exec /bin/busybox dd if=/dev/zero of=/dev/null bs=200M count=1\"", stdin: true);
        cg.AddProcess(p.Id);
        p.StandardInput.WriteLine("go");
        p.StandardInput.Flush();
        Assert.True(p.WaitForExit(20_000));
        Assert.Equal(137, p.ExitCode);
        Assert.True(TestWait.Until(() => cg.OomKillCount() > 0), "oom_kill counter stayed 0");
        Assert.True(TestWait.Until(() => cg.Processes().Count == 0), "process still listed");
        // Its counter would charge this kill to the next run: never reused.
        Assert.False(((IRecyclableCgroup)cg).TryRecycle());
    }
}
