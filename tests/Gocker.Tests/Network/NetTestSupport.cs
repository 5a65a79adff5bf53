using System.Diagnostics;
using Gocker.Network;

namespace Gocker.Tests.Network;

/// <summary>Runs host tools for the tests (ip, iptables-save, busybox in a netns).</summary>
internal static class Sh
{
    public static (int Code, string Out, string Err) Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return (p.ExitCode, o.Result, e.Result);
    }

    public static string Ok(string file, params string[] args)
    {
        var r = Run(file, args);
        if (r.Code != 0) throw new InvalidOperationException($"{file} {string.Join(' ', args)}: exit {r.Code}: {r.Err}{r.Out}");
        return r.Out;
    }

    /// <summary>iptables-save, plus nft's view when nft is installed (rules made by other tools).</summary>
    public static string Ruleset() =>
        Run("iptables-save").Out + (File.Exists("/usr/sbin/nft") ? Run("/usr/sbin/nft", "list", "ruleset").Out : "");
}

/// <summary>A network namespace made by the test (`ip netns add`), standing in for a container's.</summary>
internal sealed class TestNetns : IDisposable
{
    public string Name { get; } = "gnt" + Guid.NewGuid().ToString("N")[..10];
    public string Path => "/var/run/netns/" + Name;
    readonly List<Process> _bg = [];

    public TestNetns()
    {
        Sh.Ok("ip", "netns", "add", Name);
        Sh.Ok("ip", "netns", "exec", Name, "ip", "link", "set", "lo", "up");
    }

    public (int Code, string Out, string Err) Exec(params string[] args) => Sh.Run("ip", ["netns", "exec", Name, .. args]);

    /// <summary>A busybox httpd serving <paramref name="dir"/> on <paramref name="port"/> inside the netns.</summary>
    public void StartHttpd(string dir, int port)
    {
        var psi = new ProcessStartInfo("ip", ["netns", "exec", Name, "/bin/busybox", "httpd", "-f", "-p", port.ToString(), "-h", dir]);
        _bg.Add(Process.Start(psi)!);
        // Ready when the port answers from inside the netns (no sleeps).
        for (int i = 0; i < 200; i++)
        {
            if (Exec("/bin/busybox", "netstat", "-ltn").Out.Contains($":{port} ")) return;
            Thread.Sleep(25);
        }
        throw new InvalidOperationException("httpd did not come up");
    }

    public void Dispose()
    {
        foreach (var p in _bg) { try { p.Kill(true); p.WaitForExit(); } catch { } p.Dispose(); }
        Sh.Run("ip", "netns", "del", Name);
    }
}

/// <summary>A NetworkManager on its own temp state dir, bridge device and subnet, so that tests
/// (and test daemons) never share a bridge. Dispose detaches everything and removes the bridges.</summary>
internal sealed class TestNetworks : IDisposable
{
    public NetworkManager Manager { get; private set; }
    public string StateDir { get; }
    public string Bridge { get; }
    public string Subnet { get; private set; }
    readonly string _etcRoot;
    readonly string? _cniPath;

    /// <summary>NetworkOptions.NetnsPool of the manager (0: no pool, as before).</summary>
    public int NetnsPool { get; }

    public TestNetworks(string? stateDir = null, int netnsPool = 0, string? cniPath = null)
    {
        NetnsPool = netnsPool;
        _cniPath = cniPath;
        StateDir = stateDir ?? Directory.CreateTempSubdirectory("gocker-net-").FullName;
        _etcRoot = Directory.CreateTempSubdirectory("gocker-netetc-").FullName;
        Bridge = "gt" + Guid.NewGuid().ToString("N")[..10];
        for (int attempt = 0; ; attempt++)
        {
            Subnet = RandomSubnet(24);
            try
            {
                Manager = new NetworkManager(Options());
                return;
            }
            catch (NetworkConflictException) when (attempt < 20) { }
        }
    }

    public NetworkOptions Options() => new()
    {
        StateDir = StateDir, DefaultBridge = Bridge, DefaultSubnet = Subnet, SubnetPool = "10.255.255.0/24",
        NetnsPool = NetnsPool, CniPath = _cniPath ?? "/usr/lib/cni",
    };

    /// <summary>A "daemon restart": a new manager over the same state.</summary>
    public NetworkManager Reopen() => Manager = new NetworkManager(Options());

    /// <summary>A random /prefix in 10.128.0.0/9 (a different one for each test).</summary>
    public static string RandomSubnet(int prefix)
    {
        uint net = (10u << 24) | ((uint)Random.Shared.Next(128, 256) << 16) | ((uint)Random.Shared.Next(0, 256) << 8);
        var c = new Ipv4Cidr(net & (uint.MaxValue << (32 - prefix)), prefix);
        return c.ToString();
    }

    public NetworkRecord CreateUserNetwork(string name)
    {
        for (int attempt = 0; ; attempt++)
        {
            try { return Manager.Create(name, RandomSubnet(24)); }
            catch (NetworkConflictException e) when (attempt < 20 && e.Message.Contains("overlaps")) { }
        }
    }

    public string EtcDir(string id)
    {
        var d = System.IO.Path.Combine(_etcRoot, id);
        Directory.CreateDirectory(d);
        return d;
    }

    public static string NewId() => Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));

    public void Dispose()
    {
        try { Manager.CleanupStale(new HashSet<string>()); } catch { }
        try { Manager.DrainPools(); } catch { }
        foreach (var n in Manager.List())
        {
            try { if (!n.Network.IsDefault) Manager.Remove(n.Network.Id); } catch { }
            // The default network's NAT rule outlives the manager, as it outlives a daemon.
            try { new NetworkRules().Remove(n.Network); } catch { }
            try { NetworkManager.DeleteBridge(n.Network.Bridge); } catch { }
        }
        try { Directory.Delete(StateDir, true); } catch { }
        try { Directory.Delete(_etcRoot, true); } catch { }
    }
}
