using Gocker.Tests.Images;

namespace Gocker.Tests.Integration;

/// <summary>USER: `run -u`, the image config's User, resolved in the container's own /etc files.</summary>
[Trait("Needs", "root")]
public sealed class UserTests(DaemonFixture daemon) : IClassFixture<DaemonFixture>, IDisposable
{
    public void Dispose() => daemon.AssertNoLeaks();

    string Ok(params string[] args)
    {
        var r = daemon.Gocker(args);
        Assert.True(r.ExitCode == 0, $"gocker {string.Join(' ', args)}: {r}\n{daemon.DaemonLog}");
        return r.Stdout;
    }

    [Fact]
    public void Run_u_takes_uids_names_and_groups_from_the_container()
    {
        Assert.StartsWith("uid=1000 gid=0", Ok("run", "--rm", "--network", "none", "-u", "1000", "busybox", "id").Trim());
        Assert.Equal("uid=65534(nobody) gid=65534(nobody)", Ok("run", "--rm", "--network", "none", "-u", "nobody", "busybox", "id").Trim());
        Assert.StartsWith("uid=1000 gid=65534(nobody)", Ok("run", "--rm", "--network", "none", "--user", "1000:nobody", "busybox", "id").Trim());
        // A non-root user has no capabilities left, and HOME comes from passwd.
        Assert.Equal("0000000000000000\n/nonexistent\n",
            Ok("run", "--rm", "--network", "none", "-u", "nobody", "busybox", "sh", "-c", "grep CapEff /proc/self/status | cut -f2; echo $HOME"));
        // Root stays root (with /root from passwd as HOME).
        Assert.Equal("uid=0(root) gid=0(root) /root", Ok("run", "--rm", "--network", "none", "busybox", "sh", "-c", "echo $(id) $HOME").Trim());
    }

    [Fact]
    public void An_unknown_user_fails_the_run_with_125_and_leaves_nothing()
    {
        var name = "u" + Guid.NewGuid().ToString("N")[..10];
        var r = daemon.Gocker("run", "--rm", "--name", name, "--network", "none", "-u", "ghost", "busybox", "id");
        Assert.Equal(125, r.ExitCode);
        Assert.Contains("unable to find user ghost", r.Stderr);
        Assert.Equal("", r.Stdout);
        var bad = daemon.Gocker("run", "--rm", "--network", "none", "-u", "a b", "busybox", "id");
        Assert.Equal(125, bad.ExitCode);
        Assert.Contains("invalid user", bad.Stderr);
    }

    [Fact]
    public void The_image_config_user_is_the_default_and_u_overrides_it()
    {
        var name = "userimg-" + Guid.NewGuid().ToString("N")[..8];
        var layers = ImageArchives.ThreeLayers(withBusybox: true);
        var etc = new TarBuilder().Dir("bin").Symlink("bin/id", "busybox").Dir("etc")
            .File("etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1234:2345:App:/home/app:/bin/sh\n")
            .File("etc/group", "root:x:0:\nstaff:x:2345:\nextra:x:777:app\n")
            .Bytes();
        layers = [.. layers, etc];
        var config = ImageArchives.Config(layers, cmd: ["sh", "-c", "echo $(id) $HOME"], user: "app");
        var path = Path.Combine(daemon.Root, "img-" + Guid.NewGuid().ToString("N") + ".tar");
        File.WriteAllBytes(path, ImageArchives.DockerSave(layers, config, [name]));
        Ok("load", "-i", path);
        try
        {
            Assert.Equal("uid=1234(app) gid=2345(staff) groups=777(extra) /home/app", Ok("run", "--rm", "--network", "none", name).Trim());
            Assert.StartsWith("uid=0(root) gid=0(root)", Ok("run", "--rm", "--network", "none", "-u", "root", name, "id").Trim());
            Assert.Matches("\"User\":\\s*\"app\"", Ok("image", "inspect", name));
        }
        finally { Ok("rmi", name); }
    }
}
