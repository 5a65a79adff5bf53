using Gocker.Images;

namespace Gocker.Tests.Images;

public class ImageReferenceTests : IDisposable
{
    readonly TempImages _t = new();
    public void Dispose() => _t.Dispose();

    [Theory]
    [InlineData("busybox", "busybox:latest")]
    [InlineData("busybox:latest", "busybox:latest")]
    [InlineData("my-img_x.y:Tag_1.0-rc", "my-img_x.y:Tag_1.0-rc")]
    [InlineData("library/ubuntu:22.04", "library/ubuntu:22.04")]
    [InlineData("a__b/c---d", "a__b/c---d:latest")]
    [InlineData("0abc", "0abc:latest")]
    [InlineData("docker.io/library/busybox:1.36", "busybox:1.36")]
    [InlineData("docker.io/library/busybox", "busybox:latest")]
    [InlineData("index.docker.io/user/app:v2", "user/app:v2")]
    [InlineData("docker.io/library/a/b", "library/a/b:latest")]
    [InlineData("quay.io/org/app:1", "quay.io/org/app:1")]
    public void Valid_names_normalise_to_name_and_tag(string reference, string expected) =>
        Assert.Equal(expected, ImageReference.Normalize(reference));

    [Theory]
    [InlineData("")]
    [InlineData("Busybox")]
    [InlineData("-x")]
    [InlineData(".x")]
    [InlineData("a..b")]
    [InlineData("a___b")]
    [InlineData("a//b")]
    [InlineData("/a")]
    [InlineData("a/")]
    [InlineData("a:")]
    [InlineData("a:-tag")]
    [InlineData("a:.tag")]
    [InlineData("a:b:c")]
    [InlineData("a b")]
    [InlineData("a@sha256:0123")]
    [InlineData("../x")]
    public void Invalid_names_are_refused_naming_them(string reference)
    {
        var ex = Assert.Throws<InvalidImageNameException>(() => ImageReference.Normalize(reference));
        Assert.Equal(reference, ex.Reference);
        Assert.Contains($"\"{reference}\"", ex.Message);
    }

    [Fact]
    public void Tags_longer_than_128_are_refused()
    {
        Assert.Equal("a:" + new string('t', 128), ImageReference.Normalize("a:" + new string('t', 128)));
        Assert.Throws<InvalidImageNameException>(() => ImageReference.Normalize("a:" + new string('t', 129)));
    }

    [Fact]
    public void Resolve_of_an_unknown_name_throws_not_found_naming_it()
    {
        var ex = Assert.Throws<ImageNotFoundException>(() => _t.Store().Resolve("nosuch:v2"));
        Assert.Equal("nosuch:v2", ex.Reference);
        Assert.StartsWith("No such image: nosuch:v2", ex.Message);
        Assert.Throws<ImageNotFoundException>(() => _t.Store().Resolve("abcdef12")); // id-like, matches nothing
    }

    [Fact]
    public void Resolve_of_a_bad_name_throws_invalid_name()
    {
        var ex = Assert.Throws<InvalidImageNameException>(() => _t.Store().Resolve("NoSuch"));
        Assert.Contains("\"NoSuch\"", ex.Message);
    }

    [Fact]
    public void Id_prefixes_need_four_hex_digits_and_must_be_unique()
    {
        var store = _t.Store();
        // Two images whose ids share a prefix: forge their directories (ids are content hashes).
        foreach (var hex in new[] { "abcd" + new string('1', 60), "abcd" + new string('2', 60) })
        {
            var dir = Path.Combine(_t.ImagesDir, hex);
            Directory.CreateDirectory(Path.Combine(dir, "rootfs"));
            File.WriteAllText(Path.Combine(dir, "image.json"), $"{{\"Id\":\"sha256:{hex}\"}}");
        }
        Assert.Throws<AmbiguousImageReferenceException>(() => store.Resolve("abcd"));
        Assert.Equal("sha256:abcd" + new string('2', 60), store.Resolve("sha256:abcd2").Id);
        Assert.Equal(ImageStore.DanglingName, store.Resolve("abcd1").Name);
        Assert.Throws<ImageNotFoundException>(() => store.Resolve("abc")); // a valid name, too short for an id
    }
}

public class StoreStartupTests : IDisposable
{
    readonly TempImages _t = new();
    public void Dispose() => _t.Dispose();

    [Fact]
    public void Work_dirs_of_dead_processes_are_removed_at_startup_and_live_ones_kept()
    {
        var tmp = Path.Combine(_t.ImagesDir, "tmp");
        var dead = Path.Combine(tmp, "2147483646-crashed"); // above any pid_max: no such process
        var mine = Path.Combine(tmp, $"{Environment.ProcessId}-busy");
        Directory.CreateDirectory(Path.Combine(dead, "rootfs/bin"));
        File.CreateSymbolicLink(Path.Combine(dead, "rootfs/bin/host"), _t.Outside);
        File.WriteAllText(Path.Combine(_t.Outside, "keep"), "k");
        Directory.CreateDirectory(mine);

        _t.Store();

        Assert.False(Directory.Exists(dead));
        Assert.True(Directory.Exists(mine));
        Assert.True(File.Exists(Path.Combine(_t.Outside, "keep")));
    }
}
