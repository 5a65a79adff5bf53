namespace Gocker.Network.Cni;

/// <summary>A CNI plugin failed: carries the plugin, the command and the plugin's own message.</summary>
public sealed class CniException(string plugin, string command, string message, int code = 0)
    : Exception($"cni {plugin} {command}: {message}")
{
    public string Plugin { get; } = plugin;
    public string Command { get; } = command;
    /// <summary>The CNI error code (spec: 1 incompatible version ... 11 try again later; 0 = none given).</summary>
    public int Code { get; } = code;
}
