using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace Gocker.Tests.Integration;

public sealed record CliResult(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Stdout}\n--- stderr\n{Stderr}";
}

/// <summary>
/// A real gockerd on its own socket, data root, exec root and cgroup parent, driven through the
/// real console. Each test class gets one; classes run in parallel without touching each other.
/// </summary>
public sealed class DaemonFixture : IDisposable
{
    public string Root { get; }
    public string DataRoot => Path.Combine(Root, "data");
    public string ExecRoot => Path.Combine(Root, "exec");
    public string Socket => Path.Combine(Root, "gocker.sock");
    public string CgroupParent { get; }
    public TestNetworkSlot Net { get; }
    public string Secret { get; } = "host-secret-" + Guid.NewGuid().ToString("N")[..8];
    readonly Process _daemon;
    readonly StringBuilder _daemonLog = new();

    public DaemonFixture() : this(null) { }

    /// <summary>With configHocon, the daemon also gets --config FILE with that text. With
    /// dataRootTmpfsSize ("24m"), the data root is a tmpfs of that size (a small disk to fill),
    /// unmounted by Dispose.</summary>
    internal DaemonFixture(string? configHocon, int netnsPool = 0, string? dataRootTmpfsSize = null)
    {
        GockerBinaries.Require();
        var tag = Guid.NewGuid().ToString("N")[..10];
        Root = Path.Combine("/tmp", "gocker-it-" + tag);
        CgroupParent = "gocker-it-" + tag;
        Net = new TestNetworkSlot(tag) { NetnsPool = netnsPool };
        Directory.CreateDirectory(Root);
        if (dataRootTmpfsSize is not null)
        {
            Directory.CreateDirectory(DataRoot);
            RunTool("mount", "-t", "tmpfs", "-o", $"size={dataRootTmpfsSize},mode=0711", "gocker-it-data", DataRoot);
            _tmpfsDataRoot = true;
        }
        var psi = new ProcessStartInfo(GockerBinaries.Gockerd)
        {
            ArgumentList = { "--data-root", DataRoot, "--exec-root", ExecRoot, "-H", "unix://" + Socket, "--cgroup-parent", CgroupParent },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in Net.DaemonArgs) psi.ArgumentList.Add(a);
        // A variable only the daemon has: containers must never see it.
        psi.Environment["GOCKER_IT_SECRET"] = Secret;
        if (configHocon is not null)
        {
            var config = Path.Combine(Root, "gocker.hocon");
            File.WriteAllText(config, configHocon);
            psi.ArgumentList.Add("--config");
            psi.ArgumentList.Add(config);
        }
        _daemon = Process.Start(psi)!;
        _daemon.OutputDataReceived += (_, e) => { lock (_daemonLog) _daemonLog.AppendLine(e.Data); };
        _daemon.ErrorDataReceived += (_, e) => { lock (_daemonLog) _daemonLog.AppendLine(e.Data); };
        _daemon.BeginOutputReadLine();
        _daemon.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!Ping())
        {
            if (_daemon.HasExited) throw new InvalidOperationException($"gockerd exited with {_daemon.ExitCode}:\n{DaemonLog}");
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"gockerd did not answer /_ping:\n{DaemonLog}");
            Thread.Sleep(50);
        }
    }

    public string DaemonLog { get { lock (_daemonLog) return _daemonLog.ToString(); } }

    readonly bool _tmpfsDataRoot;

    static void RunTool(string tool, params string[] args)
    {
        var psi = new ProcessStartInfo(tool) { RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{tool} {string.Join(' ', args)}: exit {p.ExitCode}: {err}");
    }

    /// <summary>The daemon's output once it contains <paramref name="text"/> (or after 10 s): its
    /// loggers write from queues of their own and its output is read asynchronously, so a line
    /// may arrive after the request that caused it was answered.</summary>
    public string DaemonLogWith(string text)
    {
        for (var deadline = DateTime.UtcNow.AddSeconds(10); !DaemonLog.Contains(text) && DateTime.UtcNow < deadline;)
            Thread.Sleep(20);
        return DaemonLog;
    }
    public int DaemonPid => _daemon.Id;

    public bool Ping()
    {
        try
        {
            using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            s.Connect(new UnixDomainSocketEndPoint(Socket));
            s.Send("GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n"u8);
            var buf = new byte[512];
            var n = s.Receive(buf);
            var text = Encoding.ASCII.GetString(buf, 0, n);
            return text.StartsWith("HTTP/1.1 200") ;
        }
        catch (SocketException) { return false; }
    }

    /// <summary>Runs the real console against this daemon.</summary>
    public CliResult Gocker(params string[] args) => GockerWithInput(null, args);

    public CliResult GockerWithInput(string? stdin, params string[] args)
    {
        var psi = new ProcessStartInfo(GockerBinaries.Gocker)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("-H");
        psi.ArgumentList.Add("unix://" + Socket);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        if (stdin is not null) p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(120_000))
        {
            p.Kill(true);
            throw new TimeoutException($"gocker {string.Join(' ', args)} did not finish\n{DaemonLog}");
        }
        p.WaitForExit();
        return new CliResult(p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Directories of this daemon's cgroup parent in every mounted hierarchy.</summary>
    public IEnumerable<string> CgroupParentDirs() =>
        File.ReadAllLines("/proc/self/mountinfo")
            .Select(l => l.Split(" - "))
            .Where(p => p.Length == 2 && (p[1].StartsWith("cgroup ") || p[1].StartsWith("cgroup2 ")))
            .Select(p => Path.Combine(p[0].Split(' ')[4], CgroupParent))
            .Where(Directory.Exists);

    /// <summary>Asserts nothing of any container is left: mounts, cgroups, run and data dirs.</summary>
    public void AssertNoLeaks()
    {
        // The netns pool's pins are the pool's (checked in AssertNoNetworkLeaks), nothing else may be.
        var pins = PoolSlots().Select(s => " " + s.Pin + " ").ToList();
        var mounts = File.ReadAllLines("/proc/self/mountinfo").Where(l => l.Contains(Root) && !pins.Any(l.Contains))
            .Where(l => !(_tmpfsDataRoot && l.Split(' ')[4] == DataRoot)).ToList(); // the fixture's own small disk
        Assert.True(mounts.Count == 0, "mounts left:\n" + string.Join('\n', mounts));
        foreach (var dir in CgroupParentDirs())
        {
            // The keeper stays, holding nothing, while its daemon runs (it leaves with the daemon).
            var children = Directory.GetDirectories(dir).Where(c => Path.GetFileName(c) != "gocker-keeper").ToArray();
            Assert.True(children.Length == 0, $"cgroups left under {dir}: {string.Join(", ", children)}");
        }
        var run = Path.Combine(ExecRoot, "containers");
        Assert.True(!Directory.Exists(run) || Directory.GetDirectories(run).Length == 0,
            "run dirs left: " + string.Join(", ", Directory.Exists(run) ? Directory.GetDirectories(run) : []));
        var data = Path.Combine(DataRoot, "containers");
        Assert.True(!Directory.Exists(data) || Directory.GetDirectories(data).Length == 0,
            "container dirs left: " + string.Join(", ", Directory.Exists(data) ? Directory.GetDirectories(data) : []));
        AssertTrashDrained(DataRoot, ExecRoot);
        AssertNoVolumeLeaks(DataRoot);
        AssertNoNetworkLeaks();
    }

    /// <summary>No anonymous volume outlives its container's removal unless a test keeps it on
    /// purpose (they all go with `rm -v`, `--rm` or a prune), and no removal is left half done (a
    /// dot-dir). Named volumes are the user's data, not a leak: tests remove the ones they make.</summary>
    internal static void AssertNoVolumeLeaks(string dataRoot)
    {
        var dir = Path.Combine(dataRoot, "volumes");
        if (!Directory.Exists(dir)) return;
        var left = Directory.GetDirectories(dir).Where(d =>
        {
            var name = Path.GetFileName(d);
            if (name.StartsWith('.')) return true;
            var meta = Path.Combine(d, "volume.json");
            return File.Exists(meta) && File.ReadAllText(meta).Contains("\"com.docker.volume.anonymous\"");
        }).ToList();
        Assert.True(left.Count == 0, "anonymous or half-removed volumes left: " + string.Join(", ", left));
    }

    /// <summary>Removed containers' dirs are deleted by the daemon's trash thread, behind the
    /// removal's answer: they must be gone within a while, none may stay.</summary>
    internal static void AssertTrashDrained(params string[] roots)
    {
        var trashes = roots.Select(r => Path.Combine(r, "trash")).ToList();
        List<string> Left() => trashes.Where(Directory.Exists).SelectMany(Directory.GetFileSystemEntries).ToList();
        for (var deadline = DateTime.UtcNow.AddSeconds(30); Left().Count > 0 && DateTime.UtcNow < deadline;)
            Thread.Sleep(20);
        var left = Left();
        Assert.True(left.Count == 0, "left in the trash: " + string.Join(", ", left));
    }

    public string NetworkState => Path.Combine(DataRoot, "network");

    /// <summary>The netns pool's slots once it is quiet (without a pool: whatever records exist, none expected).</summary>
    internal List<TestPoolSlots.Slot> PoolSlots() => Net.NetnsPool > 0 ? TestPoolSlots.Settled(NetworkState) : TestPoolSlots.Read(NetworkState);

    /// <summary>The subnets of this daemon's networks (as written in rules: "10.1.2.0/24").</summary>
    List<string> LiveNetworkSubnets()
    {
        var dir = Path.Combine(NetworkState, "networks");
        var list = new List<string>();
        if (Directory.Exists(dir))
            foreach (var f in Directory.GetFiles(dir, "*.json"))
                if (System.Text.Json.JsonDocument.Parse(File.ReadAllText(f)).RootElement.TryGetProperty("Subnet", out var s) && s.GetString() is { } subnet)
                    list.Add(subnet);
        return list;
    }

    /// <summary>The bridges of this daemon's networks (default and user networks).</summary>
    public List<string> Bridges()
    {
        var list = new List<string> { Net.Bridge };
        var dir = Path.Combine(NetworkState, "networks");
        if (Directory.Exists(dir))
            foreach (var f in Directory.GetFiles(dir, "*.json"))
                if (System.Text.Json.JsonDocument.Parse(File.ReadAllText(f)).RootElement.TryGetProperty("Bridge", out var b) && b.GetString() is { } name)
                    list.Add(name);
        return list.Distinct().ToList();
    }

    /// <summary>No veth on any of this daemon's bridges, no iptables/nft rule naming one of its
    /// addresses, no IP allocation, endpoint record or netns pin left.</summary>
    public void AssertNoNetworkLeaks()
    {
        // With a netns pool, its slots hold a veth, an IP and a pin each: exactly those may be there
        // (once no slot is being made), at most NetnsPool per network, each on a live network.
        var slots = PoolSlots();
        var slotVeths = slots.SelectMany(s => s.HostVeths).ToHashSet();
        var slotIds = slots.Select(s => s.Id).ToHashSet();
        Assert.True(Net.NetnsPool > 0 || slots.Count == 0, "pool slots of a daemon without a pool: " + string.Join(", ", slotIds));
        foreach (var perNetwork in slots.GroupBy(s => s.NetworkId))
            Assert.True(perNetwork.Count() <= Net.NetnsPool, $"network {perNetwork.Key} has {perNetwork.Count()} pool slots (pool size {Net.NetnsPool})");
        var liveNetworks = Directory.Exists(Path.Combine(NetworkState, "networks"))
            ? Directory.GetFiles(Path.Combine(NetworkState, "networks"), "*.json").Select(f => Path.GetFileNameWithoutExtension(f)).ToHashSet()
            : [];
        Assert.True(slots.All(s => liveNetworks.Contains(s.NetworkId)), "pool slots of removed networks: " + string.Join(", ", slots.Where(s => !liveNetworks.Contains(s.NetworkId)).Select(s => s.Id)));
        foreach (var s in slots)
            Assert.True(s.HostVeths.Count == 1 && Directory.Exists("/sys/class/net/" + s.HostVeths[0]), $"pool slot {s.Id}: its veth is missing");
        foreach (var bridge in Bridges())
        {
            var members = TestNetworkSlot.BridgeMembers(bridge).Where(m => !slotVeths.Contains(m)).ToList();
            Assert.True(members.Count == 0, $"veths left on {bridge}: {string.Join(", ", members)}");
        }
        // Per-network NAT rules of networks that still exist are not leaks (network rm removes them).
        // (nft's view of the same rule shows no comment: match those by the network's subnet.)
        var live = LiveNetworkSubnets();
        var rules = Net.RulesNamingSlot()
            .Where(r => !(r.Contains("masquerade", StringComparison.OrdinalIgnoreCase) && live.Any(r.Contains)))
            .ToList();
        Assert.True(rules.Count == 0, "rules left:\n" + string.Join('\n', rules));
        var ips = TestPoolSlots.IpAllocations(NetworkState).Where(a => !slotIds.Contains(a.Owner)).Select(a => $"{a.Ip} ({a.Owner})").ToList();
        Assert.True(ips.Count == 0, "IP allocations left: " + string.Join(", ", ips));
        Assert.True(TestPoolSlots.IpAllocations(NetworkState).Count(a => slotIds.Contains(a.Owner)) == slots.Count, "pool slots without their IP allocation");
        foreach (var sub in new[] { "endpoints", "netns" })
        {
            var d = Path.Combine(NetworkState, sub);
            var left = Directory.Exists(d) ? Directory.GetFileSystemEntries(d) : [];
            Assert.True(left.Length == 0, $"{sub} left: " + string.Join(", ", left));
        }
    }

    public void Dispose()
    {
        try
        {
            if (!_daemon.HasExited)
            {
                _daemon.Kill(entireProcessTree: false); // SIGKILL; containers are ours to clean below
                _daemon.WaitForExit(10_000);
            }
        }
        catch { }
        foreach (var dir in CgroupParentDirs().OrderByDescending(d => d.Length))
        {
            try { TestCgroups.RemoveTree(dir); } catch { }
        }
        try { TestPoolSlots.UnmountAll(Root); } catch { } // pool pins (the daemon was killed)
        var bridges = Bridges();
        foreach (var bridge in bridges)
        {
            try { TestNetworkSlot.DeleteBridge(bridge); } catch { }
        }
        try { Net.DeleteNetworkRules(); } catch { }
        try { TestNetworkSlot.DeleteBridgeRules(bridges); } catch { }
        if (_tmpfsDataRoot)
        {
            try { RunTool("umount", "-l", DataRoot); } catch { }
        }
        try { Directory.Delete(Root, true); } catch { }
    }

}
