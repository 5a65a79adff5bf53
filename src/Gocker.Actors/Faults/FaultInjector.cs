using Akka.Configuration;

namespace Gocker.Actors.Faults;

/// <summary>
/// Faults armed for experiments: per container (`gocker debug inject-fault`, POST /debug/faults) and
/// daemon-wide (HOCON `gocker.faults { cgroup-write = N, spawn = N, mount = N }`). A count is the
/// number of times the fault fires; each firing consumes one. The per-container count is used
/// first, then the global one. Consulted by CgroupActor (before its start-path writes),
/// NamespaceActor (before a spawn) and ContainerActor (the mount fault goes into the InitSpec).
/// Thread-safe: actors of different containers consult it in parallel.
/// </summary>
public sealed class FaultInjector
{
    /// <summary>A container cannot arm more than this (a typo like 1000000 would otherwise mean
    /// a start that retries for ever under a retry policy that allows it).</summary>
    public const int MaxCount = 1000;

    readonly object _lock = new();
    readonly Dictionary<(string Container, FaultKind Kind), int> _armed = [];
    readonly int[] _global = new int[FaultKinds.All.Count];

    /// <summary>Arms (count > 0) or disarms (count = 0) a fault for one container's next starts.</summary>
    public void Arm(string containerId, FaultKind kind, int count)
    {
        Check(count);
        lock (_lock)
        {
            if (count == 0) _armed.Remove((containerId, kind));
            else _armed[(containerId, kind)] = count;
        }
    }

    /// <summary>Arms a fault for whichever container next reaches the step (HOCON gocker.faults).</summary>
    public void ArmGlobal(FaultKind kind, int count)
    {
        Check(count);
        lock (_lock) _global[(int)kind] = count;
    }

    /// <summary>Reads gocker.faults (absent keys: 0) and arms the global counts.</summary>
    public void ArmGlobal(Config? faults)
    {
        if (faults is null || faults.IsEmpty) return;
        foreach (var k in FaultKinds.All)
        {
            if (!faults.HasPath(k.Name())) continue;
            var n = faults.GetInt(k.Name());
            if (n < 0 || n > MaxCount) throw new ArgumentException($"gocker.faults.{k.Name()} = {n}: use a count from 0 to {MaxCount}");
            ArmGlobal(k, n);
        }
    }

    /// <summary>How many times the fault is still armed for this container (its own count only).</summary>
    public int Armed(string containerId, FaultKind kind)
    {
        lock (_lock) return _armed.GetValueOrDefault((containerId, kind));
    }

    public int ArmedGlobal(FaultKind kind)
    {
        lock (_lock) return _global[(int)kind];
    }

    /// <summary>True (and one firing consumed) when the fault is armed for this container or globally.</summary>
    public bool TryConsume(string containerId, FaultKind kind)
    {
        lock (_lock)
        {
            if (_armed.TryGetValue((containerId, kind), out var n))
            {
                if (n <= 1) _armed.Remove((containerId, kind));
                else _armed[(containerId, kind)] = n - 1;
                return true;
            }
            if (_global[(int)kind] > 0) { _global[(int)kind]--; return true; }
            return false;
        }
    }

    /// <summary>Throws the injected fault when it is armed (and consumes one firing).</summary>
    public void ThrowIfArmed(string containerId, FaultKind kind)
    {
        if (TryConsume(containerId, kind)) throw new InjectedFaultException(kind);
    }

    /// <summary>Drops a removed container's armed faults.</summary>
    public void Forget(string containerId)
    {
        lock (_lock)
        {
            foreach (var k in FaultKinds.All) _armed.Remove((containerId, k));
        }
    }

    static void Check(int count)
    {
        if (count < 0 || count > MaxCount) throw new ArgumentException($"fault count {count}: use 0 (disarm) to {MaxCount}");
    }
}
