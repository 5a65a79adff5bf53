using System.Diagnostics;
using System.Runtime.InteropServices;
using Gocker.Network.Cni;

namespace Gocker.Network;

/// <summary>
/// The host rules a network needs, one set per network rather than per container:
/// - NAT to the outside, instead of the bridge plugin's ipMasq (which makes a chain and about six
///   iptables calls per container on every ADD and DEL: ~60 ms of a start and ~70 ms of a removal):
///     -t nat POSTROUTING -s SUBNET ! -o BRIDGE -m comment --comment "gocker-net BRIDGE" -j MASQUERADE
/// - Isolation between networks, as Docker's DOCKER-ISOLATION chains: traffic that leaves one Gocker
///   bridge for another is dropped (containers talk within their networks; a container on two
///   networks talks on both). Two shared chains, jumped to first from FORWARD:
///     GOCKER-ISOLATION-1:  -i BRIDGE ! -o BRIDGE -j GOCKER-ISOLATION-2   (leaves a Gocker bridge)
///     GOCKER-ISOLATION-2:  -o BRIDGE -j DROP                             (enters another one)
///   Host-originated traffic (OUTPUT) and traffic from the outside (published ports) never match.
/// A rule's text depends only on the bridge and the subnet, never on the network's id or the data
/// root, so every daemon that uses the same bridge and subnet (restarts, other data roots) finds the
/// same rules: each exists exactly once on the host. Ensure lists the chain, adds what is missing and
/// deletes extra copies (and copies in the older "gocker-net ID12" form); Remove deletes every copy.
/// Both run under a host-wide flock (<see cref="LockPath"/>) so two daemons never interleave a check
/// and an add. The shared chains and FORWARD's jump go when the last rule in them goes.
/// </summary>
public sealed partial class NetworkRules
{
    public const string Isolation1 = "GOCKER-ISOLATION-1";
    public const string Isolation2 = "GOCKER-ISOLATION-2";
    const string CommentPrefix = "gocker-net ";
    /// <summary>Host-wide, not per data root: daemons on other data roots share the rules.</summary>
    public const string LockPath = "/run/gocker-netrules.lock";

    readonly HashSet<string> _ensured = new(StringComparer.Ordinal); // bridge + subnet
    readonly object _lock = new();

    public static string Comment(NetworkRecord net) => CommentPrefix + net.Bridge;

    static string Key(NetworkRecord net) => net.Bridge + " " + net.Subnet;

    static (string Table, string Chain, string[] Rule)[] Rules(NetworkRecord net) =>
    [
        ("nat", "POSTROUTING", ["-s", net.Subnet, "!", "-o", net.Bridge, "-m", "comment", "--comment", Comment(net), "-j", "MASQUERADE"]),
        ("filter", Isolation1, ["-i", net.Bridge, "!", "-o", net.Bridge, "-j", Isolation2]),
        ("filter", Isolation2, ["-o", net.Bridge, "-j", "DROP"]),
    ];

    /// <summary>Makes sure the network's rules exist exactly once. Cheap after the first call while
    /// the bridge device exists: a daemon that removes the rules (network rm, a clean stop, another
    /// daemon's clean stop on the same bridge) removes the bridge with them, so a missing bridge
    /// means "check again".</summary>
    public void Ensure(NetworkRecord net)
    {
        lock (_lock)
        {
            if (_ensured.Contains(Key(net)) && BridgeExists(net.Bridge)) return;
            using (HostLock.Acquire())
            {
                EnsureChains();
                foreach (var (table, chain, rule) in Rules(net))
                {
                    var copies = Copies(table, chain, net, rule);
                    // The first canonical copy stays; duplicates and the older id-named form go.
                    var keep = copies.FindIndex(c => c.AsSpan().SequenceEqual(rule));
                    for (int i = 0; i < copies.Count; i++)
                        if (i != keep) Delete(table, chain, copies[i]);
                    if (keep >= 0) continue;
                    var (code, err) = Iptables(table, ["-A", chain, .. rule]);
                    if (code != 0) throw new CniException("host-rules", "ADD", $"iptables -t {table} -A {chain} {string.Join(' ', rule)}: {err.Trim()}");
                }
            }
            _ensured.Add(Key(net));
        }
    }

