using Gocker.Syscalls.Mounts;

namespace Gocker.Tests.Spawn;

/// <summary>The overlay's `volatile` option (used for --rm containers), on the real kernel.</summary>
[Trait("Needs", "root")]
public class OverlayVolatileTests : IDisposable
{
    readonly string _dir = Path.Combine(Path.GetTempPath(), "gocker-ovl-" + Guid.NewGuid().ToString("N")[..10]);
    string Lower => Path.Combine(_dir, "lower");
    string Upper => Path.Combine(_dir, "upper");
    string Work => Path.Combine(_dir, "work");
    string Target => Path.Combine(_dir, "merged");

    public OverlayVolatileTests()
    {
        foreach (var d in new[] { Lower, Upper, Work, Target }) Directory.CreateDirectory(d);
        File.WriteAllText(Path.Combine(Lower, "from-lower"), "l\n");
    }

    public void Dispose()
    {
        Unmount();
        TestDirs.Delete(_dir);
    }

    void Unmount()
    {
        using var u = System.Diagnostics.Process.Start("umount", ["-q", Target])!;
        u.WaitForExit();
    }

    /// <summary>The superblock options of the mount at Target (field after the " - " separator).</summary>
    string? SuperOptions()
    {
        foreach (var line in File.ReadLines("/proc/self/mountinfo"))
        {
            var f = line.Split(' ');
            if (f[4] != Target) continue;
            var sep = Array.IndexOf(f, "-");
            return f[sep + 3];
        }
        return null;
    }

    /// <summary>Newer kernels show the option as fsync=volatile, older ones as volatile.</summary>
    internal static bool IsVolatile(string superOptions) =>
        superOptions.Split(',').Any(o => o is "volatile" or "fsync=volatile");

    [Fact]
    public void Options_add_volatile_only_when_asked()
    {
        Assert.EndsWith(",workdir=/w", Overlay.Options(["/l"], "/u", "/w"));
        Assert.EndsWith(",workdir=/w,volatile", Overlay.Options(["/l"], "/u", "/w", volatileUpper: true));
    }

    [Fact]
    public void A_volatile_overlay_can_be_mounted_again_on_the_same_upper_after_its_unmount()
    {
        Overlay.Mount(Target, [Lower], Upper, Work, volatileUpper: true);
        Assert.True(IsVolatile(SuperOptions()!), SuperOptions());
        File.WriteAllText(Path.Combine(Target, "written"), "w\n");
        Unmount();
        Assert.Null(SuperOptions());
        // The kernel leaves this marker and would refuse the next mount of the workdir while it exists
        // (a retry of a failed rootfs setup mounts the same upper again): Mount removes it first.
        Assert.True(Directory.Exists(Path.Combine(Work, "work", "incompat", "volatile")), "no volatile marker");

        Overlay.Mount(Target, [Lower], Upper, Work, volatileUpper: true);
        Assert.True(IsVolatile(SuperOptions()!), SuperOptions());
        Assert.Equal("w\n", File.ReadAllText(Path.Combine(Target, "written")));
        Assert.Equal("l\n", File.ReadAllText(Path.Combine(Target, "from-lower")));
    }

    [Fact]
    public void A_plain_overlay_is_not_volatile()
    {
        Overlay.Mount(Target, [Lower], Upper, Work);
        Assert.False(IsVolatile(SuperOptions()!), SuperOptions());
    }
}
