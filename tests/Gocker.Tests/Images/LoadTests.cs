using System.Formats.Tar;
using System.Text;
using Gocker.Images;

namespace Gocker.Tests.Images;

/// <summary>Loading docker-save archives and OCI layouts into the store: layers, whiteouts, config, dedupe.</summary>
[Trait("Needs", "root")]
public class LoadTests : IDisposable
{
    readonly TempImages _t = new();
    public void Dispose() => _t.Dispose();

    static bool IsWhiteout(string path)
    {
        var info = Lstat.Of(path);
        return info.Type == "character special file";
    }

    static bool IsOpaque(string dir)
    {
        return Gocker.Images.Native.HasXattr(dir, "trusted.overlay.opaque", "y"u8);
    }

    void AssertThreeLayers(ImageRecord img)
    {
        Assert.Equal(3, img.Layers.Length);
        var (top, mid, bottom) = (img.Layers[0], img.Layers[1], img.Layers[2]);
        Assert.Equal("3", File.ReadAllText(Path.Combine(top, "top")));
        Assert.True(IsWhiteout(Path.Combine(top, "keep/a")));
        Assert.Equal("two", File.ReadAllText(Path.Combine(mid, "etc/l2")));
        Assert.True(IsWhiteout(Path.Combine(mid, "gone")));
        Assert.False(File.Exists(Path.Combine(mid, ".wh.gone")));
        Assert.True(IsOpaque(Path.Combine(mid, "opq")));
        Assert.False(File.Exists(Path.Combine(mid, "opq/.wh..wh..opq")));
        Assert.Equal("new", File.ReadAllText(Path.Combine(mid, "opq/new")));
        Assert.False(IsOpaque(Path.Combine(bottom, "opq")));
        Assert.Equal("old", File.ReadAllText(Path.Combine(bottom, "opq/old")));
        Assert.Equal("x", File.ReadAllText(Path.Combine(bottom, "gone")));
    }