    /// <summary>Deletes every copy of the network's rules (absent is fine), then the shared chains
    /// when no rule is left in them.</summary>
    public void Remove(NetworkRecord net)
    {
        lock (_lock)
        {
            _ensured.Remove(Key(net));
            if (net.Bridge.Length == 0) return;
            using (HostLock.Acquire())
            {
                foreach (var (table, chain, rule) in Rules(net))
                    foreach (var copy in Copies(table, chain, net, rule))
                        Delete(table, chain, copy);
                DropChainsIfEmpty();
            }
        }
    }

    /// <summary>The rules of <paramref name="chain"/> that are copies of <paramref name="rule"/>, as
    /// iptables -S prints them (without "-A CHAIN"): the same words, or for NAT any Gocker comment on
    /// the same subnet and bridge (the older per-id form, one per data root that used the bridge).</summary>
    static List<string[]> Copies(string table, string chain, NetworkRecord net, string[] rule)
    {
        var (code, text, _) = IptablesOut(table, ["-S", chain]);
        var list = new List<string[]>();
        if (code != 0) return list; // no such chain: no copies
        foreach (var line in text.Split('\n'))
        {
            var w = Words(line);
            if (w.Count < 3 || w[0] != "-A" || w[1] != chain) continue;
            var r = w.Skip(2).ToArray();
            if (r.AsSpan().SequenceEqual(rule)) list.Add(r);
            else if (chain == "POSTROUTING" && r.Length == rule.Length && r[^1] == "MASQUERADE"
                     && r[..8].AsSpan().SequenceEqual(rule.AsSpan(0, 8)) && r[8].StartsWith(CommentPrefix, StringComparison.Ordinal))
                list.Add(r);
        }
        return list;
    }

    static void Delete(string table, string chain, string[] rule)
    {
        var (code, err) = Iptables(table, ["-D", chain, .. rule]);
        // Gone meanwhile is fine (a daemon outside the lock: an older Gocker); anything else is reported.
        if (code != 0 && code != 1)
            throw new CniException("host-rules", "DEL", $"iptables -t {table} -D {chain} {string.Join(' ', rule)}: {err.Trim()}");
    }

    static void EnsureChains()
    {
        foreach (var chain in new[] { Isolation1, Isolation2 })
            if (Iptables("filter", ["-n", "-L", chain]).Code != 0)
            {
                var (code, err) = Iptables("filter", ["-N", chain]);
                if (code != 0 && Iptables("filter", ["-n", "-L", chain]).Code != 0)
                    throw new CniException("host-rules", "ADD", $"iptables -N {chain}: {err.Trim()}");
            }
        if (Iptables("filter", ["-C", "FORWARD", "-j", Isolation1]).Code != 0)
        {
            var (code, err) = Iptables("filter", ["-I", "FORWARD", "1", "-j", Isolation1]);
            if (code != 0) throw new CniException("host-rules", "ADD", $"iptables -I FORWARD -j {Isolation1}: {err.Trim()}");
        }
    }

    /// <summary>With no rule left in either isolation chain (no network of any daemon has rules),
    /// FORWARD's jumps and the chains go too. Called under the host lock.</summary>
    static void DropChainsIfEmpty()
    {
        foreach (var chain in new[] { Isolation1, Isolation2 })
        {
            var (code, text, _) = IptablesOut("filter", ["-S", chain]);
            if (code == 0 && text.Split('\n').Any(l => l.StartsWith("-A ", StringComparison.Ordinal))) return;
        }
        for (int i = 0; i < 16 && Iptables("filter", ["-D", "FORWARD", "-j", Isolation1]).Code == 0; i++) { }
        // Isolation1 jumps to Isolation2: it goes first.
        foreach (var chain in new[] { Isolation1, Isolation2 })
            if (Iptables("filter", ["-n", "-L", chain]).Code == 0)
            {
                var (code, err) = Iptables("filter", ["-X", chain]);
                if (code != 0) throw new CniException("host-rules", "DEL", $"iptables -X {chain}: {err.Trim()}");
            }
    }

