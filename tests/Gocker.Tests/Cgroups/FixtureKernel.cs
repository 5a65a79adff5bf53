using Gocker.Syscalls.Cgroups;

namespace Gocker.Tests.Cgroups;

/// <summary>Plain-directory stand-in for cgroupfs: accepts only paths under its temp root (so a
/// write escaping the fixture fails the test), and plays the kernel's part by populating new
/// directories with interface files and emptying them before rmdir.</summary>
public sealed class FixtureKernel : ICgroupFsGuard, IDisposable
{
    public string Root { get; } = Directory.CreateTempSubdirectory("gocker-cgfix-").FullName;
    /// <summary>hierarchy root → files a new directory gets (content may depend on the parent dir).</summary>
    public Dictionary<string, Func<string, Dictionary<string, string>>> Templates { get; } = new();
    /// <summary>Relative names that should appear as directories (makes writes fail with EISDIR).</summary>
    public HashSet<string> BrokenFiles { get; } = new();
    public int GuardChecks;

    public string Hierarchy(string name, Dictionary<string, string> rootFiles, Func<string, Dictionary<string, string>> template)
    {
        var dir = Path.Combine(Root, name);
        Directory.CreateDirectory(dir);
        foreach (var (f, v) in rootFiles) File.WriteAllText(Path.Combine(dir, f), v);
        Templates[dir] = template;
        return dir;
    }

    public void EnsureCgroupDirectory(string directory)
    {
        Interlocked.Increment(ref GuardChecks);
        var full = Path.GetFullPath(directory);
        if (!full.StartsWith(Root + "/", StringComparison.Ordinal))
            throw new InvalidOperationException($"fixture guard: {directory} is outside the fixture");
    }

    public void OnDirectoryCreated(string directory)
    {
        var root = Templates.Keys.Single(r => directory.StartsWith(r + "/", StringComparison.Ordinal));
        foreach (var (f, v) in Templates[root](directory))
        {
            if (BrokenFiles.Contains(f)) Directory.CreateDirectory(Path.Combine(directory, f));
            else File.WriteAllText(Path.Combine(directory, f), v);
        }
    }

    public void OnRemovingDirectory(string directory)
    {
        foreach (var f in Directory.GetFiles(directory)) File.Delete(f);
        foreach (var d in Directory.GetDirectories(directory))
            if (Directory.GetFileSystemEntries(d).Length == 0 && BrokenFiles.Contains(Path.GetFileName(d))) Directory.Delete(d);
    }

    public static string ReadFile(string dir, string file) => File.ReadAllText(Path.Combine(dir, file)).Trim();

    public void Dispose()
    {
        try { Directory.Delete(Root, true); } catch (IOException) { }
    }

    // ---- ready-made layouts ----

    /// <summary>v1 with cpu and cpuacct co-mounted, as many distros do.</summary>
    public Dictionary<string, string> V1Layout(bool withMemsw = true, bool withPids = true)
    {
        var procs = new Dictionary<string, string> { ["cgroup.procs"] = "", ["tasks"] = "" };
        Dictionary<string, string> With(Dictionary<string, string> d) { foreach (var kv in procs) d[kv.Key] = kv.Value; return d; }
        var cpu = Hierarchy("cpu,cpuacct", new() { ["cgroup.procs"] = "" }, _ => With(new()
        {
            ["cpu.cfs_period_us"] = "100000", ["cpu.cfs_quota_us"] = "-1", ["cpu.shares"] = "1024", ["cpuacct.usage"] = "0",
        }));
        var cpuset = Hierarchy("cpuset", new() { ["cpuset.cpus"] = "0-1", ["cpuset.mems"] = "0", ["cgroup.procs"] = "" },
            _ => With(new() { ["cpuset.cpus"] = "", ["cpuset.mems"] = "" }));
        var memory = Hierarchy("memory", new() { ["cgroup.procs"] = "" }, _ =>
        {
            var d = With(new()
            {
                ["memory.limit_in_bytes"] = "9223372036854771712", ["memory.usage_in_bytes"] = "0",
                ["memory.oom_control"] = "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
            });
            if (withMemsw) d["memory.memsw.limit_in_bytes"] = "9223372036854771712";
            return d;
        });
        var freezer = Hierarchy("freezer", new() { ["cgroup.procs"] = "" }, _ => With(new() { ["freezer.state"] = "THAWED" }));
        var mounts = new Dictionary<string, string>
        {
            ["cpu"] = cpu, ["cpuacct"] = cpu, ["cpuset"] = cpuset, ["memory"] = memory, ["freezer"] = freezer,
        };
        if (withPids)
            mounts["pids"] = Hierarchy("pids", new() { ["cgroup.procs"] = "" }, _ => With(new() { ["pids.max"] = "max", ["pids.current"] = "0" }));
        return mounts;
    }

    /// <summary>A cgroup2 tree whose new directories get the files of the controllers their parent enabled.</summary>
    public string V2Layout(string name = "v2", string rootControllers = "cpuset cpu io memory hugetlb pids")
    {
        return Hierarchy(name, new()
        {
            ["cgroup.controllers"] = rootControllers, ["cgroup.subtree_control"] = "", ["cgroup.procs"] = "",
            ["cpuset.cpus.effective"] = "0-1", ["cpu.stat"] = "usage_usec 0\n",
        }, dir =>
        {
            var parent = Path.GetDirectoryName(dir)!;
            var enabled = CgroupValues.Words(File.ReadAllText(Path.Combine(parent, "cgroup.subtree_control")));
            var d = new Dictionary<string, string>
            {
                ["cgroup.controllers"] = string.Join(" ", enabled), ["cgroup.subtree_control"] = "", ["cgroup.procs"] = "",
                ["cgroup.freeze"] = "0", ["cgroup.events"] = "populated 0\nfrozen 0\n", ["cgroup.kill"] = "",
                ["cpu.stat"] = "usage_usec 0\n",
            };
            if (enabled.Contains("memory"))
            {
                d["memory.max"] = "max"; d["memory.swap.max"] = "max"; d["memory.current"] = "0";
                d["memory.events"] = "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n";
            }
            if (enabled.Contains("cpu")) { d["cpu.max"] = "max 100000"; d["cpu.weight"] = "100"; }
            if (enabled.Contains("pids")) { d["pids.max"] = "max"; d["pids.current"] = "0"; }
            if (enabled.Contains("cpuset"))
            {
                d["cpuset.cpus"] = "";
                d["cpuset.cpus.effective"] = File.ReadAllText(Path.Combine(parent, "cpuset.cpus.effective"));
            }
            return d;
        });
    }
}
