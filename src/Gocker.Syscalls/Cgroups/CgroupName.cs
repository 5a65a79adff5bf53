namespace Gocker.Syscalls.Cgroups;

/// <summary>Validates cgroup parent and name. They become path segments under /sys/fs/cgroup, so
/// anything that could climb out ("..", absolute paths, '/', control characters) is refused: a
/// container name must never steer a write into another cgroup or outside cgroupfs.</summary>
public static class CgroupName
{
    public static void ValidateParent(string parent)
    {
        if (string.IsNullOrEmpty(parent))
            throw new ArgumentException("cgroup parent must not be empty", nameof(parent));
        if (parent.StartsWith('/'))
            throw new ArgumentException($"cgroup parent \"{parent}\" must be relative (no leading '/')", nameof(parent));
        foreach (var segment in parent.Split('/'))
            ValidateSegment(segment, "cgroup parent", parent);
    }

    public static void ValidateName(string name)
    {
        if (name is not null && name.Contains('/'))
            throw new ArgumentException($"cgroup name \"{name}\" must not contain '/'", nameof(name));
        ValidateSegment(name!, "cgroup name", name!);
    }

    static void ValidateSegment(string segment, string what, string whole)
    {
        if (string.IsNullOrEmpty(segment))
            throw new ArgumentException($"{what} \"{whole}\": empty path segment");
        if (segment is "." or "..")
            throw new ArgumentException($"{what} \"{whole}\": segment \"{segment}\" is not allowed");
        if (segment.Length > 255)
            throw new ArgumentException($"{what} \"{whole}\": segment longer than 255 characters");
        foreach (var c in segment)
        {
            bool ok = c is >= 'a' and <= 'z' or >= 'A' and <= 'Z' or >= '0' and <= '9' or '_' or '.' or ':' or '-';
            if (!ok)
                throw new ArgumentException($"{what} \"{whole}\": character '{(char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString())}' is not allowed (use [A-Za-z0-9_.:-])");
        }
    }
}
