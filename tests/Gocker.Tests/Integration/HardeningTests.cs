using System.Diagnostics;
using Gocker.Tests.Images;

namespace Gocker.Tests.Integration;

/// <summary>
/// The hardening options (Docker's flags and HostConfig fields), each seen from inside a real
/// container: capabilities, --privileged, --read-only and --tmpfs, no-new-privileges, --ulimit,
/// --sysctl, --oom-score-adj, --group-add, --shm-size and /dev/mqueue, --device, and mounts that
/// would cover /proc. Fields Gocker does not implement are refused by name, never ignored.
/// </summary>
[Trait("Needs", "root")]
public sealed class HardeningTests(DaemonFixture daemon) : IClassFixture<DaemonFixture>, IDisposable
{
    public void Dispose() => daemon.AssertNoLeaks();

    string Ok(params string[] args)
    {
        var r = daemon.Gocker(args);
        Assert.True(r.ExitCode == 0, $"gocker {string.Join(' ', args)}: {r}\n{daemon.DaemonLog}");
        return r.Stdout;
    }

    string Run(params string[] args) => Ok(["run", "--rm", "--network", "none", .. args]);

    CliResult Refused(params string[] args)
    {
        var r = daemon.Gocker(["run", "--rm", "--network", "none", .. args]);
        Assert.True(r.ExitCode == 125, $"expected 125: {r}");
        return r;
    }

    static string Field(string status, string name) =>
        status.Split('\n').First(l => l.StartsWith(name + ":", StringComparison.Ordinal)).Split('\t', ':')[^1].Trim();

    static ulong HostBounding() => Convert.ToUInt64(Field(File.ReadAllText("/proc/self/status"), "CapBnd"), 16);

    [Fact]
    public void Default_capabilities_are_dockers_with_empty_inheritable_and_ambient_sets()
    {
        var status = Run("busybox", "cat", "/proc/self/status");
        Assert.Equal("00000000a80425fb", Field(status, "CapEff"));
        Assert.Equal("00000000a80425fb", Field(status, "CapBnd"));
        Assert.Equal("0000000000000000", Field(status, "CapInh"));
        Assert.Equal("0000000000000000", Field(status, "CapAmb"));
        Assert.Equal("0", Field(status, "NoNewPrivs"));
    }

    [Fact]
    public void Cap_add_and_cap_drop_follow_dockers_rules()
    {
        // ALL dropped, one added (with or without CAP_, any case): only that one, in every set.
        var status = Run("--cap-drop", "ALL", "--cap-add", "net_admin", "busybox", "cat", "/proc/self/status");
        Assert.Equal("0000000000001000", Field(status, "CapEff"));
        Assert.Equal("0000000000001000", Field(status, "CapBnd"));
        // Dropping one of the defaults.
        status = Run("--cap-drop", "CAP_CHOWN", "busybox", "cat", "/proc/self/status");
        Assert.Equal("00000000a80425fa", Field(status, "CapEff"));
        Assert.Contains("Operation not permitted", daemon.Gocker("run", "--rm", "--network", "none", "--cap-drop", "chown", "busybox", "chown", "65534", "/tmp").Stderr);
        // Without CAP_SETUID/CAP_SETGID in the final set the user switch still happens (runc's order).
        Assert.StartsWith("uid=65534(nobody)", Run("--cap-drop", "ALL", "-u", "nobody", "busybox", "id"));
        // ALL added: every capability the host has.
        Assert.Equal(HostBounding(), Convert.ToUInt64(Field(Run("--cap-add", "ALL", "busybox", "cat", "/proc/self/status"), "CapEff"), 16));
        var bad = Refused("--cap-add", "CAP_FLY", "busybox", "true");
        Assert.Contains("unknown capability: \"CAP_FLY\"", bad.Stderr);
    }

    [Fact]
    public void Mount_needs_sys_admin_and_no_seccomp_filter()
    {
        var denied = daemon.Gocker("run", "--rm", "--network", "none", "busybox", "mount", "-t", "tmpfs", "t", "/tmp");
        Assert.NotEqual(0, denied.ExitCode);
        Assert.Equal("mounted\n", Run("--cap-add", "SYS_ADMIN", "--security-opt", "seccomp=unconfined", "busybox", "sh", "-c",
            "mount -t tmpfs t /tmp && echo mounted"));
    }

