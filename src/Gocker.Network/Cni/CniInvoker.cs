using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace Gocker.Network.Cni;

/// <summary>Runs one CNI plugin as the spec says: the plugin binary from CNI_PATH, the CNI_*
/// variables in its environment, the network configuration on stdin, the result (or an error
/// object) on stdout.</summary>
public sealed class CniInvoker(string cniPath)
{
    public string CniPath { get; } = cniPath;

    public sealed record Call(string Command, string ContainerId, string Netns, string IfName);

    public string Exec(string pluginType, Call call, string configJson)
    {
        var exe = Path.Combine(CniPath, pluginType);
        if (!File.Exists(exe)) throw new CniException(pluginType, call.Command, $"plugin not found at {exe} (install containernetworking-plugins)");
        var psi = new ProcessStartInfo(exe)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.Environment["CNI_COMMAND"] = call.Command;
        psi.Environment["CNI_CONTAINERID"] = call.ContainerId;
        psi.Environment["CNI_NETNS"] = call.Netns;
        psi.Environment["CNI_IFNAME"] = call.IfName;
        psi.Environment["CNI_PATH"] = CniPath;
        // bridge/portmap/firewall exec iptables and ip by name: make sure sbin is searched.
        var path = psi.Environment.TryGetValue("PATH", out var p) && !string.IsNullOrEmpty(p) ? p : "/usr/bin:/bin";
        if (!path.Split(':').Contains("/usr/sbin")) path = "/usr/sbin:/sbin:" + path;
        psi.Environment["PATH"] = path;

        using var proc = Process.Start(psi) ?? throw new CniException(pluginType, call.Command, "could not start the plugin");
        var stderrTask = proc.StandardError.ReadToEndAsync();
        var stdoutTask = proc.StandardOutput.ReadToEndAsync();
        try
        {
            proc.StandardInput.Write(configJson);
            proc.StandardInput.Close();
        }
        catch (IOException) { /* the plugin exited early: its stdout says why */ }
        proc.WaitForExit();
        var stdout = stdoutTask.GetAwaiter().GetResult();
        var stderr = stderrTask.GetAwaiter().GetResult();
        // Process.Dispose leaves streams that were read synchronously (StandardOutput/StandardError)
        // open until the finalizer runs: two pipe fds per plugin run would pile up in the daemon.
        proc.StandardOutput.Dispose();
        proc.StandardError.Dispose();
        if (proc.ExitCode == 0) return stdout;
        throw Error(pluginType, call.Command, proc.ExitCode, stdout, stderr);
    }

    static CniException Error(string plugin, string command, int exit, string stdout, string stderr)
    {
        try
        {
            using var doc = JsonDocument.Parse(stdout);
            var r = doc.RootElement;
            var msg = r.TryGetProperty("msg", out var m) ? m.GetString() ?? "" : "";
            if (r.TryGetProperty("details", out var d) && d.GetString() is { Length: > 0 } details) msg += ": " + details;
            int code = r.TryGetProperty("code", out var c) && c.TryGetInt32(out var ci) ? ci : 0;
            if (msg.Length > 0) return new CniException(plugin, command, msg, code);
        }
        catch (JsonException) { }
        var text = (stdout + stderr).Trim();
        return new CniException(plugin, command, text.Length > 0 ? text : $"exit status {exit}");
    }
}
