using System.Diagnostics;
using System.Formats.Tar;
using Gocker.Syscalls.Security;

namespace Gocker.Tests.Integration;

/// <summary>
/// userns-remap: a daemon with `gocker.userns-remap = default` runs each container in its own user
/// namespace, its root being the first id of gockremap's range in /etc/subuid. Seen from both sides:
/// inside (root, image files owned by root, its own sysfs), and on the host (the processes' uids,
/// the files written in the upper dir and in a volume, the layers left untouched, a root-only host
/// file out of reach). Through the docker CLI as well, with the refusals Docker makes.
/// </summary>
[Trait("Needs", "root")]
public sealed class UsernsRemapTests : IDisposable
{
    readonly LifecycleDaemon _d = new(configHocon: "gocker { userns-remap = default }");
    readonly IdMap _map = SubIds.Resolve("default"); // the daemon gave gockremap its range already

    public void Dispose() => _d.Dispose();

    string Ok(params string[] args) => _d.Ok(args);

    static (uint Uid, uint Gid) Owner(string path)
    {
        Assert.True(Gocker.Syscalls.Native.Sys.TryStatOwner(Gocker.Syscalls.Native.Consts.AT_FDCWD, path, follow: false,
            out _, out var uid, out var gid, out _), path);
        return (uid, gid);
    }

    static string StatusField(int pid, string name) =>
        File.ReadAllLines($"/proc/{pid}/status").First(l => l.StartsWith(name + ":", StringComparison.Ordinal))[(name.Length + 2)..];

    [Fact]
    public void Container_root_is_an_unprivileged_host_id_and_the_image_layers_are_shared_not_copied()
    {
        Assert.True(_map.HostUid >= 100000 && _map.Count >= 65536, $"gockremap's range: {_map}");
        var vol = Path.Combine(_d.Root, "vol");
        Directory.CreateDirectory(vol);
        File.SetUnixFileMode(vol, (UnixFileMode)0x1ff); // 0777: the container's root may write here
        var secret = Path.Combine(vol, "host-root-only");
        File.WriteAllText(secret, "host secret\n");
        File.SetUnixFileMode(secret, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        var id = Ok("run", "-d", "-v", vol + ":/vol", "busybox", "sh", "-c",
            "touch /made; echo hi > /vol/written; sleep 600");
        var pid = (int)System.Text.Json.Nodes.JsonNode.Parse(Ok("inspect", id))!.AsArray()[0]!["State"]!["Pid"]!;
        // Inside: root, with the map, and the image's files owned by root.
        var inside = Ok("exec", id, "sh", "-c",
            "id -u; cat /proc/1/uid_map /proc/1/gid_map; stat -c %u:%g /bin/busybox; echo $(ls /sys/class/net); " +
            "cat /vol/host-root-only 2>&1; test -e /made && echo made");
        var lines = inside.Split('\n');
        Assert.Equal("0", lines[0]);
        Assert.Equal($"0 {_map.HostUid} {_map.Count}", string.Join(' ', lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries)));
        Assert.Equal($"0 {_map.HostGid} {_map.Count}", string.Join(' ', lines[2].Split(' ', StringSplitOptions.RemoveEmptyEntries)));
        Assert.Equal("0:0", lines[3]);
        // Its own network namespace, with its own sysfs: not the host's interfaces.
        Assert.Equal("eth0 lo", lines[4]);
        Assert.Contains("Permission denied", lines[5]);
        Assert.Equal("made", lines[6]);

        // On the host: the container's processes run as the mapped ids, never as root.
        Assert.StartsWith($"{_map.HostUid}\t{_map.HostUid}\t{_map.HostUid}", StatusField(pid, "Uid"));
        Assert.StartsWith($"{_map.HostGid}\t", StatusField(pid, "Gid"));
        // What it wrote is owned by the mapped root: in its upper dir and in the volume.
        var upper = Path.Combine(_d.DataRoot, "containers", id, "upper");
        Assert.Equal((_map.HostUid, _map.HostGid), Owner(Path.Combine(upper, "made")));
        Assert.Equal((_map.HostUid, _map.HostGid), Owner(Path.Combine(vol, "written")));
        Assert.Equal("host secret\n", File.ReadAllText(secret));
        // The layers are untouched: their files are still the host's root's (idmapped, not chowned).
        var busybox = Directory.EnumerateFiles(Path.Combine(_d.DataRoot, "images"), "busybox", SearchOption.AllDirectories).First();
        Assert.Equal((0u, 0u), Owner(busybox));
        Assert.Empty(Directory.EnumerateFileSystemEntries(upper, "bin"));

        // commit and export write the container's ids, as Docker does (not the host's).
        Ok("commit", id, "remapped-commit:1");
        Assert.Equal("0:0", Ok("run", "--rm", "--userns", "host", "--network", "none", "remapped-commit:1", "stat", "-c", "%u:%g", "/made"));
        var export = Path.Combine(_d.Root, "export.tar");
        Ok("export", "-o", export, id);
        using (var tar = new TarReader(File.OpenRead(export)))
        {
            TarEntry? e;
            var owners = new Dictionary<string, (int, int)>();
            while ((e = tar.GetNextEntry()) is not null) owners[e.Name.TrimEnd('/')] = (e.Uid, e.Gid);
            Assert.Equal((0, 0), owners["made"]);
            Assert.Equal((0, 0), owners["bin/busybox"]);
        }

        // Across a daemon crash: re-adopted, and exec still enters its user namespace.
        _d.Kill9();
        _d.Start();
        Assert.Equal($"0 {_map.HostUid}", Ok("exec", id, "sh", "-c", "echo $(id -u) $(cat /proc/self/uid_map | tr -s ' ' | cut -d' ' -f3)"));
        // ... and its record kept the map: started again by the new daemon, it is remapped still.
        Ok("restart", "-t", "1", id);
        Assert.Equal($"{_map.HostUid}", Ok("exec", id, "sh", "-c", "cat /proc/1/uid_map | tr -s ' ' | cut -d' ' -f3"));
        Ok("rm", "-f", id);
        Ok("rmi", "remapped-commit:1");
        _d.AssertNoLeaks();
    }

