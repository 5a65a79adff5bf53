using System.Text.Json.Nodes;
using Gocker.Syscalls.Cgroups;

namespace Gocker.Tests.Integration;

/// <summary>
/// --cgroupns (HostConfig.CgroupnsMode): by default a container has a cgroup namespace of its own, rooted
/// at its cgroup, and /sys/fs/cgroup mounted inside it read-only, so that runtimes reading their limits
/// there (.NET, the JVM) see the container's. Checked through a real daemon on this host's cgroup mode
/// (hybrid here: the memory limit is in the v1 memory hierarchy; v2: memory.max).
/// </summary>
public sealed class CgroupNamespaceTests(DaemonFixture daemon) : IClassFixture<DaemonFixture>, IDisposable
{
    public void Dispose() => daemon.AssertNoLeaks();

    static readonly CgroupMode Mode = CgroupManagerFactory.Detect().Mode;

    /// <summary>Where the container's memory limit is, inside: the hierarchy Gocker uses for memory.</summary>
    static string MemoryLimitFile => Mode == CgroupMode.V2 ? "/sys/fs/cgroup/memory.max" : "/sys/fs/cgroup/memory/memory.limit_in_bytes";

    /// <summary>A file of the container's own cgroup a write would change (its pids limit).</summary>
    /// <summary>How deep below /sys/fs/cgroup a child cgroup's directory is (v2: the top is the tree; else one mount per hierarchy).</summary>
    internal static int ChildDepth => Mode == CgroupMode.V2 ? 1 : 2;

    internal static string MemoryLimit => MemoryLimitFile;

    static string PidsMaxFile => Mode == CgroupMode.V2 ? "/sys/fs/cgroup/pids.max" : "/sys/fs/cgroup/pids/pids.max";

    /// <summary>"cgroup:[INODE]": the test's (the host's, the daemon's) cgroup namespace.</summary>
    static string HostCgroupNs => new FileInfo("/proc/self/ns/cgroup").LinkTarget!;

    string Ok(params string[] args)
    {
        var r = daemon.Gocker(args);
        Assert.True(r.ExitCode == 0, $"gocker {string.Join(' ', args)}: {r}\n{daemon.DaemonLog}");
        return r.Stdout;
    }

    static void AssertAtRoot(string procSelfCgroup)
    {
        var lines = procSelfCgroup.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.NotEmpty(lines);
        // "0::/" on v2, "N:controller:/" for every v1 hierarchy: the namespace's root is the container's cgroup.
        Assert.All(lines, l => Assert.EndsWith(":/", l));
        if (Mode != CgroupMode.V1) Assert.Contains("0::/", lines);
    }

    [Fact]
    public void The_memory_limit_is_read_under_sys_fs_cgroup_and_proc_self_cgroup_shows_the_root()
    {
        var output = Ok("run", "--rm", "--network", "none", "-m", "64m", "busybox", "sh", "-c",
            $"cat {MemoryLimitFile}; echo ---; cat /proc/self/cgroup");
        var parts = output.Split("---\n");
        Assert.Equal((64L << 20).ToString(), parts[0].Trim());
        AssertAtRoot(parts[1]);
    }

    [Fact]
    public void The_cgroup_tree_is_read_only_and_the_limits_stay()
    {
        var id = Ok("run", "-d", "--network", "none", "-m", "64m", "--pids-limit", "50", "busybox", "sleep", "600").Trim();
        try
        {
            var output = Ok("exec", id, "sh", "-c",
                // (A failed redirection is reported by the shell itself: hence the subshells.)
                $"(echo 1000 > {PidsMaxFile}) 2>&1; (echo 1 > {MemoryLimitFile}) 2>&1; mkdir /sys/fs/cgroup/x 2>&1; " +
                "touch /sys/fs/cgroup/unified/f 2>&1; echo ---; grep ' /sys/fs/cgroup' /proc/self/mountinfo");
            var parts = output.Split("---\n");
            // Every write fails with EROFS, the plain mkdir too; nothing was changed on the host.
            Assert.True(parts[0].Split('\n', StringSplitOptions.RemoveEmptyEntries).Length >= 3, output);
            Assert.All(parts[0].Split('\n', StringSplitOptions.RemoveEmptyEntries), l => Assert.Contains("Read-only file system", l));
            // Every mount there is read-only, nosuid, nodev, noexec (the per-mount options, field 6).
            var mounts = parts[1].Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.NotEmpty(mounts);
            foreach (var m in mounts)
            {
                var opts = m.Split(' ')[5].Split(',');
                Assert.True(opts.Contains("ro") && opts.Contains("nosuid") && opts.Contains("nodev") && opts.Contains("noexec"), m);
            }
            var pidsOnHost = daemon.CgroupParentDirs().Select(d => Path.Combine(d, id, "pids.max")).First(File.Exists);
            Assert.Equal("50", File.ReadAllText(pidsOnHost).Trim());
        }
        finally { daemon.Gocker("rm", "-f", id); }
    }

