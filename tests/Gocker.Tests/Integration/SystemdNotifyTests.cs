using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace Gocker.Tests.Integration;

/// <summary>
/// gockerd as a systemd Type=notify service, without systemd: the test is the service manager. It
/// binds the notify socket (AF_UNIX SOCK_DGRAM), starts gockerd with NOTIFY_SOCKET as systemd does,
/// from a parent process named "systemd" (Microsoft.Extensions.Hosting.Systemd believes it runs under
/// systemd when it is PID 1 or its parent's comm is "systemd"), and checks the protocol: READY=1 only
/// once the API answers, STOPPING=1 on SIGTERM, and the containers left running (KillMode=process).
/// </summary>
[Trait("Needs", "root")]
public sealed class SystemdNotifyTests : IDisposable
{
    readonly string _root;
    readonly string _cgroupParent;
    readonly TestNetworkSlot _net;
    string Sock => Path.Combine(_root, "gocker.sock");

    public SystemdNotifyTests()
    {
        GockerBinaries.Require();
        var tag = Guid.NewGuid().ToString("N")[..10];
        _root = Path.Combine("/tmp", "gocker-sd-" + tag);
        _cgroupParent = "gocker-sd-" + tag;
        _net = new TestNetworkSlot(tag);
        Directory.CreateDirectory(_root);
    }

    public void Dispose()
    {
        foreach (var dir in CgroupDirs()) { try { TestCgroups.RemoveTree(dir); } catch { } }
        try { TestNetworkSlot.DeleteBridge(_net.Bridge); } catch { }
        try { _net.DeleteNetworkRules(); } catch { }
        try { TestNetworkSlot.DeleteBridgeRules([_net.Bridge]); } catch { }
        try { Directory.Delete(_root, true); } catch { }
    }

    IEnumerable<string> CgroupDirs() =>
        File.ReadAllLines("/proc/self/mountinfo").Select(l => l.Split(" - "))
            .Where(p => p.Length == 2 && (p[1].StartsWith("cgroup ") || p[1].StartsWith("cgroup2 ")))
            .Select(p => Path.Combine(p[0].Split(' ')[4], _cgroupParent)).Where(Directory.Exists);

    bool Ping()
    {
        try
        {
            using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            s.Connect(new UnixDomainSocketEndPoint(Sock));
            s.Send("GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n"u8);
            var buf = new byte[512];
            return Encoding.ASCII.GetString(buf, 0, s.Receive(buf)).StartsWith("HTTP/1.1 200");
        }
        catch (SocketException) { return false; }
    }

    static List<string> ReceiveUntil(Socket notify, string want, string what)
    {
        var got = new List<string>();
        var buf = new byte[4096];
        while (!got.Contains(want))
        {
            int n;
            try { n = notify.Receive(buf); }
            catch (SocketException ex) { throw new TimeoutException($"{what}: no {want} (got: {string.Join(" | ", got)}): {ex.Message}"); }
            got.AddRange(Encoding.UTF8.GetString(buf, 0, n).Split('\n', StringSplitOptions.RemoveEmptyEntries));
        }
        return got;
    }

    string Console(params string[] args)
    {
        var psi = new ProcessStartInfo(GockerBinaries.Gocker) { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("-H"); psi.ArgumentList.Add("unix://" + Sock);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd();
        var error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"gocker {string.Join(' ', args)}: {error}");
        return output.Trim();
    }

    [Fact]
    public void Gockerd_notifies_ready_once_the_api_answers_and_stopping_on_sigterm_and_leaves_containers_running()
    {
        var notifyPath = Path.Combine(_root, "notify.sock");
        using var notify = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        notify.Bind(new UnixDomainSocketEndPoint(notifyPath));
        notify.ReceiveTimeout = 60_000;

        // The service manager: a process whose comm is "systemd" (busybox's sh under that file name).
        var fakeSystemd = Path.Combine(_root, "systemd");
        File.Copy("/bin/busybox", fakeSystemd);
        File.SetUnixFileMode(fakeSystemd, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        var gockerd = string.Join(' ', new[] { GockerBinaries.Gockerd, "--data-root", Path.Combine(_root, "data"), "--exec-root", Path.Combine(_root, "exec"),
            "-H", "unix://" + Sock, "--cgroup-parent", _cgroupParent }.Concat(_net.DaemonArgs));
        var psi = new ProcessStartInfo("/bin/bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add($"exec -a sh {fakeSystemd} -c '{gockerd} >{_root}/gockerd.log 2>&1 & echo $!; wait'");
        psi.Environment["NOTIFY_SOCKET"] = notifyPath;
        using var manager = Process.Start(psi)!;
        var pid = int.Parse(manager.StandardOutput.ReadLine()!);
        string Log() => File.Exists(Path.Combine(_root, "gockerd.log")) ? File.ReadAllText(Path.Combine(_root, "gockerd.log")) : "";
        try
        {
            Assert.Equal("systemd\n", File.ReadAllText($"/proc/{File.ReadAllText($"/proc/{pid}/stat").Split(") ")[1].Split(' ')[1]}/comm"));

            var messages = ReceiveUntil(notify, "READY=1", "start\n" + Log());
            // Ready means ready: the API answers at once, with the socket's final mode.
            Assert.True(Ping(), "READY=1 came before the API answered\n" + Log());
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite,
                File.GetUnixFileMode(Sock));
            Assert.DoesNotContain("STOPPING=1", messages);

            var id = Console("run", "-d", "--network", "none", "busybox", "sleep", "600");
            var containerPid = (int)System.Text.Json.Nodes.JsonNode.Parse(Console("inspect", id))!.AsArray()[0]!["State"]!["Pid"]!;

            // systemctl stop with KillMode=process: SIGTERM to the main process only.
            Assert.Equal(0, Tmds.Linux.LibC.kill(pid, 15));
            ReceiveUntil(notify, "STOPPING=1", "stop\n" + Log());
            Assert.True(manager.WaitForExit(30_000), "gockerd did not exit on SIGTERM\n" + Log());
            Assert.Equal(0, manager.ExitCode);
            // The container is in its own cgroup, not the service's, and runs on.
            Assert.True(Directory.Exists($"/proc/{containerPid}"), "the container died with the service");
            Assert.Contains($"/{_cgroupParent}/{id}", File.ReadAllText($"/proc/{containerPid}/cgroup"));
        }
        finally
        {
            try { Tmds.Linux.LibC.kill(pid, 9); } catch { }
            if (!manager.HasExited) manager.Kill(true);
        }
    }

    [Fact]
    public void The_unit_file_matches_what_gockerd_does()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Gocker.sln"))) dir = dir.Parent;
        Assert.NotNull(dir);
        var lines = File.ReadAllLines(Path.Combine(dir!.FullName, "packaging", "systemd", "gockerd.service"))
            .Select(l => l.Trim()).Where(l => l.Length > 0 && l[0] != '#').ToList();
        // gockerd sends READY=1/STOPPING=1 itself (UseSystemd): Type=notify, main process = gockerd.
        Assert.Contains("Type=notify", lines);
        Assert.Contains(lines, l => l.StartsWith("ExecStart=") && l.Split(' ')[0].EndsWith("/gockerd"));
        // Containers and the terminal keeper outlive a service stop: only gockerd is signalled.
        Assert.Contains("KillMode=process", lines);
        Assert.DoesNotContain(lines, l => l.StartsWith("NotifyAccess=") && l != "NotifyAccess=main");
    }
}
