namespace Gocker.Syscalls.Cgroups;

public enum CgroupMode { V1, V2, Hybrid }

/// <summary>Resource limits as Docker's flags express them; null means "not set".</summary>
public sealed record CgroupLimits
{
    public long? MemoryBytes { get; init; }
    /// <summary>--cpus as a quota per period (e.g. 0.5 CPU = 50000 of 100000 us).</summary>
    public long? CpuQuotaMicros { get; init; }
    public long CpuPeriodMicros { get; init; } = 100_000;
    /// <summary>--cpu-shares (v1 cpu.shares; v2 converted to cpu.weight).</summary>
    public long? CpuShares { get; init; }
    public string? CpusetCpus { get; init; }
    public long? PidsMax { get; init; }
    /// <summary>The device allow-list (see <see cref="DeviceRule"/>): everything is denied except
    /// what these rules allow, later rules winning. Null leaves device access as the parent cgroup
    /// has it (no device control at all). Containers get <see cref="DeviceRules.DockerDefault"/>
    /// plus their --device rules, or <see cref="DeviceRules.AllowAll"/> when privileged. Written
    /// once at Create: v1 devices.deny/devices.allow where the v1 devices controller is mounted,
    /// else an eBPF program on the cgroup2 directory.</summary>
    public IReadOnlyList<DeviceRule>? Devices { get; init; }
    public static readonly CgroupLimits None = new();
}

public sealed record CgroupStats(long MemoryUsageBytes, long MemoryLimitBytes, long CpuUsageNanos, long PidsCurrent);

/// <summary>One cgroup driver per host mode (v1, v2, hybrid) behind one interface.</summary>
public interface ICgroupManager
{
    CgroupMode Mode { get; }
    /// <summary>Creates the cgroup "parent/name" in every hierarchy in use and applies the limits.
    /// Fails (and removes what it created) if it already exists: a cgroup is never shared.</summary>
    ICgroup Create(string parent, string name, CgroupLimits limits);
    /// <summary>Opens an existing cgroup (re-adoption after a daemon restart).</summary>
    ICgroup Open(string parent, string name);
    /// <summary>True if any hierarchy has a directory for parent/name.</summary>
    bool Exists(string parent, string name);
}

public interface ICgroup
{
    /// <summary>"parent/name", the same in every hierarchy.</summary>
    string RelativePath { get; }
    /// <summary>Every directory backing this cgroup (one per v1 controller, or one v2 dir).</summary>
    IReadOnlyList<string> Directories { get; }
    void AddProcess(int pid);
    IReadOnlyList<int> Processes();
    /// <summary>Kernel's count of OOM kills in this cgroup (v1 memory.oom_control oom_kill, v2 memory.events oom_kill).</summary>
    long OomKillCount();
    /// <summary>Calls <paramref name="onSignal"/> (on the watcher's thread; keep it short) whenever
    /// the kernel signals an OOM event in this cgroup, at no cost while none happens (no timer, no
    /// polling). A signal is a hint: read <see cref="OomKillCount"/> to know how many kills there
    /// were. Null when this cgroup has no memory controller to watch. Dispose to stop.</summary>
    OomWatch? WatchOom(Action onSignal) => null;
    CgroupStats Stats();
    void Freeze();
    void Thaw();
    /// <summary>SIGKILL every process in the cgroup (v2 cgroup.kill, v1 by iterating cgroup.procs).</summary>
    void KillAll();
    /// <summary>`update`: writes the limits set in <paramref name="limits"/> (null fields are left as
    /// they are) to the live cgroup, in an order the kernel accepts (a memory limit raised above the
    /// v1 memsw limit moves memsw first).</summary>
    void Update(CgroupLimits limits) => throw new NotSupportedException($"cgroup {RelativePath}: this driver cannot change limits");
    /// <summary>rmdir every directory, retrying briefly while the kernel finishes reaping. Idempotent.</summary>
    void Remove();
}
