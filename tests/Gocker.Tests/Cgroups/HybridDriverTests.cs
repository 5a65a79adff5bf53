using Gocker.Syscalls;
using Gocker.Syscalls.Cgroups;

namespace Gocker.Tests.Cgroups;

public sealed class HybridDriverTests : IDisposable
{
    readonly FixtureKernel _k = new();
    public void Dispose() => _k.Dispose();

    [Fact]
    public void Limits_go_to_v1_and_placement_to_both_trees()
    {
        var m = _k.V1Layout();
        var unified = _k.V2Layout("unified", rootControllers: "hugetlb");
        var mgr = new HybridCgroupManager(m, unified, _k);
        var cg = mgr.Create("gocker", "c1", new CgroupLimits { MemoryBytes = 1 << 25, PidsMax = 9 });
        Assert.Equal(CgroupMode.Hybrid, mgr.Mode);
        Assert.Contains(Path.Combine(unified, "gocker/c1"), cg.Directories);
        Assert.Equal("33554432", FixtureKernel.ReadFile(Path.Combine(m["memory"], "gocker/c1"), "memory.limit_in_bytes"));
        Assert.Equal("9", FixtureKernel.ReadFile(Path.Combine(m["pids"], "gocker/c1"), "pids.max"));
        Assert.Equal("", FixtureKernel.ReadFile(unified, "cgroup.subtree_control")); // v2 tree untouched

        cg.AddProcess(31337);
        Assert.All(cg.Directories, d => Assert.Equal("31337", FixtureKernel.ReadFile(d, "cgroup.procs")));

        cg.Freeze(); // v1 freezer
        Assert.Equal("FROZEN", FixtureKernel.ReadFile(Path.Combine(m["freezer"], "gocker/c1"), "freezer.state"));
        cg.Thaw();
    }

    [Fact]
    public void A_failure_in_the_unified_tree_rolls_back_the_v1_directories()
    {
        var m = _k.V1Layout();
        var unified = _k.V2Layout("unified", rootControllers: "hugetlb");
        File.WriteAllText(Path.Combine(unified, "gocker"), "not a directory"); // mkdir gocker/c1 fails ENOTDIR
        var mgr = new HybridCgroupManager(m, unified, _k);
        var ex = Assert.Throws<SyscallException>(() => mgr.Create("gocker", "c1", new CgroupLimits { MemoryBytes = 1 << 25 }));
        Assert.Contains(Path.Combine(unified, "gocker/c1"), ex.Message);
        foreach (var root in m.Values.Distinct()) Assert.False(Directory.Exists(Path.Combine(root, "gocker/c1")));
    }

    [Fact]
    public void An_existing_unified_directory_blocks_create()
    {
        var m = _k.V1Layout();
        var unified = _k.V2Layout("unified", rootControllers: "hugetlb");
        Directory.CreateDirectory(Path.Combine(unified, "gocker/c1"));
        var mgr = new HybridCgroupManager(m, unified, _k);
        Assert.True(mgr.Exists("gocker", "c1"));
        Assert.Contains("already exists", Assert.Throws<SyscallException>(() => mgr.Create("gocker", "c1", CgroupLimits.None)).Message);
        Assert.False(Directory.Exists(Path.Combine(m["memory"], "gocker/c1")));
    }
}