    /// <summary>Clean daemon stop: the rules and bridge device of every given network whose bridge
    /// has no port left (no container of this or any other daemon on it) go, so that a stopped daemon
    /// leaves nothing on the host; a network still in use keeps both (its containers keep running
    /// and the next daemon re-adopts them). The next use adds them back. Returns the bridges released.</summary>
    public List<string> ReleaseIdle(IEnumerable<NetworkRecord> networks)
    {
        var released = new List<string>();
        lock (_lock)
        {
            using (HostLock.Acquire())
            {
                foreach (var net in networks)
                {
                    if (net.Bridge.Length == 0 || BridgePorts(net.Bridge) > 0) continue;
                    _ensured.Remove(Key(net));
                    foreach (var (table, chain, rule) in Rules(net))
                        foreach (var copy in Copies(table, chain, net, rule))
                            Delete(table, chain, copy);
                    // Under the lock: another daemon's Ensure on this bridge waits, then sees it gone.
                    NetworkManager.DeleteBridge(net.Bridge);
                    released.Add(net.Bridge);
                }
                DropChainsIfEmpty();
            }
        }
        return released;
    }

    static bool BridgeExists(string bridge) => bridge.Length > 0 && Directory.Exists("/sys/class/net/" + bridge);

    /// <summary>Interfaces enslaved to the bridge (container or pool veths); 0 when it is gone.</summary>
    static int BridgePorts(string bridge)
    {
        var dir = $"/sys/class/net/{bridge}/brif";
        try { return Directory.Exists(dir) ? Directory.GetFileSystemEntries(dir).Length : 0; }
        catch (DirectoryNotFoundException) { return 0; }
    }

    /// <summary>Splits a line of iptables -S: words, with "double quoted" ones (comments) unquoted.</summary>
    internal static List<string> Words(string line)
    {
        var words = new List<string>();
        var cur = new System.Text.StringBuilder();
        bool quoted = false, any = false;
        for (int i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (quoted)
            {
                if (c == '\\' && i + 1 < line.Length) { cur.Append(line[++i]); continue; }
                if (c == '"') { quoted = false; continue; }
                cur.Append(c);
            }
            else if (c == '"') { quoted = true; any = true; }
            else if (char.IsWhiteSpace(c))
            {
                if (any || cur.Length > 0) words.Add(cur.ToString());
                cur.Clear();
                any = false;
            }
            else cur.Append(c);
        }
        if (any || cur.Length > 0) words.Add(cur.ToString());
        return words;
    }

    static (int Code, string Err) Iptables(string table, string[] args)
    {
        var (code, _, err) = IptablesOut(table, args);
        return (code, err);
    }

    static (int Code, string Out, string Err) IptablesOut(string table, string[] args)
    {
        var psi = new ProcessStartInfo("iptables", ["-w", "-t", table, .. args]) { RedirectStandardError = true, RedirectStandardOutput = true };
        try
        {
            using var p = Process.Start(psi)!;
            var err = p.StandardError.ReadToEndAsync();
            var output = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            return (p.ExitCode, output, err.Result);
        }
        catch (System.ComponentModel.Win32Exception ex) { return (127, "", "iptables: " + ex.Message); }
    }

    /// <summary>An exclusive flock on <see cref="LockPath"/>: daemons on other data roots exclude each
    /// other's check-then-add; the kernel drops it when a holder dies. Opened with libc open, not
    /// FileStream, whose own FileShare flock would make two holders deadlock on the upgrade.</summary>
    sealed partial class HostLock : IDisposable
    {
        readonly int _fd;
        HostLock(int fd) => _fd = fd;

        public static unsafe HostLock Acquire()
        {
            int fd;
            var path = System.Text.Encoding.UTF8.GetBytes(LockPath + "\0");
            fixed (byte* p = path)
                fd = Tmds.Linux.LibC.open(p, Tmds.Linux.LibC.O_RDWR | Tmds.Linux.LibC.O_CREAT | Tmds.Linux.LibC.O_CLOEXEC, 0b110_000_000);
            if (fd < 0) throw new IOException($"open {LockPath}: errno {Marshal.GetLastPInvokeError()}");
            while (flock(fd, 2 /* LOCK_EX */) != 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno == 4 /* EINTR */) continue;
                Tmds.Linux.LibC.close(fd);
                throw new IOException($"flock {LockPath}: errno {errno}");
            }
            return new HostLock(fd);
        }

        public void Dispose() => Tmds.Linux.LibC.close(_fd); // closing releases the flock

        [LibraryImport("libc", SetLastError = true)]
        private static partial int flock(int fd, int operation);
    }
}
