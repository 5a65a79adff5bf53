using Gocker.Syscalls;
using Gocker.Syscalls.Mounts;
using Gocker.Syscalls.Native;
using Gocker.Syscalls.Security;
using static Gocker.Syscalls.Native.Consts;

namespace Gocker.Images.ContainerFs;

/// <summary>
/// A descriptor on a container's "/" as the container sees it, for the archive API. Every path of a
/// copy is resolved from it with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS): the kernel treats
/// it as the root for every symlink and "..", atomically, so no symlink in the container (planted, or
/// swapped in mid-copy: CVE-2018-15664) can lead a read or a write onto a host path.
/// - a running container: /proc/PID/root of its init, i.e. its own mount namespace (volumes, bind
///   mounts and its /etc files are reached as the container sees them);
/// - a stopped one: its overlay (upper dir over the image layers) mounted detached (fsmount, never on
///   a host path, gone when the descriptor closes), idmapped as when it runs for a remapped container.
/// </summary>
public sealed class ContainerRoot : IDisposable
{
    int _fd;
    readonly string? _workDir;

    /// <summary>The O_PATH descriptor of the container's "/".</summary>
    public int Fd => _fd;
    /// <summary>userns-remap: files carry host ids (HostUid..) that the container sees as 0..; null otherwise.</summary>
    public IdMap? Ids { get; }
    /// <summary>True for a stopped container's detached overlay (its volumes are not mounted in it).</summary>
    public bool Detached { get; }

    ContainerRoot(int fd, IdMap? ids, bool detached, string? workDir)
    {
        _fd = fd;
        Ids = ids;
        Detached = detached;
        _workDir = workDir;
    }

    /// <summary>The root of a running container's init. The pid is trusted only if it still names the
    /// process that started at the recorded time, checked before and after opening its root: a reused
    /// pid must never give this copy another process's filesystem. Null when it has exited meanwhile.</summary>
    public static ContainerRoot? OfProcess(int pid, ulong startTime, IdMap? ids)
    {
        if (pid <= 0 || Gocker.Syscalls.Spawn.ProcStat.Read(pid)?.StartTime != startTime) return null;
        int fd;
        try { fd = Sys.Open($"/proc/{pid}/root", O_PATH | O_DIRECTORY | O_CLOEXEC); }
        catch (SyscallException) { return null; }
        if (Gocker.Syscalls.Spawn.ProcStat.Read(pid)?.StartTime != startTime)
        {
            Sys.Close(fd);
            return null;
        }
        return new ContainerRoot(fd, ids, detached: false, workDir: null);
    }

    /// <summary>A stopped container's rootfs: its upper dir over its image layers (top first), with a
    /// work dir of our own under <paramref name="scratchParent"/> (same filesystem as the upper; the
    /// container's own work dir is left to its next start). usernsFd: the daemon's user namespace for
    /// the container's id map (remapped containers), else -1.</summary>
    public static ContainerRoot OfStopped(IReadOnlyList<string> layersTopFirst, string upperDir, string scratchParent, IdMap? ids, int usernsFd)
    {
        var work = Path.Combine(scratchParent, "archive-work-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(work, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        try
        {
            int fd = ids is not null
                ? IdmappedOverlay.Create(layersTopFirst, upperDir, work, usernsFd, volatileUpper: false)
                : DetachedOverlay.Create(layersTopFirst, upperDir, work);
            return new ContainerRoot(fd, ids, detached: true, workDir: work);
        }
        catch
        {
            RemoveWork(work);
            throw;
        }
    }

    static void RemoveWork(string work)
    {
        try { Directory.Delete(work, recursive: true); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    public void Dispose()
    {
        var fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0) Sys.Close(fd); // a detached overlay is unmounted here (its last reference)
        if (_workDir is not null) RemoveWork(_workDir);
    }
}
