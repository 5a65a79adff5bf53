using Gocker.Syscalls.Spawn;

namespace Gocker.Tests.Spawn;

[Trait("Needs", "root")]
public class VolumeTests(BusyboxImage image) : IClassFixture<BusyboxImage>, IDisposable
{
    readonly List<string> dirs = [];

    string TempDir(string prefix)
    {
        var d = Path.Combine(Path.GetTempPath(), prefix + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(d);
        dirs.Add(d);
        return d;
    }

    public void Dispose() { foreach (var d in dirs) TestDirs.Delete(d); }

    [Fact]
    public async Task Rw_volume_writes_reach_the_host_and_ro_volume_refuses_writes()
    {
        var rw = TempDir("gocker-vol-rw-");
        var ro = TempDir("gocker-vol-ro-");
        File.WriteAllText(Path.Combine(ro, "seen"), "ro content\n");
        using var c = new TestContainer(image, "sh", "-c",
            "echo hi > /data/rw/f; cat /data/ro/seen; echo x > /data/ro/new 2>/dev/null && echo WROTE || echo refused");
        c.Spec = c.Spec with { Volumes = [new VolumeMount(rw, "/data/rw", false), new VolumeMount(ro, "/data/ro", true)] };
        var r = await c.RunAsync();
        Assert.True(r.Exec.Ok, r.Exec.ToString());
        Assert.Equal("ro content\nrefused\n", r.Stdout);
        Assert.Equal("hi\n", File.ReadAllText(Path.Combine(rw, "f")));
        Assert.False(File.Exists(Path.Combine(ro, "new")));
    }

    [Fact]
    public async Task Ro_flag_stays_on_its_own_volume()
    {
        var src = TempDir("gocker-vol-outer-");
        Directory.CreateDirectory(Path.Combine(src, "sub"));
        var inner = TempDir("gocker-vol-inner-");
        // /v read-only, /v/sub a separate rw volume on top of it: writable, /v itself is not.
        using var c = new TestContainer(image, "sh", "-c",
            "touch /v/sub/x 2>/dev/null && echo sub-rw || echo sub-ro; touch /v/y 2>/dev/null && echo v-rw || echo v-ro");
        c.Spec = c.Spec with { Volumes = [new VolumeMount(src, "/v", true), new VolumeMount(inner, "/v/sub", false)] };
        var r = await c.RunAsync();
        Assert.Equal("sub-rw\nv-ro\n", r.Stdout);
        Assert.True(File.Exists(Path.Combine(inner, "x")));
        Assert.False(File.Exists(Path.Combine(src, "y")));
    }

    [Fact]
    public async Task File_volume_gets_a_file_placeholder()
    {
        var d = TempDir("gocker-vol-file-");
        var f = Path.Combine(d, "conf");
        File.WriteAllText(f, "setting=1\n");
        using var c = new TestContainer(image, "cat", "/etc/app/conf");
        c.Spec = c.Spec with { Volumes = [new VolumeMount(f, "/etc/app/conf", true)] };
        var r = await c.RunAsync();
        Assert.Equal("setting=1\n", r.Stdout);
    }

    [Theory]
    [InlineData("/")]
    [InlineData("../../../../../../..")]
    public async Task Symlink_in_the_image_cannot_redirect_a_volume_onto_the_host(string linkTarget)
    {
        // An image layer with /evil -> linkTarget; -v SRC:/evil/NAME must land in the rootfs, not on the host's /NAME.
        var layer = TempDir("gocker-evil-layer-");
        File.CreateSymbolicLink(Path.Combine(layer, "evil"), linkTarget);
        var src = TempDir("gocker-evil-src-");
        File.WriteAllText(Path.Combine(src, "payload"), "p\n");
        var name = "gocker-evil-" + Guid.NewGuid().ToString("N")[..10];
        using var c = new TestContainer(image, "cat", "/" + name + "/payload");
        c.Spec = c.Spec with
        {
            LowerDirs = [layer, image.Dir],
            Volumes = [new VolumeMount(src, "/evil/" + name, false)],
        };
        var r = await c.RunAsync();
        Assert.True(r.Exec.Ok, r.Exec.ToString());
        Assert.Equal("p\n", r.Stdout); // inside the container, /evil/NAME == /NAME: the rootfs root
        Assert.False(Directory.Exists("/" + name), "the volume's mountpoint was created on the host");
        Assert.True(Directory.Exists(Path.Combine(c.Upper, name)), "the mountpoint should be in the container's upper dir");
    }

    [Fact]
    public async Task Relative_or_root_destination_is_refused_at_the_volume_step()
    {
        var src = TempDir("gocker-vol-bad-");
        using var c = new TestContainer(image, "true");
        c.Spec = c.Spec with { Volumes = [new VolumeMount(src, "data", false)] };
        var r = await c.RunAsync();
        Assert.False(r.Exec.Ok);
        Assert.Equal("volume data", r.Exec.Step);
        Assert.Contains("absolute", r.Exec.Message);
    }

    [Fact]
    public async Task Missing_source_is_refused_naming_it()
    {
        var missing = "/nonexistent-gocker-src-" + Guid.NewGuid().ToString("N");
        using var c = new TestContainer(image, "true");
        c.Spec = c.Spec with { Volumes = [new VolumeMount(missing, "/data", false)] };
        var r = await c.RunAsync();
        Assert.False(r.Exec.Ok);
        Assert.Equal(125, r.Exec.ExitCode);
        Assert.Equal("volume /data", r.Exec.Step);
        Assert.Contains(missing, r.Exec.Message);
    }
}
