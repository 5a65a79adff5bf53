using System.Diagnostics;
using Gocker.Syscalls.Cgroups;

namespace Gocker.Tests.Cgroups;

/// <summary>The real cgroup tree of this machine, under a unique parent ("gocker-test-xxxx")
/// that is removed, with everything in it, at the end of the test.</summary>
public sealed class RealHost : IDisposable
{
    public string Parent { get; } = "gocker-test-" + Guid.NewGuid().ToString("N")[..8];
    public ICgroupManager Manager { get; }
    readonly List<ICgroup> _cgroups = new();
    readonly List<Process> _processes = new();

    public RealHost(ICgroupManager? manager = null) => Manager = manager ?? CgroupManagerFactory.Detect();

    public ICgroup Create(string name, CgroupLimits limits)
    {
        var cg = Manager.Create(Parent, name, limits);
        _cgroups.Add(cg);
        return cg;
    }

    /// <summary>Every hierarchy root the manager writes to.</summary>
    public IEnumerable<string> Roots => Manager switch
    {
        HybridCgroupManager h => h.ControllerMounts.Values.Append(h.UnifiedRoot).Distinct(),
        V1CgroupManager v1 => v1.ControllerMounts.Values.Distinct(),
        V2CgroupManager v2 => [v2.Root],
        _ => [],
    };

    public Process Start(string args, bool stdin = false)
    {
        var psi = new ProcessStartInfo("/bin/busybox", args)
        {
            RedirectStandardInput = stdin, RedirectStandardError = stdin, RedirectStandardOutput = stdin,
        };
        var p = Process.Start(psi)!;
        _processes.Add(p);
        return p;
    }

    /// <summary>"controller(s) → path" from /proc/pid/cgroup.</summary>
    public static Dictionary<string, string> CgroupsOf(int pid)
    {
        var map = new Dictionary<string, string>();
        foreach (var line in File.ReadAllLines($"/proc/{pid}/cgroup"))
        {
            var f = line.Split(':', 3);
            foreach (var c in f[1].Split(',')) map[c.Length == 0 ? "" : c] = f[2];
        }
        return map;
    }

    public static string ProcState(int pid) =>
        File.ReadAllLines($"/proc/{pid}/status").First(l => l.StartsWith("State:"))["State:".Length..].Trim();

    public void Dispose()
    {
        foreach (var p in _processes)
        {
            try { if (!p.HasExited) p.Kill(); } catch (InvalidOperationException) { }
        }
        foreach (var cg in _cgroups)
        {
            try { cg.Remove(); } catch (Exception) { /* report via the assertions of the test */ }
        }
        foreach (var root in Roots)
        {
            var dir = Path.Combine(root, Parent);
            for (int i = 0; i < 100 && Directory.Exists(dir); i++)
            {
                try { Directory.Delete(dir); } catch (IOException) { Thread.Sleep(20); }
            }
        }
    }
}
