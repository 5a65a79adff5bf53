namespace Gocker.Actors.Faults;

/// <summary>An engine fault that can be injected for experiments. Each fails one step of a start
/// through the engine's real failure path (the child's Status.Failure, the init's exec-status pipe).</summary>
public enum FaultKind
{
    /// <summary>The CgroupActor's next start-path cgroup write (create with limits, or placing the init) fails.</summary>
    CgroupWrite,
    /// <summary>The NamespaceActor's next spawn of the init throws before anything is spawned.</summary>
    Spawn,
    /// <summary>The next init fails its rootfs setup (step mount-overlay) and reports it on the exec-status pipe.</summary>
    Mount,
}

public static class FaultKinds
{
    public static readonly IReadOnlyList<FaultKind> All = [FaultKind.CgroupWrite, FaultKind.Spawn, FaultKind.Mount];

    /// <summary>The name used by the CLI, the API and HOCON.</summary>
    public static string Name(this FaultKind kind) => kind switch
    {
        FaultKind.CgroupWrite => "cgroup-write",
        FaultKind.Spawn => "spawn",
        FaultKind.Mount => "mount",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    public static FaultKind Parse(string? name) => TryParse(name, out var k) ? k
        : throw new ArgumentException($"unknown fault kind '{name}': use cgroup-write, spawn or mount");

    public static bool TryParse(string? name, out FaultKind kind)
    {
        foreach (var k in All)
        {
            if (string.Equals(k.Name(), name, StringComparison.OrdinalIgnoreCase)) { kind = k; return true; }
        }
        kind = default;
        return false;
    }
}

/// <summary>The error an injected fault raises (its message names the fault, so a failed start says why).</summary>
public sealed class InjectedFaultException(FaultKind kind)
    : Exception($"injected fault: {kind.Name()} (gocker debug inject-fault)")
{
    public FaultKind Kind { get; } = kind;
}
