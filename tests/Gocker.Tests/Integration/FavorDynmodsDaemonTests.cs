using System.Diagnostics;
using Gocker.Syscalls.Cgroups;
using Gocker.Tests.Cgroups;

namespace Gocker.Tests.Integration;

/// <summary>gocker.cgroups.favor-dynmods through the real daemon.</summary>
[Collection(FavorDynmodsCollection.Name)]
[Trait("Needs", "root")]
public class FavorDynmodsDaemonTests
{
    [Fact]
    public void On_sets_the_flag_at_start_and_says_so()
    {
        var mp = FavorDynmods.MountPointOnThisHost()!;
        var original = FavorDynmods.IsEnabled(mp, File.ReadAllText("/proc/self/mountinfo"));
        try
        {
            FavorDynmods.Set(mp, false);
            using (var daemon = new DaemonFixture("gocker.cgroups.favor-dynmods = on"))
            {
                Assert.True(FavorDynmods.IsEnabled(mp, File.ReadAllText("/proc/self/mountinfo")));
                var expected = $"gocker.cgroups.favor-dynmods: enabled on {mp}";
                Assert.Contains(expected, daemon.DaemonLogWith(expected));
                var r = daemon.Gocker("run", "--rm", "--network", "none", "busybox", "true");
                Assert.True(r.ExitCode == 0, r.ToString());
                daemon.AssertNoLeaks();
            }
        }
        finally { FavorDynmods.Set(mp, original); }
    }

    [Fact]
    public async Task A_bad_value_stops_the_daemon_with_the_key_named()
    {
        GockerBinaries.Require();
        var root = Path.Combine("/tmp", "gocker-it-fdm-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(root);
        try
        {
            File.WriteAllText(Path.Combine(root, "gocker.hocon"), "gocker.cgroups.favor-dynmods = sometimes");
            var psi = new ProcessStartInfo(GockerBinaries.Gockerd)
            {
                ArgumentList = { "--config", Path.Combine(root, "gocker.hocon"), "--data-root", Path.Combine(root, "data"),
                    "--exec-root", Path.Combine(root, "exec"), "-H", "unix://" + Path.Combine(root, "s.sock"), "--cgroup-parent", "gocker-it-fdm" },
                RedirectStandardError = true,
                RedirectStandardOutput = true,
            };
            using var p = Process.Start(psi)!;
            var stderr = p.StandardError.ReadToEndAsync();
            var stdout = p.StandardOutput.ReadToEndAsync();
            Assert.True(p.WaitForExit(30_000), "gockerd did not exit");
            Assert.NotEqual(0, p.ExitCode);
            Assert.Contains("gocker.cgroups.favor-dynmods = sometimes: use on or off", await stderr + await stdout);
            Assert.False(File.Exists(Path.Combine(root, "s.sock")));
        }
        finally { Directory.Delete(root, true); }
    }
}