    [Fact]
    public void A_seccomp_profile_file_is_read_by_the_console_and_checked_at_create()
    {
        var profile = Path.Combine(daemon.Root, "profile-" + Guid.NewGuid().ToString("N")[..8] + ".json");
        File.WriteAllText(profile, """
            {"defaultAction": "SCMP_ACT_ALLOW",
             "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]}
            """);
        var r = daemon.Gocker("run", "--rm", "--network", "none", "--security-opt", "seccomp=" + profile, "busybox", "sh", "-c",
            "mkdir /tmp/d; grep Seccomp: /proc/self/status");
        Assert.Contains("Function not implemented", r.Stderr);
        Assert.Contains("Seccomp:\t2", r.Stdout);
        File.WriteAllText(profile, """{"defaultAction": "SCMP_ACT_FLY"}""");
        var bad = Refused("--security-opt", "seccomp=" + profile, "busybox", "true");
        Assert.Contains("SCMP_ACT_FLY", bad.Stderr);
        Assert.Contains("opening seccomp profile", Refused("--security-opt", "seccomp=/nonexistent/p.json", "busybox", "true").Stderr);
        // Unconfined: no filter at all.
        Assert.Contains("Seccomp:\t0", Run("--security-opt", "seccomp=unconfined", "busybox", "grep", "Seccomp:", "/proc/self/status"));
    }

    [Fact]
    public void Privileged_gets_every_capability_the_host_devices_and_writable_sys()
    {
        var output = Run("--privileged", "busybox", "sh", "-c",
            "grep CapEff /proc/self/status; grep NoNewPrivs /proc/self/status; mount | grep ' /sys '; ls /dev; cat /proc/self/mountinfo");
        Assert.Equal(HostBounding(), Convert.ToUInt64(Field(output, "CapEff"), 16));
        Assert.Contains("sysfs on /sys type sysfs (rw,", output);
        // A host device that a default container does not have.
        var hostDev = new[] { "loop0", "loop-control", "fuse", "kmsg", "mem" }.First(d => File.Exists("/dev/" + d));
        Assert.Contains("\n" + hostDev + "\n", "\n" + output);
        // Nothing masked: no /proc/keys cover, /proc/sys not read-only.
        Assert.DoesNotContain(" /proc/keys ", output);
        Assert.DoesNotContain(" /proc/sys ro", output);
        // The default container has them masked.
        var plain = Run("busybox", "cat", "/proc/self/mountinfo");
        Assert.Contains(" /proc/keys ", plain);
        Assert.Contains(" /proc/sys ro", plain);
    }

    [Fact]
    public void Read_only_root_with_tmpfs_mounts_as_the_user_makes_them()
    {
        var r = daemon.Gocker("run", "--rm", "--network", "none", "--read-only", "busybox", "sh", "-c", "touch /x || touch /tmp/x");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("Read-only file system", r.Stderr + r.Stdout);
        var output = Run("--read-only", "--tmpfs", "/tmp", "--tmpfs", "/run:size=1m,mode=700,exec", "busybox", "sh", "-c",
            "touch /tmp/x && echo tmp-ok; mount | grep -E ' /tmp | /run '; stat -c %a /run");
        Assert.Contains("tmp-ok", output);
        Assert.Contains("tmpfs on /tmp type tmpfs (rw,nosuid,nodev,noexec,", output);
        Assert.Contains("tmpfs on /run type tmpfs (rw,nosuid,nodev,relatime,size=1024k,mode=700)", output);
        Assert.Contains("\n700\n", output);
        // A missing working dir is created before the root turns read-only.
        Assert.Equal("/srv/new\n", Run("--read-only", "-w", "/srv/new", "busybox", "pwd"));
        Assert.Contains("unknown or invalid option \"bogus=1\"", Refused("--tmpfs", "/t:bogus=1", "busybox", "true").Stderr);
    }

