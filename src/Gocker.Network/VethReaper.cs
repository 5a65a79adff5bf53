using System.Diagnostics;

namespace Gocker.Network;

/// <summary>
/// Makes sure a container's host-side veth devices are gone once its network namespace was let go.
/// Why this exists: the bridge plugin's DEL deletes the veth from inside the namespace, and that
/// netlink call alone costs ~17-35 ms (unregistering a device waits for RCU grace periods under
/// the RTNL lock). When the container's processes are gone and the pin is dropped, the namespace's
/// last reference goes away and the kernel deletes both veth ends by itself. That is NOT synchronous
/// with the last reference: net namespaces are freed by the cleanup_net work item, which batches
/// dying namespaces, so the host end lingers for ~1-10 ms (60 ms seen under load). Removal waits
/// for it here (overlapping the IPAM release), so that nothing is left when `rm` returns.
/// If something else still holds the namespace (a process that joined it, orphaned TCP sockets
/// finishing their FIN handshake), the device would stay: after a grace period it is deleted from
/// the host side with ip(8), which deletes its peer too.
/// </summary>
internal static class VethReaper
{
    public static readonly TimeSpan KernelGrace = TimeSpan.FromSeconds(1);

    /// <summary>Returns once none of <paramref name="devices"/> exists in the host namespace.</summary>
    public static void AwaitGone(IReadOnlyCollection<string> devices, TimeSpan grace)
    {
        if (devices.Count == 0) return;
        var sw = Stopwatch.StartNew();
        while (devices.Any(Exists))
        {
            if (sw.Elapsed >= grace)
            {
                foreach (var d in devices.Where(Exists)) Delete(d);
                return;
            }
            Thread.Sleep(1);
        }
    }

    /// <summary>True for names a kernel device can have (what ends up in /sys/class/net/NAME).</summary>
    public static bool IsDeviceName(string name) =>
        name.Length is > 0 and <= 15 && name is not "." and not ".." && !name.Any(ch => ch is '/' or ':' || char.IsWhiteSpace(ch) || char.IsControl(ch));

    static bool Exists(string device) => Directory.Exists("/sys/class/net/" + device);

    static void Delete(string device)
    {
        var psi = new ProcessStartInfo("ip", ["link", "delete", device]) { RedirectStandardError = true, RedirectStandardOutput = true };
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0 && Exists(device))
            throw new InvalidOperationException($"ip link delete {device}: {err.Result.Trim()}");
    }
}
