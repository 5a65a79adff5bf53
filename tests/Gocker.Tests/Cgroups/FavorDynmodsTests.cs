using Gocker.Syscalls;
using Gocker.Syscalls.Cgroups;

namespace Gocker.Tests.Cgroups;

/// <summary>The cgroup2 favordynmods option: the reconfigure keeps every other option, and on the
/// real host it toggles the superblock flag without touching the mount's own flags.</summary>
[Collection(FavorDynmodsCollection.Name)]
[Trait("Needs", "root")]
public class FavorDynmodsTests
{
    const string Mountinfo = """
        22 1 0:21 / / rw,relatime - ext4 /dev/vda1 rw
        31 22 0:28 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
        40 22 0:30 / /run rw,nosuid - tmpfs tmpfs rw,mode=755
        """;

    [Fact]
    public void The_reconfigure_keeps_the_other_options_and_adds_or_drops_only_favordynmods()
    {
        var current = FavorDynmods.SuperOptions("/sys/fs/cgroup", Mountinfo);
        Assert.Equal(["rw", "nsdelegate", "memory_recursiveprot"], current);
        Assert.Equal(["nsdelegate", "memory_recursiveprot", "favordynmods"], FavorDynmods.ReconfigureFlags(current, enable: true));
        Assert.Equal(["nsdelegate", "memory_recursiveprot"], FavorDynmods.ReconfigureFlags([.. current, "favordynmods"], enable: false));
        Assert.False(FavorDynmods.IsEnabled("/sys/fs/cgroup", Mountinfo));
    }

    [Fact]
    public void Only_a_cgroup2_mount_point_is_accepted()
    {
        Assert.Contains("not cgroup2", Assert.Throws<SyscallException>(() => FavorDynmods.SuperOptions("/run", Mountinfo)).Message);
        Assert.Contains("not a mount point", Assert.Throws<SyscallException>(() => FavorDynmods.SuperOptions("/nowhere", Mountinfo)).Message);
    }

    [Fact]
    public void The_mount_is_the_v2_root_or_the_hybrid_unified_tree_and_none_on_pure_v1()
    {
        var v1 = new Dictionary<string, string> { ["memory"] = "/sys/fs/cgroup/memory" };
        Assert.Null(FavorDynmods.MountPointFor(new CgroupLayout(CgroupMode.V1, null, v1)));
        Assert.Equal("/sys/fs/cgroup/unified", FavorDynmods.MountPointFor(new CgroupLayout(CgroupMode.Hybrid, "/sys/fs/cgroup/unified", v1)));
        Assert.Equal("/sys/fs/cgroup", FavorDynmods.MountPointFor(new CgroupLayout(CgroupMode.V2, "/sys/fs/cgroup", new Dictionary<string, string>())));
    }

    [Fact]
    public void On_the_real_host_the_flag_toggles_and_nothing_else_changes()
    {
        var mp = FavorDynmods.MountPointOnThisHost();
        Assert.NotNull(mp); // the project's machines are hybrid; users' are mostly pure v2
        var before = Line(mp);
        var original = FavorDynmods.IsEnabled(mp, File.ReadAllText("/proc/self/mountinfo"));
        try
        {
            Assert.True(FavorDynmods.Set(mp, !original));
            var toggled = Line(mp);
            Assert.Equal(!original, FavorDynmods.IsEnabled(mp, File.ReadAllText("/proc/self/mountinfo")));
            // The mount's own flags (field 6) and the other superblock options are untouched.
            Assert.Equal(MountFlags(before), MountFlags(toggled));
            Assert.Equal(OtherSuperOptions(before), OtherSuperOptions(toggled));
            Assert.False(FavorDynmods.Set(mp, !original)); // already so: nothing to do
        }
        finally { FavorDynmods.Set(mp, original); }
        Assert.Equal(before, Line(mp));
    }

    static string Line(string mp) =>
        File.ReadAllLines("/proc/self/mountinfo").Last(l => l.Split(' ')[4] == mp && l.Contains(" - cgroup2 "));

    static string MountFlags(string line) => line.Split(' ')[5];

    static string[] OtherSuperOptions(string line) =>
        line.Split(" - ")[1].Split(' ')[2].Split(',').Where(o => o != "favordynmods").ToArray();
}

/// <summary>Tests that toggle the host's favordynmods flag run one after the other (each restores
/// the flag as it found it; the flag only changes timing for everyone else).</summary>
[CollectionDefinition(Name)]
[Trait("Needs", "root")]
public sealed class FavorDynmodsCollection
{
    public const string Name = "favordynmods";
}
