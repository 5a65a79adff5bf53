using Gocker.Images;
using Gocker.Syscalls.Cgroups;
using Gocker.Syscalls.Spawn;

namespace Gocker.Actors.Engine;

/// <summary>The narrow syscall-facing interfaces the actors use. The daemon passes the real
/// implementations; actor specs pass recording fakes.</summary>
public sealed record EngineServices(
    GockerOptions Options,
    ISpawner Spawner,
    ICgroupManager Cgroups,
    IImageStore Images,
    string InitPath,
    TimeProvider Clock)
{
    public Action<string>? Trace { get; init; }
    /// <summary>Re-adopts running containers after a daemon restart (and records pid start times).</summary>
    public IProcessAdopter Adopter { get; init; } = ProcessAdopter.Instance;
    /// <summary>The log writers of running containers (followers wait on them).</summary>
    public Logs.ContainerLogs Logs { get; init; } = new();
    /// <summary>Container networking (CNI). Null (actor specs): every container gets loopback only.</summary>
    public Gocker.Network.INetworkManager? Network { get; init; }
    /// <summary>Faults armed for experiments (gocker debug inject-fault, HOCON gocker.faults).</summary>
    public Faults.FaultInjector Faults { get; init; } = new();
    /// <summary>Spawns `exec` processes into running containers (null: exec is refused).</summary>
    public IExecSpawner? Execs { get; init; }
    /// <summary>Names of the supervision groups that exist (create refuses an unknown --group).</summary>
    public Groups.GroupDirectory Groups { get; init; } = new();
    /// <summary>What `ps` lists, kept current by the container actors (read without a message).</summary>
    public Containers.ContainerListing Listing { get; init; } = new();
    /// <summary>Deletes removed containers' dirs in the background (null: deleted in place, e.g. actor specs).</summary>
    public Containers.TrashBin? Trash { get; init; }
    /// <summary>The daemon's sealed copy of gocker-init (its ExecPath is <see cref="InitPath"/>; its
    /// HostPath the file it was copied from, for messages). Null: InitPath is executed as it is
    /// (actor specs).</summary>
    public SealedBinary? SealedInit { get; init; }
    /// <summary>Named and anonymous volumes (DATA/volumes), and which containers use them.</summary>
    public Volumes.VolumeStore Volumes { get; init; } = new(Path.Combine(Options.DataRoot, "volumes"), Clock);
    /// <summary>What making <see cref="SealedInit"/> cost at daemon start (logged).</summary>
    public TimeSpan SealedInitCopyTime { get; init; }
}
