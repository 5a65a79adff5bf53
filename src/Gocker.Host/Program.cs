using System.CommandLine;
using Gocker.Host;

// gockerd: the Gocker daemon. Runs in the foreground; ready when GET /_ping on its socket answers OK.
var dataRoot = new Option<string?>("--data-root") { Description = "Root of persistent state (default /var/lib/gocker)" };
var execRoot = new Option<string?>("--exec-root") { Description = "Root of runtime state (default /run/gocker)" };
var host = new Option<string?>("--host", "-H") { Description = "Socket to serve the API on, unix://PATH (default unix:///run/gocker.sock)" };
var cgroupParent = new Option<string?>("--cgroup-parent") { Description = "Parent cgroup of every container (default gocker)" };
var config = new Option<string?>("--config") { Description = "HOCON configuration file (default /etc/gocker/gocker.hocon)" };
var bridge = new Option<string?>("--bridge", "-b") { Description = "Bridge device of the default network (default gocker0)" };
var bridgeSubnet = new Option<string?>("--bridge-subnet") { Description = "Subnet of the default network (default 172.28.0.0/16)" };
var addressPool = new Option<string?>("--address-pool") { Description = "Pool of /24s for user networks (default 172.29.0.0/16)" };
var defaultNetwork = new Option<string?>("--default-network") { Description = "Network of containers run without --network (default bridge)" };
var netnsPool = new Option<int?>("--netns-pool") { Description = "Pre-attached network namespaces kept ready per network (default 2; 0 = off)" };
var usernsRemap = new Option<string?>("--userns-remap") { Description = "Run containers in user namespaces mapped to a subordinate id range: default, USER[:GROUP] or UID[:GID] (/etc/subuid, /etc/subgid)" };
var root = new RootCommand("gockerd: the Gocker container engine daemon") { dataRoot, execRoot, host, cgroupParent, config, bridge, bridgeSubnet, addressPool, defaultNetwork, netnsPool, usernsRemap };
root.SetAction(async (parse, ct) =>
{
    DaemonConfig cfg;
    try
    {
        cfg = DaemonConfig.Load(parse.GetValue(config), parse.GetValue(dataRoot), parse.GetValue(execRoot),
            parse.GetValue(host), parse.GetValue(cgroupParent), parse.GetValue(bridge), parse.GetValue(bridgeSubnet),
            parse.GetValue(addressPool), parse.GetValue(defaultNetwork), parse.GetValue(netnsPool), parse.GetValue(usernsRemap));
    }
    catch (ArgumentException ex)
    {
        Console.Error.WriteLine($"gockerd: {ex.Message}");
        return 2;
    }
    try
    {
        return await Daemon.RunAsync(cfg, ct);
    }
    catch (DaemonStartupException ex)
    {
        Console.Error.WriteLine($"gockerd: {ex.Message}");
        return 1;
    }
});
return await root.Parse(args).InvokeAsync();
