using System.Formats.Tar;
using Gocker.Images;

namespace Gocker.Tests.Images;

/// <summary>Every refused archive: the error names the entry and the reason, nothing is registered, no work
/// directory is left behind, and nothing is written outside the images directory.</summary>
[Trait("Needs", "root")]
public class ImportSafetyTests : IDisposable
{
    readonly TempImages _t = new();
    public void Dispose() => _t.Dispose();

    /// <summary>Imports into a store that already holds one image; asserts refusal and no trace of the attempt.</summary>
    UnsafeArchiveException Refused(byte[] archive, string expectedMessage, ImageStoreOptions? options = null)
    {
        var store = _t.Store(options);
        store.Import(new TarBuilder().File("base", "b").Stream(), "base");
        // A canary where attacks aim: it must survive both the attack and the cleanup of the work dir
        // (which must remove symlinks, never what they point to).
        var canary = Path.Combine(_t.Outside, "canary");
        File.WriteAllText(canary, "alive");
        var index = Path.Combine(_t.ImagesDir, "repositories.json");
        var indexBefore = File.ReadAllBytes(index);
        var entriesBefore = Directory.GetFileSystemEntries(_t.ImagesDir).Order().ToArray();

        var ex = Assert.Throws<UnsafeArchiveException>(() => store.Import(new MemoryStream(archive), "victim"));
        Assert.Contains(expectedMessage, ex.Message);

        Assert.Equal(indexBefore, File.ReadAllBytes(index));
        Assert.Equal(entriesBefore, Directory.GetFileSystemEntries(_t.ImagesDir).Order().ToArray());
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(_t.ImagesDir, "tmp")));
        Assert.Equal([canary], Directory.GetFileSystemEntries(_t.Outside));
        Assert.Equal("alive", File.ReadAllText(canary));
        File.Delete(canary);
        Assert.Throws<ImageNotFoundException>(() => store.Resolve("victim"));
        Assert.Single(store.List());
        return ex;
    }

    [Theory]
    [InlineData("../x", "entry ../x: path escapes the root")]
    [InlineData("a/../../x", "entry a/../../x: path escapes the root")]
    [InlineData("./a/b/../../../x", "path escapes the root")]
    [InlineData("/etc/x", "entry /etc/x: path escapes the root")]
    public void Names_escaping_the_root_are_refused(string name, string message) =>
        Refused(new TarBuilder().File("ok", "1").File(name, "evil").Bytes(), message);

    [Fact]
    public void Leading_dot_slash_and_repeated_slashes_are_normalised()
    {
        var img = _t.Store().Import(new TarBuilder().File(".//a//b///c", "x").File("././d", "y").Stream(), "norm");
        Assert.Equal("x", File.ReadAllText(Path.Combine(img.Layers[0], "a/b/c")));
        Assert.Equal("y", File.ReadAllText(Path.Combine(img.Layers[0], "d")));
    }

    [Fact]
    public void Writing_through_a_symlinked_parent_is_refused()
    {
        // The classic: "a -> /outside", then "a/pwned" would land on the host.
        var ex = Refused(new TarBuilder().Symlink("a", _t.Outside).File("a/pwned", "evil").Bytes(), "entry a/pwned: parent a is a symlink");
        Assert.DoesNotContain("escapes", ex.Message);
    }

    [Fact]
    public void A_symlinked_grandparent_is_refused_too()
    {
        Refused(new TarBuilder().Dir("d").Symlink("d/l", "/").Dir("d/l/etc").Bytes(), "entry d/l/etc: parent d/l is a symlink");
        Refused(new TarBuilder().Symlink("o", _t.Outside).Dir("d").File("d/x", "1").File("d", "boom").Bytes(), "entry d: a non-directory");
    }

    [Fact]
    public void Creating_a_directory_or_link_under_a_symlink_is_refused()
    {
        Refused(new TarBuilder().Symlink("s", "/tmp").Symlink("s/link", "/x").Bytes(), "entry s/link: parent s is a symlink");
    }

    [Fact]
    public void A_file_used_as_a_parent_is_refused()
    {
        Refused(new TarBuilder().File("f", "x").File("f/g", "y").Bytes(), "entry f/g: parent f is not a directory");
    }

    [Theory]
    [InlineData("a/l", "../../etc")]
    [InlineData("l", "..")]
    [InlineData("a/b/l", "x/../../../..")]
    public void Relative_symlinks_escaping_the_root_are_refused(string name, string target) =>
        Refused(new TarBuilder().Dir("a").Dir("a/b").Symlink(name, target).Bytes(), $"entry {name}: symlink target {target} escapes the root");

    [Fact]
    public void Relative_symlinks_inside_the_root_and_absolute_ones_are_fine()
    {
        var img = _t.Store().Import(new TarBuilder().Dir("a").Dir("a/b")
            .Symlink("a/b/up", "../../x").Symlink("a/abs", "/etc/passwd").Symlink("a/dots", "./../a/./b/..").Stream(), "links");
        Assert.Equal("../../x", new FileInfo(Path.Combine(img.Layers[0], "a/b/up")).LinkTarget);
        Assert.Equal("/etc/passwd", new FileInfo(Path.Combine(img.Layers[0], "a/abs")).LinkTarget);
    }

    [Theory]
    [InlineData("../etc/passwd", "hardlink target ../etc/passwd escapes the root")]
    [InlineData("/etc/passwd", "hardlink target /etc/passwd is not an entry unpacked before it")]
    [InlineData("later", "hardlink target later is not an entry unpacked before it")]
    [InlineData("sym", "hardlink target sym is a symlink")]
    [InlineData("dir", "hardlink target dir is a directory")]
    public void Bad_hardlinks_are_refused(string target, string message) =>
        Refused(new TarBuilder().Symlink("sym", "/etc/passwd").Dir("dir").Hardlink("h", target).File("later", "x").Bytes(), "entry h: " + message);

    [Fact]
    public void Hardlinks_never_reach_host_files()
    {
        // Even a real host path given as target is taken inside the root, where it does not exist.
        var hostFile = Path.Combine(_t.Outside, "secret");
        File.WriteAllText(hostFile, "s");
        try
        {
            var store = _t.Store();
            var ex = Assert.Throws<UnsafeArchiveException>(() => store.Import(new TarBuilder().Hardlink("h", hostFile).Stream(), "hl"));
            Assert.Contains("is not an entry unpacked before it", ex.Message);
            Assert.Equal(1, Lstat.Of(hostFile).Links);
        }
        finally { File.Delete(hostFile); }
    }

    [Theory]
    [InlineData(TarEntryType.CharacterDevice, "entry dev/mem: character device node 1:1 not allowed")]
    [InlineData(TarEntryType.BlockDevice, "entry dev/mem: block device node 1:1 not allowed")]
    public void Device_nodes_are_refused_by_default(TarEntryType type, string message) =>
        Refused(new TarBuilder().Dir("dev").Node(type, "dev/mem", 1, 1).Bytes(), message);

    [Fact]
    public void A_non_directory_cannot_replace_a_directory()
    {
        Refused(new TarBuilder().Dir("d").File("d/x", "1").File("d", "flat").Bytes(), "entry d: a non-directory cannot replace the directory");
        Refused(new TarBuilder().Dir("d").Symlink("d", "/x").Bytes(), "entry d: a non-directory cannot replace the directory");
    }

    [Fact]
    public void A_directory_cannot_replace_a_non_directory()
    {
        Refused(new TarBuilder().File("f", "1").Dir("f").Bytes(), "entry f: a directory cannot replace the file");
        Refused(new TarBuilder().Symlink("l", "/etc").Dir("l").Bytes(), "entry l: a directory cannot replace the symlink");
    }

    [Fact]
    public void The_root_entry_must_be_a_directory()
    {
        Refused(new TarBuilder().File("./", "x").Bytes(), "the root can only be a directory");
    }

    [Theory]
    [InlineData('V', "entry second: unsupported entry type TapeVolume")]
    [InlineData('M', "entry second: unsupported entry type MultiVolume")]
    [InlineData('D', "entry second: unsupported entry type DirectoryList")]
    [InlineData('Z', "entry second: unsupported entry type 90")]
    [InlineData('S', "archive is corrupt or truncated after entry first: Entry type 'SparseFile' not supported")]
    public void Unsupported_entry_types_are_refused(char typeFlag, string message)
    {
        var bytes = new TarBuilder(TarEntryFormat.Ustar).File("first", "1").File("second", "2").Bytes();
        bytes[1024 + 156] = (byte)typeFlag; // second header: 512 header + 512 data of "first"
        FixChecksum(bytes, 1024);
        Refused(bytes, message);
    }

    static void FixChecksum(byte[] tar, int header)
    {
        tar.AsSpan(header + 148, 8).Fill((byte)' ');
        int sum = 0;
        for (int i = 0; i < 512; i++) sum += tar[header + i];
        System.Text.Encoding.ASCII.GetBytes(Convert.ToString(sum, 8).PadLeft(6, '0') + "\0 ").CopyTo(tar, header + 148);
    }

    [Fact]
    public void Content_over_the_unpacked_size_limit_is_refused()
    {
        Refused(new TarBuilder().File("small", new byte[600]).File("big", new byte[600]).Bytes(),
            "entry big: unpacked content exceeds the limit of 1000 bytes", new ImageStoreOptions { MaxUnpackedBytes = 1000 });
    }

    [Fact]
    public void An_archive_over_the_size_limit_is_refused()
    {
        Refused(new TarBuilder().File("a", new byte[8192]).Bytes(), "archive is larger than the limit of 4096 bytes",
            new ImageStoreOptions { MaxArchiveBytes = 4096 });
    }

    [Fact]
    public void A_truncated_archive_is_refused()
    {
        var full = new TarBuilder().File("first", "ok").File("data", new byte[10_000]).Bytes();
        // Cut in the middle of "data"'s content.
        Refused(full[..(full.Length / 2)], "entry data:");
    }

    [Fact]
    public void An_archive_without_end_blocks_is_complete_when_it_ends_after_the_last_entry()
    {
        // Go's archive/tar as umoci drives it writes no end-of-archive blocks (GNU tar reads it).
        var full = new TarBuilder().File("first", "ok").Symlink("link", "first").File("last", "tail").Bytes();
        Assert.All(full[^1024..], b => Assert.Equal(0, b));
        var img = _t.Store().Import(new MemoryStream(full[..^1024]), "noend");
        Assert.Equal("ok", File.ReadAllText(Path.Combine(img.Layers[0], "first")));
        Assert.Equal("first", new FileInfo(Path.Combine(img.Layers[0], "link")).LinkTarget);
        Assert.Equal("tail", File.ReadAllText(Path.Combine(img.Layers[0], "last")));
    }

    [Fact]
    public void An_archive_cut_at_a_block_boundary_inside_data_is_still_refused()
    {
        var data = new byte[10_000];
        Array.Fill(data, (byte)7);
        var full = new TarBuilder().File("first", "ok").File("data", data).Bytes();
        var cut = full.Length / 2 / 512 * 512;
        Refused(full[..cut], "entry data: archive is truncated");
    }

    [Fact]
    public void A_corrupt_header_is_refused()
    {
        var bytes = new TarBuilder(TarEntryFormat.Ustar).File("first", "ok").File("second", "x").Bytes();
        bytes[1024 + 108] = (byte)'x'; // second header's uid field: not an octal number
        Refused(bytes, "archive is corrupt or truncated after entry first:");
    }

    [Fact]
    public void Garbage_is_refused()
    {
        var junk = new byte[2048];
        new Random(42).NextBytes(junk);
        Refused(junk, "archive is corrupt or truncated");
    }

    [Fact]
    public void Corrupt_gzip_is_refused()
    {
        var gz = new MemoryStream();
        using (var z = new System.IO.Compression.GZipStream(gz, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true))
            z.Write(new TarBuilder().File("f", new byte[5000]).Bytes());
        var bytes = gz.ToArray();
        bytes[bytes.Length / 2] ^= 0xff;
        bytes[bytes.Length / 2 + 1] ^= 0xff;
        Refused(bytes, "corrupt");
    }

    [Fact]
    public void A_bad_name_is_refused_before_reading_and_leaves_nothing()
    {
        var store = _t.Store();
        var stream = new TarBuilder().File("f", "x").Stream();
        var ex = Assert.Throws<InvalidImageNameException>(() => store.Import(stream, "Bad/Name"));
        Assert.Contains("\"Bad/Name\"", ex.Message);
        Assert.Equal(0, stream.Position);
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(_t.ImagesDir, "tmp")));
        Assert.Empty(store.List());
    }
}

