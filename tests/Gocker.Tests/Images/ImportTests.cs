using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using Gocker.Images;

namespace Gocker.Tests.Images;

[Trait("Needs", "root")]
public class ImportTests : IDisposable
{
    readonly TempImages _t = new();
    public void Dispose() => _t.Dispose();

    static TarBuilder SampleRootfs() => new TarBuilder()
        .Dir("./")
        .Dir("./bin")
        .File("./bin/tool", "#!/bin/sh\necho hi\n", mode: 0b111_101_101)
        .File("./bin/suid", "x", mode: 0b100_111_101_101)            // 4755
        .File("./bin/sgid", "y", mode: 0b010_111_101_101, gid: 50)   // 2755
        .Dir("./tmp", mode: 0b001_111_111_111)                       // 1777
        .Dir("etc")
        .File("etc/owned", "o", uid: 1234, gid: 5678)
        .Symlink("etc/abs", "/bin/tool", uid: 4321, gid: 8765)
        .Symlink("etc/rel", "../bin/tool")
        .Hardlink("bin/tool2", "./bin/tool")
        .Node(TarEntryType.Fifo, "tmp/fifo", mode: 0b110_110_000)
        .File("deep/implicit/parents/file", "z"); // parents never listed

    [Fact]
    public void Import_unpacks_files_modes_owners_links_and_registers_the_image()
    {
        var store = _t.Store();
        var bytes = SampleRootfs().Bytes();
        var img = store.Import(new MemoryStream(bytes), "sample:v1");

        Assert.Equal("sample:v1", img.Name);
        Assert.Equal("sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes)), img.Id);
        var root = Assert.Single(img.Layers);
        Assert.Equal(Path.Combine(_t.ImagesDir, img.Id[7..], "rootfs"), root);
        Assert.Equal(["sh"], img.Cmd);

        Assert.Equal("#!/bin/sh\necho hi\n", File.ReadAllText(Path.Combine(root, "bin/tool")));
        Assert.Equal("755", Lstat.Of(Path.Combine(root, "bin/tool")).Mode);
        Assert.Equal("4755", Lstat.Of(Path.Combine(root, "bin/suid")).Mode);
        var sgid = Lstat.Of(Path.Combine(root, "bin/sgid"));
        Assert.Equal(("2755", 50), (sgid.Mode, sgid.Gid));
        Assert.Equal("1777", Lstat.Of(Path.Combine(root, "tmp")).Mode);

        var owned = Lstat.Of(Path.Combine(root, "etc/owned"));
        Assert.Equal((1234, 5678), (owned.Uid, owned.Gid));
        Assert.Equal(TarBuilder.T0.ToUnixTimeSeconds(), owned.Mtime);

        var abs = Lstat.Of(Path.Combine(root, "etc/abs"));
        Assert.Equal("symbolic link", abs.Type);
        Assert.Equal((4321, 8765), (abs.Uid, abs.Gid)); // lchown: the link's own owner
        Assert.Equal("/bin/tool", new FileInfo(Path.Combine(root, "etc/abs")).LinkTarget);
        Assert.Equal("../bin/tool", new FileInfo(Path.Combine(root, "etc/rel")).LinkTarget);
        Assert.Equal(TarBuilder.T0.ToUnixTimeSeconds(), abs.Mtime);

        Assert.Equal(Lstat.Of(Path.Combine(root, "bin/tool")).Inode, Lstat.Of(Path.Combine(root, "bin/tool2")).Inode);
        var fifo = Lstat.Of(Path.Combine(root, "tmp/fifo"));
        Assert.Equal(("fifo", "660"), (fifo.Type, fifo.Mode));
        Assert.Equal("z", File.ReadAllText(Path.Combine(root, "deep/implicit/parents/file")));
        Assert.Equal("755", Lstat.Of(Path.Combine(root, "deep/implicit")).Mode);

        // Directory mtimes are applied after their children were created.
        Assert.Equal(TarBuilder.T0.ToUnixTimeSeconds(), Lstat.Of(Path.Combine(root, "bin")).Mtime);
        Assert.Equal(TarBuilder.T0.ToUnixTimeSeconds(), Lstat.Of(root).Mtime);

        // Listed, and resolvable by name, by id and by id prefix (with or without "sha256:").
        var listed = Assert.Single(store.List());
        Assert.Equal((img.Name, img.Id), (listed.Name, listed.Id));
        Assert.Equal(img.Id, store.Resolve("sample:v1").Id);
        Assert.Equal(img.Id, store.Resolve(img.Id).Id);
        Assert.Equal(img.Id, store.Resolve(img.Id[7..19]).Id);
        Assert.Equal(img.Id, store.Resolve(img.Id[..11]).Id);
        Assert.Equal("sample:v1", store.Resolve(img.Id[7..19]).Name);
        // A new store on the same directory sees it (state is on disk).
        Assert.Equal(img.Id, _t.Store().Resolve("sample:v1").Id);
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(_t.ImagesDir, "tmp")));
    }

    [Fact]
    public void Bare_name_means_latest()
    {
        var store = _t.Store();
        var img = store.Import(new TarBuilder().File("a", "1").Stream(), "plain");
        Assert.Equal("plain:latest", img.Name);
        Assert.Equal(img.Id, store.Resolve("plain").Id);
        Assert.Equal(img.Id, store.Resolve("plain:latest").Id);
        Assert.Throws<ImageNotFoundException>(() => store.Resolve("plain:other"));
    }

    [Fact]
    public void Gzip_archives_are_accepted_and_the_id_hashes_the_bytes_as_read()
    {
        var tar = new TarBuilder().Dir("d").File("d/f", "gz").Bytes();
        var gz = new MemoryStream();
        using (var z = new GZipStream(gz, CompressionLevel.Fastest, leaveOpen: true)) z.Write(tar);
        var img = _t.Store().Import(new MemoryStream(gz.ToArray()), "zipped");
        Assert.Equal("sha256:" + Convert.ToHexStringLower(SHA256.HashData(gz.ToArray())), img.Id);
        Assert.Equal("gz", File.ReadAllText(Path.Combine(img.Layers[0], "d/f")));
    }

    [Fact]
    public void Gnu_ustar_and_v7_entries_and_long_names_unpack()
    {
        var longName = string.Join('/', Enumerable.Repeat("long-directory-name", 12)) + "/file";
        foreach (var format in new[] { TarEntryFormat.Gnu, TarEntryFormat.Ustar })
        {
            var b = new TarBuilder(format).File("x", format.ToString());
            if (format == TarEntryFormat.Gnu) b.File(longName, "long");
            b.Add(new V7TarEntry(TarEntryType.V7RegularFile, "v7") { DataStream = new MemoryStream("old"u8.ToArray()), Mode = (UnixFileMode)0b110_100_100 });
            var img = _t.Store().Import(b.Stream(), "fmt-" + format.ToString().ToLowerInvariant());
            Assert.Equal(format.ToString(), File.ReadAllText(Path.Combine(img.Layers[0], "x")));
            Assert.Equal("old", File.ReadAllText(Path.Combine(img.Layers[0], "v7")));
            if (format == TarEntryFormat.Gnu) Assert.Equal("long", File.ReadAllText(Path.Combine(img.Layers[0], longName)));
        }
    }

    [Fact]
    public void Duplicate_regular_file_replaces_the_earlier_one_and_duplicate_dirs_merge()
    {
        var img = _t.Store().Import(new TarBuilder()
            .File("f", "first").File("f", "second", mode: 0b111_000_000)
            .Symlink("l", "/x").File("l", "file now")
            .Dir("d", mode: 0b111_101_101).File("d/in", "kept").Dir("d", mode: 0b111_000_000)
            .Stream(), "dups");
        var root = img.Layers[0];
        Assert.Equal("second", File.ReadAllText(Path.Combine(root, "f")));
        Assert.Equal("700", Lstat.Of(Path.Combine(root, "f")).Mode);
        Assert.Equal("regular file", Lstat.Of(Path.Combine(root, "l")).Type);
        Assert.Equal("kept", File.ReadAllText(Path.Combine(root, "d/in")));
        Assert.Equal("700", Lstat.Of(Path.Combine(root, "d")).Mode);
    }

    [Fact]
    public void Global_pax_headers_are_skipped()
    {
        var img = _t.Store().Import(new TarBuilder()
            .Add(new PaxGlobalExtendedAttributesTarEntry(new Dictionary<string, string> { ["comment"] = "git archive" }))
            .File("f", "ok").Stream(), "global");
        Assert.Equal(["f"], Directory.GetFileSystemEntries(img.Layers[0]).Select(Path.GetFileName));
    }

    [Fact]
    public void Device_nodes_are_created_when_allowed()
    {
        var store = _t.Store(new ImageStoreOptions { AllowDeviceNodes = true });
        var img = store.Import(new TarBuilder().Dir("dev").Node(TarEntryType.CharacterDevice, "dev/null", 1, 3, mode: 0b110_110_110).Stream(), "devs");
        var info = Lstat.Of(Path.Combine(img.Layers[0], "dev/null"));
        Assert.Equal(("character special file", "666"), (info.Type, info.Mode));
    }

    [Fact]
    public void Same_archive_under_two_names_shares_one_directory_and_remove_keeps_it_until_the_last_name()
    {
        var store = _t.Store();
        var bytes = new TarBuilder().File("a", "1").Bytes();
        var one = store.Import(new MemoryStream(bytes), "one");
        var two = store.Import(new MemoryStream(bytes), "two:t");
        Assert.Equal(one.Id, two.Id);
        Assert.Equal(2, store.List().Count);

        store.Remove("one");
        Assert.Throws<ImageNotFoundException>(() => store.Resolve("one"));
        Assert.True(Directory.Exists(two.Layers[0]));
        Assert.Equal(two.Id, store.Resolve("two:t").Id);

        store.Remove("two:t");
        Assert.False(Directory.Exists(Path.GetDirectoryName(two.Layers[0])));
        Assert.Empty(store.List());
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(_t.ImagesDir, "tmp")));
    }

    [Fact]
    public void Remove_by_id_prefix_removes_every_name_and_the_directory()
    {
        var store = _t.Store();
        var bytes = new TarBuilder().File("a", "2").Bytes();
        var img = store.Import(new MemoryStream(bytes), "x1");
        store.Import(new MemoryStream(bytes), "x2");
        store.Remove(img.Id[7..15]);
        Assert.Empty(store.List());
        Assert.False(Directory.Exists(Path.GetDirectoryName(img.Layers[0])));
    }

    [Fact]
    public void Reimport_under_the_same_name_leaves_the_old_image_dangling_and_removable_by_id()
    {
        var store = _t.Store();
        var old = store.Import(new TarBuilder().File("v", "1").Stream(), "app");
        var @new = store.Import(new TarBuilder().File("v", "2").Stream(), "app");
        Assert.NotEqual(old.Id, @new.Id);
        Assert.Equal(@new.Id, store.Resolve("app").Id);
        var dangling = Assert.Single(store.List(), r => r.Id == old.Id);
        Assert.Equal(ImageStore.DanglingName, dangling.Name);
        Assert.True(Directory.Exists(old.Layers[0])); // a running container may still use it
        store.Remove(old.Id);
        Assert.Equal([@new.Id], store.List().Select(r => r.Id));
    }

    [Fact]
    public void Remove_of_an_unknown_image_names_it()
    {
        var ex = Assert.Throws<ImageNotFoundException>(() => _t.Store().Remove("ghost:1"));
        Assert.Equal("ghost:1", ex.Reference);
    }
}
