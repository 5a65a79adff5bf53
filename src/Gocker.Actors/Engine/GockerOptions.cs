using Gocker.Syscalls.Cgroups;

namespace Gocker.Actors.Engine;

/// <summary>Engine settings (from hocon/gocker.hocon, overridden by gockerd's flags).</summary>
public sealed record GockerOptions
{
    /// <summary>Persistent state: images, container records, container upper dirs, logs.</summary>
    public string DataRoot { get; init; } = "/var/lib/gocker";
    /// <summary>Runtime state that dies with the machine: rootfs mount points, init specs.</summary>
    public string ExecRoot { get; init; } = "/run/gocker";
    /// <summary>Every container gets the cgroup CgroupParent/ID (never a shared one).</summary>
    public string CgroupParent { get; init; } = "gocker";
    /// <summary>gocker-init binary; null = look next to gockerd, then in artifacts/bin, then PATH.</summary>
    public string? InitPath { get; init; }
    public string BusyboxPath { get; init; } = "/bin/busybox";
    /// <summary>gocker.spawn.zygotes: inits started ahead of time (ZygoteSpawner); 0 = spawn each on demand.</summary>
    public int Zygotes { get; init; } = 2;
    /// <summary>gocker.spawn.zygote-refill-delay: how long after a claimed zygote's release its
    /// replacement is started (ZygoteSpawner: off the container's own run on a small machine).</summary>
    public TimeSpan ZygoteRefillDelay { get; init; } = TimeSpan.FromMilliseconds(10);
    /// <summary>Limits applied when a container asks for none.</summary>
    public CgroupLimits DefaultLimits { get; init; } = CgroupLimits.None;
    public TimeSpan DefaultStopTimeout { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>Akka dispatcher for the per-container actors (they make blocking syscalls).</summary>
    public string ContainerDispatcher { get; init; } = "gocker.dispatchers.container";
    /// <summary>How much nicer than the daemon the container dispatcher's threads run
    /// (gocker.dispatchers.container.nice; 0 = not at all): under a restart storm the API, the
    /// console and the containers' own processes get the CPU first. See ContainerThreads.</summary>
    public int ContainerThreadNice { get; init; }

    /// <summary>userns-remap (gocker.userns-remap, --userns-remap): containers' ids on the host, each
    /// container in its own user namespace; null = off. `--userns host` opts a container out.</summary>
    public Gocker.Syscalls.Security.IdMap? UsernsRemap { get; init; }

    /// <summary>Network of containers created without --network (Docker: "bridge"); "none" = loopback only.</summary>
    public string DefaultNetwork { get; init; } = "bridge";

    /// <summary>Restart backoff of containers that set none of their own (gocker.restart).</summary>
    public Gocker.Actors.Restart.BackoffSettings RestartBackoff { get; init; } = Gocker.Actors.Restart.BackoffSettings.Docker;

    /// <summary>The log of containers created without LogConfig options (gocker.logs: max-size, max-file).</summary>
    public Gocker.Actors.Logs.LogSettings Logs { get; init; } = Gocker.Actors.Logs.LogSettings.Default;

    /// <summary>The event log behind `GET /events` (gocker.events): ring size, per-subscriber
    /// buffer, and whether the ring is kept on disk (DataRoot/events) across daemon restarts.</summary>
    public global::Gocker.Actors.Events.EventLogSettings Events { get; init; } = new();

    public string ContainersDir => Path.Combine(DataRoot, "containers");
    public string GroupsDir => Path.Combine(DataRoot, "groups");
    public string ImagesDir => Path.Combine(DataRoot, "images");
    public string RunContainersDir => Path.Combine(ExecRoot, "containers");
    /// <summary>Where removed containers' dirs wait for their deletion (TrashBin): one per root, on
    /// the same filesystem as that root's containers/.</summary>
    public string[] TrashDirs => [Path.Combine(DataRoot, "trash"), Path.Combine(ExecRoot, "trash")];
    /// <summary>Where every init mounts its container's overlay before pivot_root, inside the mount
    /// namespace it has just made private: nothing is ever mounted on it in the daemon's namespace,
    /// so one directory serves all containers. A directory per container cost a mkdir and an rmdir
    /// per run, and the rmdir of a directory that was a mount point in a namespace that has just
    /// died waits for the kernel to detach those mounts (0.5 ms and more on the `run --rm` path).</summary>
    public string RootfsMountPoint => Path.Combine(ExecRoot, "rootfs");
}
