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
    public static ContainerRoot OfStopped(IReadOnlyList<string> layersTopFirst, string upperDir, string scratchParent, IdMap? ids, int usernsFd,
        IReadOnlyList<Gocker.Syscalls.Spawn.VolumeMount>? volumes = null, string? mountPoint = null)
    {
        var work = Path.Combine(scratchParent, "archive-work-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(work, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        int fd = -1;
        try
        {
            fd = ids is not null
                ? IdmappedOverlay.Create(layersTopFirst, upperDir, work, usernsFd, volatileUpper: false)
                : DetachedOverlay.Create(layersTopFirst, upperDir, work);
            if (volumes is not { Count: > 0 }) return new ContainerRoot(fd, ids, detached: true, workDir: work);
            var (root, ns) = WithVolumes(fd, volumes, mountPoint ?? throw new ArgumentNullException(nameof(mountPoint)));
            Sys.Close(fd);
            return new ContainerRoot(root, ids, detached: true, workDir: work) { _nsFd = ns };
        }
        catch
        {
            if (fd >= 0) Sys.Close(fd);
            RemoveWork(work);
            throw;
        }
    }

    int _nsFd = -1;

    /// <summary>
    /// A stopped container's volumes, bound into its rootfs as its init binds them (destinations
    /// resolved inside the root, ContainerMounts.Volume), so a copy reaches them as the container
    /// would. The binds need the overlay attached somewhere: a throwaway thread unshares a mount
    /// namespace of its own (only that thread's: CLONE_NEWNS implies CLONE_FS, which a thread may
    /// unshare alone), makes it private (nothing propagates to the host), attaches the overlay on
    /// the daemon's rootfs mount point there, binds the volumes, and hands back the root and the
    /// namespace (an nsfs descriptor, which keeps the mounts alive after the thread has gone). Closing
    /// both dissolves the namespace and every mount in it.
    /// </summary>
    static (int Root, int Ns) WithVolumes(int overlayFd, IReadOnlyList<Gocker.Syscalls.Spawn.VolumeMount> volumes, string mountPoint)
    {
        int root = -1, ns = -1;
        Exception? failure = null;
        var t = new Thread(() =>
        {
            try
            {
                if (Libc.unshare(CLONE_NEWNS) != 0) throw new SyscallException("unshare(CLONE_NEWNS)", null, Libc.Errno);
                Sys.Mount(null, "/", null, MS_REC | MS_PRIVATE, null, "rprivate");
                unsafe
                {
                    byte* empty = stackalloc byte[1];
                    empty[0] = 0;
                    fixed (byte* target = Sys.Z(mountPoint))
                        if (Libc.syscall(SYS_move_mount, overlayFd, (nint)empty, AT_FDCWD, (nint)target, MOVE_MOUNT_F_EMPTY_PATH) != 0)
                            throw new SyscallException("move_mount overlay onto", mountPoint, Libc.Errno);
                }
                root = Sys.Open(mountPoint, O_PATH | O_DIRECTORY | O_CLOEXEC);
                foreach (var v in volumes) ContainerMounts.Volume(root, v);
                ns = Sys.Open("/proc/thread-self/ns/mnt", O_RDONLY | O_CLOEXEC);
            }
            catch (Exception e)
            {
                failure = e;
                if (root >= 0) Sys.Close(root);
                root = -1;
            }
        }) { IsBackground = true, Name = "archive-mounts" };
        t.Start();
        t.Join(); // the thread, and with it its hold on the namespace, is gone: only ns keeps it now
        if (failure is not null) throw failure;
        return (root, ns);
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
        var ns = Interlocked.Exchange(ref _nsFd, -1);
        if (ns >= 0) Sys.Close(ns); // the private namespace of the volume binds, and its mounts, go
        if (_workDir is not null) RemoveWork(_workDir);
    }
}
