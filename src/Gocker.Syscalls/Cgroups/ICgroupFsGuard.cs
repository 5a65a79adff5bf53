namespace Gocker.Syscalls.Cgroups;

/// <summary>Checks, before every write, mkdir and rmdir, that the directory really is a cgroup
/// directory. Why: a mistaken root (a bad mountinfo line, a config typo, a path built from user
/// input) must never turn "write 0 to memory.swap.max" into a write on a real file of the host.
/// Unit tests swap in a fixture guard that accepts plain directories and plays the kernel's part.</summary>
public interface ICgroupFsGuard
{
    /// <summary>Throws unless <paramref name="directory"/> is on a cgroup or cgroup2 filesystem.</summary>
    void EnsureCgroupDirectory(string directory);

    /// <summary>Called after the driver created a directory. The kernel populates a new cgroup with
    /// its interface files; a fixture does that here.</summary>
    void OnDirectoryCreated(string directory) { }

    /// <summary>Called before rmdir. cgroupfs removes a directory with its interface files; a
    /// plain directory must be emptied first (fixtures only).</summary>
    void OnRemovingDirectory(string directory) { }
}

/// <summary>The production guard: statfs magic must be CGROUP_SUPER_MAGIC or CGROUP2_SUPER_MAGIC.</summary>
public sealed class KernelCgroupFsGuard : ICgroupFsGuard
{
    public static readonly KernelCgroupFsGuard Instance = new();

    public void EnsureCgroupDirectory(string directory)
    {
        long magic = CgroupNative.FilesystemMagic(directory, out int errno);
        if (magic == -1 && errno != 0)
            throw new SyscallException("statfs", directory, errno);
        if (magic != CgroupNative.CgroupSuperMagic && magic != CgroupNative.Cgroup2SuperMagic)
            throw new SyscallException("cgroup guard", directory,
                $"not on a cgroup filesystem (statfs magic 0x{magic:x}); refusing to write there");
    }
}
