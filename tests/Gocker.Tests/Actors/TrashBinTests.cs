using Gocker.Actors.Containers;

namespace Gocker.Tests.Actors;

/// <summary>TrashBin on the real filesystem: a discarded dir leaves its place at once (one rename)
/// and is deleted in the background, symlinks are not followed, leftovers of a previous daemon go.</summary>
public sealed class TrashBinTests : IDisposable
{
    readonly string _root = Path.Combine(Path.GetTempPath(), "gocker-trash-test-" + Guid.NewGuid().ToString("N")[..10]);
    string Trash => Path.Combine(_root, "trash");

    public TrashBinTests() => Directory.CreateDirectory(Path.Combine(_root, "containers"));

    public void Dispose() => Directory.Delete(_root, recursive: true);

    static void WaitEmpty(TrashBin bin, string trash)
    {
        for (var deadline = DateTime.UtcNow.AddSeconds(30); (bin.Pending > 0 || Directory.GetFileSystemEntries(trash).Length > 0) && DateTime.UtcNow < deadline;)
            Thread.Sleep(10);
        Assert.Equal(0, bin.Pending);
        Assert.Empty(Directory.GetFileSystemEntries(trash));
    }

    string Container(string id)
    {
        var dir = Path.Combine(_root, "containers", id);
        Directory.CreateDirectory(Path.Combine(dir, "upper", "deep", "er"));
        File.WriteAllText(Path.Combine(dir, "state.json"), "{}");
        File.WriteAllText(Path.Combine(dir, "upper", "deep", "er", "f"), "data");
        return dir;
    }

    [Fact]
    public void A_discarded_dir_leaves_at_once_and_is_deleted_behind()
    {
        var bin = new TrashBin([Trash]);
        var dir = Container("c1");
        bin.Discard(dir, ContainerLayout.TrashDirOf(dir));
        Assert.False(Directory.Exists(dir));
        WaitEmpty(bin, Trash);
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(_root, "containers")));
    }

    [Fact]
    public void A_symlink_in_a_discarded_dir_is_removed_not_followed()
    {
        var outside = Path.Combine(_root, "host-dir");
        Directory.CreateDirectory(outside);
        File.WriteAllText(Path.Combine(outside, "precious"), "keep me");
        var bin = new TrashBin([Trash]);
        var dir = Container("c2");
        File.CreateSymbolicLink(Path.Combine(dir, "upper", "escape"), outside);
        File.CreateSymbolicLink(Path.Combine(dir, "upper", "escape-file"), Path.Combine(outside, "precious"));
        bin.Discard(dir, Trash);
        WaitEmpty(bin, Trash);
        Assert.Equal("keep me", File.ReadAllText(Path.Combine(outside, "precious")));
    }

    [Fact]
    public void What_a_previous_daemon_left_in_the_trash_is_deleted_at_start()
    {
        Directory.CreateDirectory(Trash);
        var left = Path.Combine(Trash, "old.12345678");
        Directory.CreateDirectory(Path.Combine(left, "upper"));
        File.WriteAllText(Path.Combine(left, "upper", "x"), "x");
        File.WriteAllText(Path.Combine(Trash, "stray-file"), "y");
        var bin = new TrashBin([Trash]);
        WaitEmpty(bin, Trash);
    }

    [Fact]
    public void A_missing_dir_is_nothing_to_do_and_without_its_trash_dir_the_dir_is_deleted_in_place()
    {
        var bin = new TrashBin([Trash]);
        bin.Discard(Path.Combine(_root, "containers", "nope"), Trash);
        Assert.Equal(0, bin.Pending);
        var dir = Container("c3");
        bin.Discard(dir, Path.Combine(_root, "no-such-trash"));
        Assert.False(Directory.Exists(dir));
        Assert.Equal(0, bin.Pending);
    }
}