    [Fact]
    public void Terminal_limits_and_userns_host_work_and_what_docker_refuses_is_refused()
    {
        // -t: the init is the session leader of its terminal; limits and oom score set by the daemon.
        var tty = Ok("run", "-d", "-t", "--network", "none", "--ulimit", "nofile=512:1024", "--oom-score-adj", "7", "busybox", "sh");
        Assert.Matches(@"Max open files\s+512\s+1024\s", Ok("exec", tty, "cat", "/proc/1/limits"));
        Assert.Equal("512 1024", Ok("exec", tty, "sh", "-c", "echo $(ulimit -n) $(ulimit -Hn)")); // exec'd: the same
        Assert.Equal("7", Ok("exec", tty, "cat", "/proc/1/oom_score_adj"));
        Ok("rm", "-f", tty);
        // --read-only and --tmpfs, --device (a bound host node: mknod is refused in a user namespace).
        var ro = Ok("run", "--rm", "--network", "none", "--read-only", "--tmpfs", "/run", "--device", "/dev/loop0:/dev/lp",
            "busybox", "sh", "-c", "touch /x 2>&1; touch /run/y && echo tmpfs; test -b /dev/lp && echo device");
        Assert.Contains("Read-only file system", ro);
        Assert.Contains("tmpfs\ndevice", ro);

        // --userns host opts out: the host's ids.
        Assert.Equal("0 0 4294967295", string.Join(' ', Ok("run", "--rm", "--userns", "host", "--network", "none", "busybox", "cat", "/proc/self/uid_map")
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)));
        // As Docker: privileged and the host's network need --userns host.
        foreach (var args in new[] { new[] { "--privileged" }, ["--network", "host"] })
        {
            var r = _d.Gocker(["run", "--rm", .. args, "busybox", "true"]);
            Assert.Equal(125, r.ExitCode);
            Assert.Contains("--userns host", r.Stderr);
        }
        Assert.Equal("ok", Ok("run", "--rm", "--userns", "host", "--privileged", "--network", "none", "busybox", "echo", "ok"));
        var bad = _d.Gocker("run", "--rm", "--userns", "private", "busybox", "true");
        Assert.Equal(125, bad.ExitCode);
        Assert.Contains("UsernsMode", bad.Stderr);
        _d.AssertNoLeaks();
    }

    [DockerCliFact]
    public void The_docker_cli_runs_remapped_containers()
    {
        var (code, output, err) = DockerCliFactAttribute.Run(_d.Socket, _d.Root, null, "run", "--rm", "busybox", "sh", "-c", "id -u; cat /proc/self/uid_map");
        Assert.True(code == 0, $"docker run: {code}\n{output}\n{err}\n{_d.Log}");
        var lines = output.Split('\n');
        Assert.Equal("0", lines[0]);
        Assert.Equal($"0 {_map.HostUid} {_map.Count}", string.Join(' ', lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries)));
    }

    [Fact]
    public void A_setting_without_a_range_stops_the_daemon_at_start_naming_it()
    {
        var psi = new ProcessStartInfo(GockerBinaries.Gockerd)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            ArgumentList = { "--data-root", Path.Combine(_d.Root, "d2"), "--exec-root", Path.Combine(_d.Root, "e2"),
                "-H", "unix://" + Path.Combine(_d.Root, "s2"), "--userns-remap", "no-such-user-gocker" },
        };
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEnd();
        Assert.True(p.WaitForExit(60_000));
        Assert.Equal(2, p.ExitCode);
        Assert.Contains("no subordinate uid range for 'no-such-user-gocker' in /etc/subuid", err);
    }
}
