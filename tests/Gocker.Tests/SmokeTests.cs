using Gocker.Syscalls.Spawn;

namespace Gocker.Tests;

public class InitSpecJsonTests
{
    [Fact]
    public void InitSpec_round_trips_through_json()
    {
        var spec = new InitSpec
        {
            RootfsDir = "/run/x/rootfs", LowerDirs = ["/l1", "/l2"], UpperDir = "/u", WorkDir = "/w",
            Hostname = "abc", Args = ["sh", "-c", "echo 'a b'"], Env = ["A=1"],
            Volumes = [new VolumeMount("/src", "/dst", true)],
        };
        var back = InitSpecJson.Deserialize(InitSpecJson.Serialize(spec));
        Assert.Equal(spec.Args, back.Args);
        Assert.Equal(spec.LowerDirs, back.LowerDirs);
        Assert.Equal(spec.Volumes[0], back.Volumes[0]);
    }
}
