using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace Gocker.Tests.Integration;

/// <summary>
/// A real gockerd on its own roots, socket and cgroup parent that a test can kill -9 and start
/// again on the same roots (DaemonFixture keeps one daemon for a class; these tests need the
/// daemon's death itself). Dispose kills what is left: daemon, containers, cgroups, files.
/// </summary>
public sealed class LifecycleDaemon : IDisposable
{
    public string Root { get; }
    public string DataRoot => Path.Combine(Root, "data");
    public string ExecRoot => Path.Combine(Root, "exec");
    public string Socket => Path.Combine(Root, "gocker.sock");
    public string CgroupParent { get; }
    public TestNetworkSlot Net { get; }
    Process? _daemon;
    readonly StringBuilder _log = new();
    readonly string? _config;

    readonly bool _ownsNet;

    /// <param name="configHocon">With it, every start of the daemon also gets --config FILE with that text.</param>
    /// <param name="sharedNet">Another daemon's slot (same bridge and subnet, as two data roots on one
    /// host's default network): that daemon's Dispose cleans the bridge and rules, not this one's.</param>
    /// <param name="dataRootTmpfsSize">With it ("24m"), the data root is a tmpfs of that size (a small
    /// disk to fill, kept across the daemon's restarts), unmounted by Dispose.</param>
    public LifecycleDaemon(int netnsPool = 0, string? configHocon = null, TestNetworkSlot? sharedNet = null, string? dataRootTmpfsSize = null)
    {
        GockerBinaries.Require();
        var tag = Guid.NewGuid().ToString("N")[..10];
        Root = Path.Combine("/tmp", "gocker-lc-" + tag);
        CgroupParent = "gocker-lc-" + tag;
        _ownsNet = sharedNet is null;
        Net = sharedNet ?? new TestNetworkSlot(tag) { NetnsPool = netnsPool };
        Directory.CreateDirectory(Root);
        if (dataRootTmpfsSize is not null)
        {
            Directory.CreateDirectory(DataRoot);
            RunTool("mount", "-t", "tmpfs", "-o", $"size={dataRootTmpfsSize},mode=0711", "gocker-lc-data", DataRoot);
            _tmpfsDataRoot = true;
        }
        if (configHocon is not null)
        {
            _config = Path.Combine(Root, "gocker.hocon");
            File.WriteAllText(_config, configHocon);
        }
        Start();
    }

    readonly bool _tmpfsDataRoot;

    static void RunTool(string tool, params string[] args)
    {
        using var p = Process.Start(tool, args);
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{tool} {string.Join(' ', args)}: exit {p.ExitCode}");
    }

    public int Pid => _daemon?.Id ?? 0;
    public string Log { get { lock (_log) return _log.ToString(); } }