    [Fact]
    public void Docker_save_archive_loads_as_three_layers_with_whiteouts_and_config()
    {
        var layers = ImageArchives.ThreeLayers();
        var config = ImageArchives.Config(layers, cmd: ["-c", "echo hi"], entrypoint: ["/bin/sh"], workdir: "/etc", env: ["A=1"], user: "1000:1000");
        var archive = ImageArchives.DockerSave(layers, config, ["three:v1"]);
        var store = _t.Store();
        var img = Assert.Single(store.LoadArchive(new MemoryStream(archive)));
        Assert.Equal("three:v1", img.Name);
        Assert.Equal("sha256:" + ImageArchives.Hex(Encoding.UTF8.GetBytes(config.ToJsonString())), img.Id);
        AssertThreeLayers(img);
        Assert.Equal(["/bin/sh"], img.Entrypoint!);
        Assert.Equal(["-c", "echo hi"], img.Cmd);
        Assert.Equal("/etc", img.WorkingDir);
        Assert.Equal("1000:1000", img.User);
        Assert.Equal(["80/tcp"], img.ExposedPorts);
        Assert.Contains("A=1", img.Env);
        Assert.Contains(img.Env, e => e.StartsWith("PATH="));
        // Layers are content-addressed by diff id.
        Assert.Equal(layers.Reverse().Select(l => Path.Combine(_t.ImagesDir, "layers", ImageArchives.Hex(l), "diff")), img.Layers);
        Assert.Equal(img.Id, store.Resolve("three:v1").Id);
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(_t.ImagesDir, "tmp")));
    }

    [Fact]
    public void Gzip_layers_and_a_gzip_archive_load()
    {
        var layers = ImageArchives.ThreeLayers();
        var archive = ImageArchives.Gzip(ImageArchives.DockerSave(layers, ImageArchives.Config(layers), ["gz:1"], gzipLayers: true));
        AssertThreeLayers(Assert.Single(_t.Store().LoadArchive(new MemoryStream(archive))));
    }

    [Fact]
    public void Oci_layout_loads_with_its_containerd_name()
    {
        var layers = ImageArchives.ThreeLayers();
        var archive = ImageArchives.Oci(layers, ImageArchives.Config(layers, cmd: ["sh"]), "oci/three:t");
        var img = Assert.Single(_t.Store().LoadArchive(new MemoryStream(archive)));
        Assert.Equal("oci/three:t", img.Name);
        AssertThreeLayers(img);
    }

    [Fact]
    public void Zstd_layers_load_decoded_in_process()
    {
        var layers = ImageArchives.ThreeLayers();
        var archive = ImageArchives.Oci(layers, ImageArchives.Config(layers), "zst:1", compress: Zstd);
        AssertThreeLayers(Assert.Single(_t.Store().LoadArchive(new MemoryStream(archive))));
    }

    [Fact]
    public void A_corrupt_zstd_layer_is_refused_and_nothing_stays()
    {
        var layers = ImageArchives.ThreeLayers();
        var archive = ImageArchives.Oci(layers, ImageArchives.Config(layers), "zst:bad", compress: d =>
        {
            var z = Zstd(d);
            z[z.Length / 2] ^= 0xff; // a flipped byte in the middle of the frame
            return z;
        });
        var store = _t.Store();
        Assert.ThrowsAny<Exception>(() => store.LoadArchive(new MemoryStream(archive)));
        Assert.Empty(store.List());
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(store.ImagesDirectory, "tmp")));
    }

    internal static byte[] Zstd(byte[] data)
    {
        using var c = new ZstdSharp.Compressor(3);
        return c.Wrap(data).ToArray();
    }

    [Fact]
    public void Shared_layers_are_stored_once_and_removed_with_the_last_image()
    {
        var layers = ImageArchives.ThreeLayers();
        var store = _t.Store();
        var a = Assert.Single(store.LoadArchive(new MemoryStream(ImageArchives.DockerSave(layers, ImageArchives.Config(layers, cmd: ["a"]), ["a:1"]))));
        var inode = Lstat.Of(a.Layers[2]).Inode;
        var b = Assert.Single(store.LoadArchive(new MemoryStream(ImageArchives.DockerSave(layers[..2], ImageArchives.Config(layers[..2], cmd: ["b"]), ["b:1"]))));
        Assert.NotEqual(a.Id, b.Id);
        Assert.Equal(inode, Lstat.Of(b.Layers[1]).Inode); // the same directory, not a second unpack
        Assert.Equal(3, Directory.GetDirectories(Path.Combine(_t.ImagesDir, "layers")).Length);
        store.Remove("a:1");
        Assert.Equal(2, Directory.GetDirectories(Path.Combine(_t.ImagesDir, "layers")).Length);
        Assert.True(Directory.Exists(b.Layers[0]));
        store.Remove("b:1");
        Assert.Empty(Directory.GetDirectories(Path.Combine(_t.ImagesDir, "layers")));
        Assert.Empty(store.List());
    }

    [Fact]
    public void Tag_untag_and_prune()
    {
        var layers = ImageArchives.ThreeLayers();
        var store = _t.Store();
        var img = Assert.Single(store.LoadArchive(new MemoryStream(ImageArchives.DockerSave(layers, ImageArchives.Config(layers), ["p:1"]))));
        store.Tag("p:1", "p:2");
        Assert.Equal(["p:1", "p:2"], store.NamesOf(img.Id).Order());
        var r = store.Delete("p:1", untagOnly: false);
        Assert.Equal(["p:1"], r.Untagged);
        Assert.Empty(r.Deleted);
        r = store.Delete("p:2", untagOnly: true);
        Assert.Empty(r.Deleted);
        var dangling = Assert.Single(store.List());
        Assert.Equal(ImageStore.DanglingName, dangling.Name);
        // In use: prune keeps it; unused: prune deletes it and its layers.
        Assert.Empty(store.Prune(new HashSet<string> { img.Id }, all: false));
        var pruned = Assert.Single(store.Prune(new HashSet<string>(), all: false));
        Assert.Equal([img.Id], pruned.Deleted);
        Assert.Empty(store.List());
        Assert.Empty(Directory.GetDirectories(Path.Combine(_t.ImagesDir, "layers")));
    }

    [Fact]
    public void Save_then_load_round_trips_with_the_same_id()
    {
        var layers = ImageArchives.ThreeLayers();
        var store = _t.Store();
        var first = Assert.Single(store.LoadArchive(new MemoryStream(ImageArchives.DockerSave(layers, ImageArchives.Config(layers, cmd: ["x"]), ["rt:1"]))));
        // The layers were made by another tool: the first save regenerates them (new diff ids, new id) ...
        var saved = new MemoryStream();
        store.Save(["rt:1"], saved);
        using var other = new TempImages();
        var second = Assert.Single(other.Store().LoadArchive(new MemoryStream(saved.ToArray())));
        Assert.Equal("rt:1", second.Name);
        AssertThreeLayers(second);
        Assert.Equal(["x"], second.Cmd);
        // ... and from then on save/load keeps the id (deterministic layer tars, config kept byte for byte).
        var again = new MemoryStream();
        other.Store().Save(["rt:1"], again);
        using var third = new TempImages();
        var last = Assert.Single(third.Store().LoadArchive(new MemoryStream(again.ToArray())));
        Assert.Equal(second.Id, last.Id);
        Assert.Equal(saved.ToArray(), again.ToArray());
        _ = first;
    }

    [Fact]
    public void Imported_images_save_as_one_layer()
    {
        var store = _t.Store();
        store.Import(new TarBuilder().Dir("d").File("d/f", "data").Stream(), "flat");
        var saved = new MemoryStream();
        store.Save(["flat"], saved);
        using var other = new TempImages();
        var img = Assert.Single(other.Store().LoadArchive(new MemoryStream(saved.ToArray())));
        Assert.Equal("flat:latest", img.Name);
        Assert.Equal("data", File.ReadAllText(Path.Combine(Assert.Single(img.Layers), "d/f")));
    }

    [Fact]
    public void A_commit_without_changes_saves_an_empty_tar_layer_that_loads_again()
    {
        var store = _t.Store();
        var flat = store.Import(new TarBuilder().Dir("d").File("d/f", "data").Stream(), "flat");
        var upper = Path.Combine(_t.Base, "upper-empty");
        Directory.CreateDirectory(upper);
        var committed = store.CommitContainer(new ContainerCommit { UpperDir = upper, BaseImageId = flat.Id, Name = "same:1" });
        Assert.Equal(2, committed.Layers.Length);
        var saved = new MemoryStream();
        store.Save(["same:1"], saved);
        // The new layer is the end-of-archive blocks alone (Docker's empty layer), not an empty file.
        var layerTars = new List<byte[]>();
        saved.Position = 0;
        using (var r = new TarReader(saved))
            while (r.GetNextEntry() is { } e)
                if (e.Name.EndsWith("/layer.tar") && e.DataStream is { } d) { var ms = new MemoryStream(); d.CopyTo(ms); layerTars.Add(ms.ToArray()); }
        Assert.Contains(layerTars, l => l.Length == 1024 && l.All(b => b == 0));
        using var other = new TempImages();
        var loaded = Assert.Single(other.Store().LoadArchive(new MemoryStream(saved.ToArray())));
        Assert.Equal("same:1", loaded.Name);
        // Content-addressed by its diff id: the well-known digest of Docker's empty layer.
        Assert.Equal(Path.Combine(other.ImagesDir, "layers", "5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef", "diff"), loaded.Layers[0]);
        Assert.Equal("data", File.ReadAllText(Path.Combine(loaded.Layers[1], "d/f")));
        Assert.Empty(Directory.EnumerateFileSystemEntries(loaded.Layers[0]));
    }

    [Fact]
    public void A_zero_byte_layer_file_loads_as_an_empty_layer()
    {
        byte[][] layers = [.. ImageArchives.ThreeLayers(), []];
        var archive = ImageArchives.DockerSave(layers, ImageArchives.Config(layers), ["zero:1"]);
        var img = Assert.Single(_t.Store().LoadArchive(new MemoryStream(archive)));
        Assert.Equal(4, img.Layers.Length);
        Assert.Empty(Directory.EnumerateFileSystemEntries(img.Layers[0]));
    }

    [Fact]
    public void Export_writes_the_merged_view()
    {
        var layers = ImageArchives.ThreeLayers();
        var img = Assert.Single(_t.Store().LoadArchive(new MemoryStream(ImageArchives.DockerSave(layers, ImageArchives.Config(layers), ["ex:1"]))));
        var ms = new MemoryStream();
        ImageStore.Export(img.Layers, ms);
        ms.Position = 0;
        var names = new Dictionary<string, string>();
        using var r = new TarReader(ms);
        while (r.GetNextEntry() is { } e)
            names[e.Name.TrimEnd('/')] = e.DataStream is { } d ? new StreamReader(d).ReadToEnd() : "";
        Assert.Equal(["etc", "etc/base", "etc/l2", "keep", "keep/b", "opq", "opq/new", "top"], names.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("new", names["opq/new"]);
    }
}
