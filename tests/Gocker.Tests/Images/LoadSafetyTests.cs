using System.Formats.Tar;
using System.Text;
using Gocker.Images;

namespace Gocker.Tests.Images;

/// <summary>Every unsafe or broken image archive is refused with a message naming the problem, and leaves
/// nothing behind: no image, no layer, no work dir, nothing outside the store.</summary>
[Trait("Needs", "root")]
public class LoadSafetyTests : IDisposable
{
    readonly TempImages _t = new();
    public void Dispose() => _t.Dispose();

    static string[] Tree(string dir) =>
        Directory.GetFileSystemEntries(dir, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();

    UnsafeArchiveException Refused(byte[] archive, string expected, ImageStoreOptions? options = null)
    {
        var store = _t.Store(options);
        var good = ImageArchives.ThreeLayers();
        store.LoadArchive(new MemoryStream(ImageArchives.DockerSave(good, ImageArchives.Config(good), ["base:1"])));
        var canary = Path.Combine(_t.Outside, "canary");
        File.WriteAllText(canary, "alive");
        var before = Tree(_t.ImagesDir);
        var index = File.ReadAllBytes(Path.Combine(_t.ImagesDir, "repositories.json"));

        var ex = Assert.Throws<UnsafeArchiveException>(() => store.LoadArchive(new MemoryStream(archive)));
        Assert.Contains(expected, ex.Message);

        Assert.Equal(before, Tree(_t.ImagesDir));
        Assert.Equal(index, File.ReadAllBytes(Path.Combine(_t.ImagesDir, "repositories.json")));
        Assert.Equal([canary], Directory.GetFileSystemEntries(_t.Outside));
        Assert.Equal("alive", File.ReadAllText(canary));
        Assert.Throws<ImageNotFoundException>(() => store.Resolve("victim:1"));
        return ex;
    }

    byte[] WithLayer(byte[] bad) => ImageArchives.DockerSave([ImageArchives.ThreeLayers()[0], bad],
        ImageArchives.Config([ImageArchives.ThreeLayers()[0], bad]), ["victim:1"]);

    [Theory]
    [InlineData("../x", "path escapes the root")]
    [InlineData("a/../../x", "path escapes the root")]
    [InlineData("/etc/x", "path escapes the root (absolute name)")]
    public void Layer_entries_escaping_the_root_are_refused(string name, string message) =>
        Refused(WithLayer(new TarBuilder().File("ok", "1").File(name, "evil").Bytes()), message);

    [Fact]
    public void Layer_writing_through_a_symlink_is_refused() =>
        Refused(WithLayer(new TarBuilder().Symlink("a", _t.Outside).File("a/pwned", "evil").Bytes()), "parent a is a symlink");

    [Fact]
    public void Layer_symlink_climbing_out_is_refused() =>
        Refused(WithLayer(new TarBuilder().Dir("d").Symlink("d/up", "../../outside").Bytes()), "escapes the root");

    [Fact]
    public void Layer_hardlink_to_a_host_file_is_refused() =>
        Refused(WithLayer(new TarBuilder().Hardlink("h", "/etc/passwd").Bytes()), "is not an entry unpacked before it");

    [Fact]
    public void Layer_hardlink_climbing_out_is_refused() =>
        Refused(WithLayer(new TarBuilder().File("f", "1").Hardlink("h", "../../f").Bytes()), "escapes the root");

    [Fact]
    public void Layer_device_nodes_are_refused_by_default() =>
        Refused(WithLayer(new TarBuilder().Node(TarEntryType.BlockDevice, "sda", 8, 0).Bytes()), "block device node 8:0 not allowed");

    [Fact]
    public void Whiteout_of_dot_dot_is_refused() =>
        Refused(WithLayer(new TarBuilder().Dir("d").File("d/.wh...", "").Bytes()), "whiteout of . or ..");

    [Fact]
    public void A_layer_whose_content_does_not_match_its_diff_id_is_refused()
    {
        var layers = ImageArchives.ThreeLayers();
        var tampered = new TarBuilder().File("top", "evil").Bytes();
        var archive = ImageArchives.DockerSave(layers, ImageArchives.Config(layers), ["victim:1"], storedLayers: [layers[0], layers[1], tampered]);
        Refused(archive, "digest mismatch: expected sha256:" + ImageArchives.Hex(layers[2]));
    }

    [Fact]
    public void An_oci_blob_whose_content_does_not_match_its_name_is_refused()
    {
        var layers = ImageArchives.ThreeLayers();
        var good = ImageArchives.Oci(layers, ImageArchives.Config(layers), "victim:1");
        // Rewrite the archive with one layer blob's content swapped (same name, same length).
        var layerHex = ImageArchives.Hex(ImageArchives.Gzip(layers[2]));
        var ms = new MemoryStream();
        using (var w = new TarWriter(ms, TarEntryFormat.Pax, leaveOpen: true))
        using (var r = new TarReader(new MemoryStream(good)))
            while (r.GetNextEntry(copyData: true) is { } e)
            {
                if (e.Name == "blobs/sha256/" + layerHex)
                    e.DataStream = new MemoryStream(ImageArchives.Gzip(new TarBuilder().File("top", "evil").Bytes()));
                w.WriteEntry(e);
            }
        Refused(ms.ToArray(), $"layer blobs/sha256/{layerHex}: digest mismatch");
    }

    [Fact]
    public void A_config_whose_content_does_not_match_its_name_is_refused()
    {
        var layers = ImageArchives.ThreeLayers();
        var archive = ImageArchives.DockerSave(layers, ImageArchives.Config(layers), ["victim:1"]);
        var ms = new MemoryStream();
        using (var w = new TarWriter(ms, TarEntryFormat.Pax, leaveOpen: true))
        using (var r = new TarReader(new MemoryStream(archive)))
            while (r.GetNextEntry(copyData: true) is { } e)
            {
                if (e.Name.EndsWith(".json") && e.Name != "manifest.json")
                    e.DataStream = new MemoryStream(Encoding.UTF8.GetBytes(ImageArchives.Config(layers, cmd: ["evil"]).ToJsonString()));
                w.WriteEntry(e);
            }
        Assert.StartsWith("config ", Refused(ms.ToArray(), ".json: digest mismatch").Message);
    }

    [Fact]
    public void A_truncated_archive_is_refused()
    {
        var layers = ImageArchives.ThreeLayers();
        var archive = ImageArchives.DockerSave(layers, ImageArchives.Config(layers), ["victim:1"]);
        Refused(archive[..(archive.Length / 2 + 100)], "truncated");
    }

    [Fact]
    public void An_archive_over_the_size_limit_is_refused()
    {
        var layers = ImageArchives.ThreeLayers();
        var big = new TarBuilder().File("big", new byte[256 * 1024]).Bytes();
        var archive = ImageArchives.DockerSave([layers[0], big], ImageArchives.Config([layers[0], big]), ["victim:1"]);
        Refused(archive, "larger than the limit", new ImageStoreOptions { MaxArchiveBytes = 200 * 1024 });
    }

    [Fact]
    public void Unpacked_content_over_the_limit_is_refused()
    {
        // A gzip bomb in miniature: small compressed, large unpacked.
        var layers = ImageArchives.ThreeLayers();
        var big = new TarBuilder().File("big", new byte[2 << 20]).Bytes();
        var archive = ImageArchives.DockerSave([layers[0], big], ImageArchives.Config([layers[0], big]), ["victim:1"], gzipLayers: true);
        Refused(archive, "exceeds the limit", new ImageStoreOptions { MaxUnpackedBytes = 1 << 20 });
    }

    [Fact]
    public void Duplicate_entries_in_the_archive_are_refused()
    {
        var layers = ImageArchives.ThreeLayers();
        var archive = ImageArchives.DockerSave(layers, ImageArchives.Config(layers), ["victim:1"]);
        var ms = new MemoryStream();
        ms.Write(archive.AsSpan(0, archive.Length - 1024)); // drop the end-of-archive blocks, append a second manifest.json
        using (var w = new TarWriter(ms, TarEntryFormat.Pax, leaveOpen: true))
            w.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "manifest.json") { DataStream = new MemoryStream("[]"u8.ToArray()) });
        Refused(ms.ToArray(), "entry manifest.json: duplicate entry");
    }

    [Fact]
    public void Duplicate_entries_inside_a_layer_keep_tar_semantics_but_never_replace_a_directory() =>
        Refused(WithLayer(new TarBuilder().Dir("d").File("d", "file").Bytes()), "a non-directory cannot replace the directory");

    [Fact]
    public void A_missing_layer_is_refused()
    {
        var layers = ImageArchives.ThreeLayers();
        var archive = ImageArchives.DockerSave(layers, ImageArchives.Config(layers), ["victim:1"]);
        var ms = new MemoryStream();
        using (var w = new TarWriter(ms, TarEntryFormat.Pax, leaveOpen: true))
        using (var r = new TarReader(new MemoryStream(archive)))
            while (r.GetNextEntry(copyData: true) is { } e)
                if (!e.Name.EndsWith("2/layer.tar")) w.WriteEntry(e);
        Refused(ms.ToArray(), "is missing from the archive");
    }

    [Fact]
    public void Not_an_image_archive_is_refused() =>
        Refused(new TarBuilder().File("etc/passwd", "root").Bytes(), "not a docker save archive or an OCI image layout");
}