    [Fact]
    public void A_container_sees_neither_the_host_nor_its_siblings_and_an_exec_sees_the_same()
    {
        var a = Ok("run", "-d", "--network", "none", "-m", "64m", "busybox", "sleep", "600").Trim();
        var b = Ok("run", "-d", "--network", "none", "busybox", "sleep", "600").Trim();
        try
        {
            // The namespace's root is the container's cgroup, which has no children: no directory below
            // any hierarchy's top, so neither the daemon's parent, nor a sibling, nor the host's tree.
            var look = $"find /sys/fs/cgroup/ -mindepth {ChildDepth} -type d; echo ---; cat /sys/fs/cgroup/*/cgroup.procs /sys/fs/cgroup/cgroup.procs 2>/dev/null | sort -u | wc -l; " +
                "echo ---; cat /proc/self/cgroup; echo ---; readlink /proc/self/ns/cgroup; readlink /proc/1/ns/cgroup";
            var run = Ok("run", "--rm", "--network", "none", "busybox", "sh", "-c", look);
            var exec = Ok("exec", a, "sh", "-c", look + "; echo ---; cat " + MemoryLimitFile);
            foreach (var output in new[] { run, exec })
            {
                var parts = output.Split("---\n");
                Assert.Empty(parts[0].Split('\n', StringSplitOptions.RemoveEmptyEntries));
                Assert.DoesNotContain(a, output);
                Assert.DoesNotContain(b, output);
                Assert.DoesNotContain(daemon.CgroupParent, output);
                AssertAtRoot(parts[2]);
                // The exec (or the shell) is in the namespace of the container's PID 1.
                var ns = parts[3].Split('\n', StringSplitOptions.RemoveEmptyEntries);
                Assert.Equal(2, ns.Length);
                Assert.Equal(ns[0], ns[1]);
                Assert.NotEqual(HostCgroupNs, ns[0]);
            }
            // A container's processes only (the shell, cat, sort, wc... and sleep for the exec): a few pids, not the host's.
            Assert.InRange(int.Parse(run.Split("---\n")[1].Trim()), 1, 10);
            Assert.Equal((64L << 20).ToString(), exec.Split("---\n")[4].Trim());
        }
        finally { daemon.Gocker("rm", "-f", a, b); }
    }

    [Fact]
    public void Cgroupns_host_shows_the_hosts_paths_and_inspect_shows_the_mode()
    {
        var id = Ok("create", "--network", "none", "--cgroupns", "host", "busybox", "sh", "-c",
            "cat /proc/self/cgroup; echo ---; readlink /proc/self/ns/cgroup; echo ---; ls /sys/fs/cgroup; touch /sys/fs/cgroup/x 2>&1; true").Trim();
        var dflt = Ok("create", "--network", "none", "busybox", "true").Trim();
        try
        {
            Assert.Equal("host", Ok("inspect", "-f", "{{.HostConfig.CgroupnsMode}}", id).Trim());
            Assert.Equal("private", Ok("inspect", "-f", "{{.HostConfig.CgroupnsMode}}", dflt).Trim());
            var output = Ok("start", "-a", id);
            var parts = output.Split("---\n");
            // The host's (the daemon's) view: the full path of the container's cgroup, from the top.
            var memoryOrUnified = Mode == CgroupMode.V2 ? "0::" : ":memory:";
            Assert.Contains($"{memoryOrUnified}/{daemon.CgroupParent}/{id}\n", parts[0]);
            Assert.Equal(HostCgroupNs, parts[1].Trim());
            // The host's tree, read-only.
            Assert.Contains(Mode == CgroupMode.V2 ? "cgroup.controllers" : "memory", parts[2]);
            Assert.Contains("Read-only file system", parts[2]);
        }
        finally { daemon.Gocker("rm", "-f", id, dflt); }
    }

