namespace Gocker.Syscalls.Cgroups;

/// <summary>Guarded reads and writes of cgroup interface files. Every mutation checks the directory
/// with the guard first; every error names the file.</summary>
public sealed class CgroupFs
{
    public ICgroupFsGuard Guard { get; }

    public CgroupFs(ICgroupFsGuard guard) => Guard = guard;

    public void Write(string dir, string file, string value)
    {
        Guard.EnsureCgroupDirectory(dir);
        var path = Path.Combine(dir, file);
        int e = CgroupNative.WriteFile(path, value);
        if (e != 0) throw new SyscallException("write", path, e);
    }

    public string Read(string dir, string file)
    {
        var path = Path.Combine(dir, file);
        int e = CgroupNative.ReadFile(path, out var text);
        if (e != 0) throw new SyscallException("read", path, e);
        return text;
    }

    /// <summary>Content, or null when the file does not exist (controller or feature absent).</summary>
    public string? TryRead(string dir, string file)
    {
        var path = Path.Combine(dir, file);
        int e = CgroupNative.ReadFile(path, out var text);
        if (e == CgroupNative.ENOENT) return null;
        if (e != 0) throw new SyscallException("read", path, e);
        return text;
    }

    public bool FileExists(string dir, string file) => File.Exists(Path.Combine(dir, file));

    /// <summary>Creates <paramref name="dir"/>; false if it already existed. The parent is guarded.</summary>
    public bool Mkdir(string dir)
    {
        Guard.EnsureCgroupDirectory(Path.GetDirectoryName(dir)!);
        int e = CgroupNative.Mkdir(dir);
        if (e == CgroupNative.EEXIST) return false;
        if (e != 0) throw new SyscallException("mkdir", dir, e);
        Guard.OnDirectoryCreated(dir);
        return true;
    }

    /// <summary>rmdir; returns 0, or the errno (ENOENT counts as success: already gone).</summary>
    public int Rmdir(string dir)
    {
        if (!Directory.Exists(dir)) return 0;
        Guard.EnsureCgroupDirectory(dir);
        Guard.OnRemovingDirectory(dir);
        int e = CgroupNative.Rmdir(dir);
        return e == CgroupNative.ENOENT ? 0 : e;
    }

    public IReadOnlyList<int> ReadPids(string dir)
    {
        var text = TryRead(dir, "cgroup.procs");
        if (text is null) return [];
        var pids = new List<int>();
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            if (int.TryParse(line, out var pid)) pids.Add(pid);
        return pids;
    }
}
