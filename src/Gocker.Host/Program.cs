using System.CommandLine;
using Gocker.Host;

// gockerd: the Gocker daemon. Runs in the foreground; ready when GET /_ping on its socket answers OK.
var dataRoot = new Option<string?>("--data-root") { Description = "Root of persistent state (default /var/lib/gocker)" };
var execRoot = new Option<string?>("--exec-root") { Description = "Root of runtime state (default /run/gocker)" };
var host = new Option<string?>("--host", "-H") { Description = "Socket to serve the API on, unix://PATH (default unix:///run/gocker.sock)" };
var cgroupParent = new Option<string?>("--cgroup-parent") { Description = "Parent cgroup of every container (default gocker)" };
var config = new Option<string?>("--config") { Description = "HOCON configuration file (default /etc/gocker/gocker.hocon)" };
var root = new RootCommand("gockerd: the Gocker container engine daemon") { dataRoot, execRoot, host, cgroupParent, config };
root.SetAction(async (parse, ct) =>
{
    DaemonConfig cfg;
    try
    {
        cfg = DaemonConfig.Load(parse.GetValue(config), parse.GetValue(dataRoot), parse.GetValue(execRoot),
            parse.GetValue(host), parse.GetValue(cgroupParent));
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