/// <summary>The descriptor-based writer refuses symlinked parents on its own (the backstop behind the
/// unpacker's bookkeeping, e.g. against a symlink planted by something other than the archive).</summary>
[Trait("Needs", "root")]
public class RootfsWriterTests : IDisposable
{
    readonly TempImages _t = new();
    public void Dispose() => _t.Dispose();

    [Fact]
    public void Never_follows_a_symlink_in_the_parent_path()
    {
        var root = Path.Combine(_t.Base, "root");
        Directory.CreateDirectory(root);
        File.CreateSymbolicLink(Path.Combine(root, "a"), _t.Outside);
        File.CreateSymbolicLink(Path.Combine(root, "dot"), ".");
        File.CreateSymbolicLink(Path.Combine(root, "leaf"), Path.Combine(_t.Outside, "target"));
        using var w = new RootfsWriter(root);

        Assert.Throws<Gocker.Syscalls.SyscallException>(() => w.CreateFile("a/pwned").Dispose());
        Assert.Throws<Gocker.Syscalls.SyscallException>(() => w.MakeDirectory("a/d"));
        Assert.Throws<Gocker.Syscalls.SyscallException>(() => w.Symlink("a/l", "/"));
        Assert.Throws<Gocker.Syscalls.SyscallException>(() => w.CreateFile("dot/x").Dispose());
        // The final component is never followed either: O_EXCL|O_NOFOLLOW on an existing link fails.
        Assert.Throws<Gocker.Syscalls.SyscallException>(() => w.CreateFile("leaf").Dispose());
        Assert.Empty(Directory.EnumerateFileSystemEntries(_t.Outside));
    }
}