    [Fact]
    public void No_new_privileges_stops_a_setuid_binary_from_gaining_root()
    {
        var dir = Path.Combine(daemon.Root, "suid-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        var src = Path.Combine(dir, "euid.c");
        File.WriteAllText(src, "#include <stdio.h>\n#include <unistd.h>\nint main(void){printf(\"euid=%d\\n\",(int)geteuid());return 0;}\n");
        var bin = Path.Combine(dir, "euid");
        using (var cc = Process.Start(new ProcessStartInfo("gcc", ["-static", "-O1", "-o", bin, src]) { RedirectStandardError = true })!)
        {
            var err = cc.StandardError.ReadToEnd();
            cc.WaitForExit();
            Assert.True(cc.ExitCode == 0, "gcc: " + err);
        }
        File.SetUnixFileMode(bin, (UnixFileMode)0x9ed /* 04755 */);
        var vol = dir + ":/suid:ro";
        Assert.Equal("euid=0\n", Run("-v", vol, "-u", "nobody", "busybox", "/suid/euid"));
        var nnp = Run("-v", vol, "-u", "nobody", "--security-opt", "no-new-privileges", "busybox", "sh", "-c", "/suid/euid; grep NoNewPrivs /proc/self/status");
        Assert.Contains("euid=65534", nnp);
        Assert.Equal("1", Field(nnp, "NoNewPrivs"));
    }

    [Fact]
    public void Ulimits_sysctls_oom_score_groups_and_shm_size_reach_the_command()
    {
        Assert.Equal("100\n200\n", Run("--ulimit", "nofile=100:200", "busybox", "sh", "-c", "ulimit -n; ulimit -Hn"));
        // An exec'd process gets the container's limits too, as in Docker.
        var id = Ok("run", "-d", "--network", "none", "--ulimit", "nofile=100:200", "busybox", "sleep", "600").Trim();
        try { Assert.Equal("100\n200\n", Ok("exec", id, "sh", "-c", "ulimit -n; ulimit -Hn")); }
        finally { Ok("rm", "-f", id); }
        Assert.Equal("9000\n7\n", Run("--sysctl", "kernel.msgmax=9000", "--oom-score-adj", "7", "busybox", "sh", "-c",
            "cat /proc/sys/kernel/msgmax /proc/self/oom_score_adj"));
        // The container's own network namespace: its value, not the host's.
        var hostForward = File.ReadAllText("/proc/sys/net/ipv4/conf/lo/forwarding").Trim();
        var want = hostForward == "1" ? "0" : "1";
        Assert.Equal(want + "\n", Run("--sysctl", "net.ipv4.conf.lo.forwarding=" + want, "busybox", "cat", "/proc/sys/net/ipv4/conf/lo/forwarding"));
        Assert.Equal(hostForward, File.ReadAllText("/proc/sys/net/ipv4/conf/lo/forwarding").Trim());
        Assert.Contains("not in a separate kernel namespace", Refused("--sysctl", "kernel.panic=1", "busybox", "true").Stderr);
        var hostNet = daemon.Gocker("run", "--rm", "--network", "host", "--sysctl", "net.ipv4.ip_forward=1", "busybox", "true");
        Assert.Equal(125, hostNet.ExitCode);
        Assert.Contains("host's network namespace", hostNet.Stderr);

        Assert.Equal("uid=65534(nobody) gid=65534(nobody) groups=10,4242\n",
            Run("-u", "nobody", "--group-add", "10", "--group-add", "4242", "busybox", "id"));
        // A name is looked up in the container's /etc/group.
        Assert.Equal("uid=0(root) gid=0(root) groups=65534(nobody)\n", Run("--group-add", "nobody", "busybox", "id"));
        var unknownGroup = daemon.Gocker("run", "--rm", "--network", "none", "--group-add", "nogroup-here", "busybox", "true");
        Assert.Equal(125, unknownGroup.ExitCode);
        Assert.Contains("unable to find group nogroup-here", unknownGroup.Stderr);

        var shm = Run("--shm-size", "1m", "busybox", "sh", "-c", "df -k /dev/shm | tail -1; mount | grep mqueue");
        Assert.Matches(@"shm\s+1024\s", shm);
        Assert.Contains("mqueue on /dev/mqueue type mqueue", shm);
    }

    [Fact]
    public void A_device_is_given_with_its_numbers_and_kernel_filesystems_cannot_be_covered()
    {
        Assert.Equal("block special file 7 0\n", Run("--device", "/dev/loop0:/dev/xx:r", "busybox", "stat", "-c", "%F %t %T", "/dev/xx"));
        Assert.Contains("not a character or block device", Refused("--device", "/etc/passwd", "busybox", "true").Stderr);
        // The device cgroup: a node made by hand (CAP_MKNOD is a default) opens only if allowed.
        var denied = daemon.Gocker("run", "--rm", "--network", "none", "busybox", "sh", "-c", "mknod /tmp/l b 7 0 && : < /tmp/l");
        Assert.NotEqual(0, denied.ExitCode);
        Assert.Contains("Operation not permitted", denied.Stderr);
        Assert.Equal("r-ok\nw-denied\n", Run("--device", "/dev/loop0:/dev/xx:r", "busybox", "sh", "-c",
            ": < /dev/xx && echo r-ok; (: > /dev/xx) 2>/dev/null || echo w-denied"));
        Assert.Equal("r-ok\n", Run("--privileged", "busybox", "sh", "-c", "mknod /tmp/l b 7 0 && : < /tmp/l && echo r-ok"));
        Assert.Contains("cannot be mounted onto /proc, /sys or /dev", Refused("-v", "/tmp:/proc", "busybox", "true").Stderr);
        Assert.Contains("cannot be mounted onto /proc, /sys or /dev", Refused("-v", "/tmp:/proc/sys/kernel", "busybox", "true").Stderr);
        Assert.Contains("cannot be mounted onto /proc, /sys or /dev", Refused("--tmpfs", "/sys", "busybox", "true").Stderr);

        // The same through a symlink the image ships: resolved inside the container, it lands on
        // procfs, and the init refuses it (runc's CVE-2019-19921 shape).
        var name = "symproc-" + Guid.NewGuid().ToString("N")[..8];
        var layers = ImageArchives.ThreeLayers(withBusybox: true);
        layers = [.. layers, new TarBuilder().Symlink("pwn", "/proc").Bytes()];
        var config = ImageArchives.Config(layers, cmd: ["true"]);
        var path = Path.Combine(daemon.Root, name + ".tar");
        File.WriteAllBytes(path, ImageArchives.DockerSave(layers, config, [name]));
        Ok("load", "-i", path);
        try
        {
            var src = Path.Combine(daemon.Root, name + "-src");
            Directory.CreateDirectory(src);
            var r = daemon.Gocker("run", "--rm", "--network", "none", "-v", src + ":/pwn/tty", name);
            Assert.Equal(125, r.ExitCode);
            Assert.Contains("resolves onto /proc or /sys", r.Stderr);
        }
        finally { daemon.Gocker("rmi", "-f", name); }
    }

    [Fact]
    public void Unsupported_fields_are_refused_by_name_and_dockers_empty_defaults_pass()
    {
        // What docker's CLI sends for a plain `docker run` (every field at its zero value).
        const string dockerDefaults = """
            {"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":true,"AttachStderr":true,"Tty":false,"OpenStdin":false,
             "StdinOnce":false,"Env":null,"Cmd":["true"],"Image":"busybox","Volumes":{},"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":{},
             "HostConfig":{"Binds":null,"ContainerIDFile":"","LogConfig":{"Type":"","Config":{}},"NetworkMode":"none","PortBindings":{},
             "RestartPolicy":{"Name":"no","MaximumRetryCount":0},"AutoRemove":false,"VolumeDriver":"","VolumesFrom":null,"ConsoleSize":[0,0],
             "CapAdd":null,"CapDrop":null,"CgroupnsMode":"","Dns":[],"DnsOptions":[],"DnsSearch":[],"ExtraHosts":null,"GroupAdd":null,"IpcMode":"",
             "Cgroup":"","Links":null,"OomScoreAdj":0,"PidMode":"","Privileged":false,"PublishAllPorts":false,"ReadonlyRootfs":false,
             "SecurityOpt":null,"UTSMode":"","UsernsMode":"","ShmSize":0,"Isolation":"","CpuShares":0,"Memory":0,"NanoCpus":0,"CgroupParent":"",
             "BlkioWeight":0,"BlkioWeightDevice":[],"BlkioDeviceReadBps":[],"CpuPeriod":0,"CpuQuota":0,"CpusetCpus":"","CpusetMems":"",
             "Devices":[],"DeviceCgroupRules":null,"DeviceRequests":null,"MemoryReservation":0,"MemorySwap":0,"MemorySwappiness":-1,
             "OomKillDisable":false,"PidsLimit":0,"Ulimits":[],"CpuCount":0,"CpuPercent":0,"MaskedPaths":null,"ReadonlyPaths":null},
             "NetworkingConfig":{"EndpointsConfig":{"none":{"IPAMConfig":null,"Links":null,"Aliases":null,"MacAddress":"","NetworkID":""}}}}
            """;
        var (head, body) = RawHttp.Request(daemon.Socket, "POST", "/v1.43/containers/create", dockerDefaults);
        Assert.True(head.StartsWith("HTTP/1.1 201", StringComparison.Ordinal), head + System.Text.Encoding.UTF8.GetString(body));
        var id = System.Text.Json.JsonDocument.Parse(body).RootElement.GetProperty("Id").GetString()!;
        Ok("rm", "-f", id);

        foreach (var (json, field) in new[]
        {
            ("""{"Image":"busybox","Cmd":["true"],"HostConfig":{"CgroupParent":"elsewhere"}}""", "HostConfig.CgroupParent"),
            ("""{"Image":"busybox","Cmd":["true"],"HostConfig":{"PidMode":"host"}}""", "HostConfig.PidMode"),
            ("""{"Image":"busybox","Cmd":["true"],"HostConfig":{"MaskedPaths":["/x"]}}""", "HostConfig.MaskedPaths"),
            ("""{"Image":"busybox","Cmd":["true"],"Healthcheck":{"Test":["CMD","true"]}}""", "Healthcheck"),
            ("""{"Image":"busybox","Cmd":["true"],"HostConfig":{"VolumesFrom":["other"]}}""", "HostConfig.VolumesFrom"),
            ("""{"Image":"busybox","Cmd":["true"],"NetworkingConfig":{"EndpointsConfig":{"none":{"Aliases":["a"]}}}}""", "network-scoped alias"), // Docker's words: aliases need a user network
            ("""{"Image":"busybox","Cmd":["true"],"HostConfig":{"UsernsMode":"private"}}""", "UsernsMode"),
            ("""{"Image":"busybox","Cmd":["true"],"HostConfig":{"SecurityOpt":["apparmor=docker-default"]}}""", "apparmor=docker-default"),
        })
        {
            var (h, b) = RawHttp.Request(daemon.Socket, "POST", "/v1.43/containers/create", json);
            var text = System.Text.Encoding.UTF8.GetString(b);
            Assert.True(h.StartsWith("HTTP/1.1 400", StringComparison.Ordinal), $"{json}: {h}{text}");
            Assert.Contains(field, text);
        }
        Assert.Empty(Directory.EnumerateDirectories(Path.Combine(daemon.DataRoot, "containers")));
    }

    [DockerCliFact]
    public void The_docker_clis_hardening_flags_are_applied()
    {
        var (code, output, err) = DockerCliFactAttribute.Run(daemon.Socket, daemon.Root, null,
            "run", "--rm", "--network", "none", "--cap-drop", "ALL", "--cap-add", "KILL",
            "--read-only", "--tmpfs", "/run:size=2m", "--security-opt", "no-new-privileges", "--ulimit", "nofile=64:128",
            "--sysctl", "kernel.shmmni=1000", "--shm-size", "2m", "--group-add", "10", "--oom-score-adj", "3",
            "--device", "/dev/loop0:/dev/lp:r", "busybox", "sh", "-c",
            "grep -E 'CapEff|NoNewPrivs' /proc/self/status; touch /x 2>&1; df -k /run /dev/shm | tail -2; ulimit -n; " +
            "cat /proc/sys/kernel/shmmni /proc/self/oom_score_adj; id -G; ls /dev/lp");
        Assert.True(code == 0, $"docker run: {code}\n{output}\n{err}\n{daemon.DaemonLog}");
        Assert.Equal("0000000000000020", Field(output, "CapEff"));
        Assert.Equal("1", Field(output, "NoNewPrivs"));
        Assert.Contains("Read-only file system", output);
        Assert.Matches(@"\s2048\s", output);
        Assert.Contains("\n64\n1000\n3\n0 10\n/dev/lp\n", output);
    }
}