    [Fact]
    public void A_bad_mode_is_refused_naming_it()
    {
        var r = daemon.Gocker("run", "--rm", "--network", "none", "--cgroupns", "bogus", "busybox", "true");
        Assert.True(r.ExitCode == 125, r.ToString());
        Assert.Contains("CgroupnsMode", r.Stderr);
        Assert.Contains("bogus", r.Stderr);
        var (head, body) = RawHttp.Request(daemon.Socket, "POST", "/v1.43/containers/create",
            """{"Image":"busybox","Cmd":["true"],"HostConfig":{"CgroupnsMode":"elsewhere"}}""");
        var text = System.Text.Encoding.UTF8.GetString(body);
        Assert.True(head.StartsWith("HTTP/1.1 400", StringComparison.Ordinal), head + text);
        Assert.Contains("HostConfig.CgroupnsMode", text);
        Assert.Contains("elsewhere", text);
    }

    [Fact]
    public void Privileged_gets_the_tree_read_write()
    {
        var output = Ok("run", "--rm", "--network", "none", "--privileged", "busybox", "sh", "-c",
            "grep ' /sys/fs/cgroup' /proc/self/mountinfo; echo ---; cat /proc/self/cgroup");
        var parts = output.Split("---\n");
        var mounts = parts[0].Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.NotEmpty(mounts);
        Assert.All(mounts, m => Assert.Contains("rw", m.Split(' ')[5].Split(',')));
        AssertAtRoot(parts[1]);
    }

    [DockerCliFact]
    public void The_docker_clis_cgroupns_flag_works()
    {
        var (code, output, err) = DockerCliFactAttribute.Run(daemon.Socket, daemon.Root, null,
            "run", "--rm", "--network", "none", "--cgroupns", "private", "-m", "64m", "busybox", "sh", "-c", $"cat {MemoryLimitFile} /proc/self/cgroup");
        Assert.True(code == 0, $"docker run: {code}\n{output}\n{err}\n{daemon.DaemonLog}");
        var lines = output.Split('\n', 2);
        Assert.Equal((64L << 20).ToString(), lines[0].Trim());
        AssertAtRoot(lines[1]);
    }
}

/// <summary>A remapped container (userns-remap) gets its cgroup namespace too, owned by its user
/// namespace (the kernel wants that to mount a cgroup filesystem there).</summary>
public sealed class CgroupNamespaceUsernsTests : IDisposable
{
    readonly LifecycleDaemon _d = new(configHocon: "gocker { userns-remap = default }");

    public void Dispose() => _d.Dispose();

    [Fact]
    public void A_remapped_container_reads_its_limit_read_only_from_its_own_namespace()
    {
        var limit = CgroupNamespaceTests.MemoryLimit;
        var id = _d.Ok("run", "-d", "-m", "64m", "busybox", "sh", "-c", "sleep 600").Trim();
        try
        {
            var cmd = $"cat {limit}; echo ---; cat /proc/self/cgroup; echo ---; (echo 1 > {limit}) 2>&1; " +
                $"find /sys/fs/cgroup/ -mindepth {CgroupNamespaceTests.ChildDepth} -type d; echo ---; cat /proc/self/uid_map";
            foreach (var output in new[] { _d.Ok("exec", id, "sh", "-c", cmd), _d.Ok("run", "--rm", "-m", "64m", "busybox", "sh", "-c", cmd) })
            {
                var parts = output.Split("---\n");
                Assert.Equal((64L << 20).ToString(), parts[0].Trim());
                Assert.All(parts[1].Split('\n', StringSplitOptions.RemoveEmptyEntries), l => Assert.EndsWith(":/", l));
                // The write fails and no child cgroup is in sight (the find prints nothing).
                Assert.Single(parts[2].Split('\n', StringSplitOptions.RemoveEmptyEntries));
                Assert.Contains("Read-only file system", parts[2]);
                Assert.DoesNotContain(_d.CgroupParent, output);
                // Really remapped: root inside is not the host's root.
                Assert.DoesNotMatch(@"^\s*0\s+0\s", parts[3]);
            }
            var r = _d.Gocker("run", "--rm", "--cgroupns", "host", "busybox", "true");
            Assert.True(r.ExitCode == 125, r.ToString());
            Assert.Contains("CgroupnsMode", r.Stderr);
        }
        finally { _d.Gocker("rm", "-f", id); }
    }
}
