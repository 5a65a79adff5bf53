using Gocker.Network;

namespace Gocker.Tests.Network;

/// <summary>NetnsPin.Move on the real kernel: a mount move in a private directory, and the pin +
/// unpin fallback where the directory sits in a shared mount (the kernel refuses the move).</summary>
[Trait("Needs", "root")]
public sealed class NetnsPinTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("gocker-pin-").FullName;
    bool _mounted;

    public void Dispose()
    {
        foreach (var f in Directory.GetFiles(_dir)) NetnsPin.Unpin(f);
        if (_mounted) Sh.Ok("umount", _dir);
        Directory.Delete(_dir, true);
    }

    void MoveKeepsTheNamespacePinned()
    {
        var from = Path.Combine(_dir, "a");
        var to = Path.Combine(_dir, "b");
        NetnsPin.Pin("/proc/self/ns/net", from);
        var ns = Inode(from);
        NetnsPin.Move(from, to);
        Assert.False(File.Exists(from), "the old pin file is left");
        Assert.True(NetnsPin.IsPinned(to));
        Assert.Equal(ns, Inode(to));
        Assert.Single(File.ReadAllLines("/proc/self/mountinfo"), l => l.Split(' ')[4] == to);
        Assert.DoesNotContain(File.ReadAllLines("/proc/self/mountinfo"), l => l.Split(' ')[4] == from);
    }

    /// <summary>The inode behind the path: the namespace's (nsfs) while it is pinned there.</summary>
    static string Inode(string path) => Sh.Ok("stat", "-L", "-c", "%i %T", path).Trim();

    [Fact]
    public void Move_in_a_private_directory_moves_the_mount() => MoveKeepsTheNamespacePinned();

    [Fact]
    public void Move_in_a_shared_mount_falls_back_to_pin_and_unpin()
    {
        Sh.Ok("mount", "--bind", _dir, _dir);
        _mounted = true;
        Sh.Ok("mount", "--make-shared", _dir);
        MoveKeepsTheNamespacePinned();
    }
}