    public void Start()
    {
        if (_daemon is { HasExited: false }) throw new InvalidOperationException("daemon already running");
        var psi = new ProcessStartInfo(GockerBinaries.Gockerd)
        {
            ArgumentList = { "--data-root", DataRoot, "--exec-root", ExecRoot, "-H", "unix://" + Socket, "--cgroup-parent", CgroupParent },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in Net.DaemonArgs) psi.ArgumentList.Add(a);
        if (_config is not null) { psi.ArgumentList.Add("--config"); psi.ArgumentList.Add(_config); }
        var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, e) => { lock (_log) _log.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { lock (_log) _log.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        _daemon = p;
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!Ping())
        {
            if (p.HasExited) throw new InvalidOperationException($"gockerd exited with {p.ExitCode}:\n{Log}");
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"gockerd did not answer /_ping:\n{Log}");
            Thread.Sleep(50);
        }
    }

    /// <summary>SIGKILL: no shutdown code of the daemon runs.</summary>
    public void Kill9()
    {
        if (_daemon is null) return;
        _daemon.Kill(entireProcessTree: false);
        _daemon.WaitForExit(10_000);
        _daemon.Dispose();
        _daemon = null;
    }

    /// <summary>SIGTERM, as a service stop: the daemon's shutdown code runs.</summary>
    public void Stop()
    {
        if (_daemon is null) return;
        using (var k = Process.Start("kill", ["-TERM", _daemon.Id.ToString()])) k.WaitForExit();
        if (!_daemon.WaitForExit(30_000)) throw new TimeoutException("gockerd did not stop on SIGTERM:\n" + Log);
        _daemon.Dispose();
        _daemon = null;
    }

    public bool Ping()
    {
        try
        {
            using var s = new System.Net.Sockets.Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            s.Connect(new UnixDomainSocketEndPoint(Socket));
            s.Send("GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n"u8);
            var buf = new byte[512];
            var n = s.Receive(buf);
            return Encoding.ASCII.GetString(buf, 0, n).StartsWith("HTTP/1.1 200");
        }
        catch (SocketException) { return false; }
    }

    public CliResult Gocker(params string[] args)
    {
        var psi = new ProcessStartInfo(GockerBinaries.Gocker)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false,
        };
        psi.ArgumentList.Add("-H");
        psi.ArgumentList.Add("unix://" + Socket);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(120_000))
        {
            p.Kill(true);
            throw new TimeoutException($"gocker {string.Join(' ', args)} did not finish\n{Log}");
        }
        p.WaitForExit();
        return new CliResult(p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Runs the console and asserts it succeeded; returns its trimmed stdout.</summary>
    public string Ok(params string[] args)
    {
        var r = Gocker(args);
        Assert.True(r.ExitCode == 0, $"gocker {string.Join(' ', args)}: {r}\n--- daemon\n{Log}");
        return r.Stdout.Trim();
    }

    public IEnumerable<string> CgroupParentDirs() =>
        File.ReadAllLines("/proc/self/mountinfo")
            .Select(l => l.Split(" - "))
            .Where(p => p.Length == 2 && (p[1].StartsWith("cgroup ") || p[1].StartsWith("cgroup2 ")))
            .Select(p => Path.Combine(p[0].Split(' ')[4], CgroupParent))
            .Where(Directory.Exists);

    /// <summary>Nothing of any container left: mounts, cgroups, run dirs, data dirs.</summary>
    public void AssertNoLeaks()
    {
        var mounts = File.ReadAllLines("/proc/self/mountinfo").Where(l => l.Contains(Root))
            .Where(l => !(_tmpfsDataRoot && l.Split(' ')[4] == DataRoot)).ToList(); // the test's own small disk
        Assert.True(mounts.Count == 0, "mounts left:\n" + string.Join('\n', mounts));
        foreach (var dir in CgroupParentDirs())
        {
            // The keeper stays, holding nothing, while its daemon runs (it leaves with the daemon).
            var children = Directory.GetDirectories(dir).Where(c => Path.GetFileName(c) != "gocker-keeper").ToArray();
            Assert.True(children.Length == 0, $"cgroups left under {dir}: {string.Join(", ", children)}");
        }
        foreach (var d in new[] { Path.Combine(ExecRoot, "containers"), Path.Combine(DataRoot, "containers") })
            Assert.True(!Directory.Exists(d) || Directory.GetFileSystemEntries(d).Length == 0,
                $"left in {d}: " + string.Join(", ", Directory.Exists(d) ? Directory.GetFileSystemEntries(d) : []));
        DaemonFixture.AssertTrashDrained(DataRoot, ExecRoot);
        DaemonFixture.AssertNoVolumeLeaks(DataRoot);
    }

    public void Dispose()
    {
        try { Kill9(); } catch { }
        foreach (var dir in CgroupParentDirs().OrderByDescending(d => d.Length))
        {
            try { TestCgroups.RemoveTree(dir); } catch { }
        }
        try { TestPoolSlots.UnmountAll(Root); } catch { } // pool pins (the daemon was killed)
        if (_ownsNet)
        {
            try { TestNetworkSlot.DeleteBridge(Net.Bridge); } catch { }
            try { Net.DeleteNetworkRules(); } catch { }
            try { TestNetworkSlot.DeleteBridgeRules([Net.Bridge]); } catch { }
        }
        if (_tmpfsDataRoot)
        {
            try { RunTool("umount", "-l", DataRoot); } catch { }
        }
        try { Directory.Delete(Root, true); } catch { }
    }


}
