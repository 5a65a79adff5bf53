namespace Gocker.Syscalls.Cgroups;

/// <summary>
/// A cgroup that the next run of the same container can take over instead of an rmdir and mkdir
/// in every hierarchy (8 directories on a hybrid host, plus the parents and the cpuset
/// inheritance): the restart path of a crash-looping container. Its limits stay as they were
/// written at create (a container's limits do not change between its runs).
/// </summary>
public interface IRecyclableCgroup
{
    /// <summary>
    /// Makes the cgroup ready for the next run: no process left in any hierarchy and not frozen.
    /// Returns false (and changes nothing the caller relies on) when it must not be reused: a
    /// process is still in it, or the kernel counted an OOM kill. The OOM counter is cumulative over
    /// a cgroup's life, so a reused cgroup always starts a run at 0 and any later count is that run's
    /// (re-adoption after a daemon restart needs no stored baseline). The caller then removes it and
    /// creates a fresh one.
    /// </summary>
    bool TryRecycle();
}
