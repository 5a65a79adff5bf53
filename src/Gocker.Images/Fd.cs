using static Tmds.Linux.LibC;

namespace Gocker.Images;

/// <summary>An owned file descriptor (CLOEXEC, so no container spawned meanwhile inherits it).</summary>
internal sealed class Fd : IDisposable
{
    public int Value { get; private set; }

    public Fd(int value) => Value = value;

    /// <summary>Opens a directory by absolute path (following symlinks: for the store's own dirs only).</summary>
    public static unsafe Fd OpenDirectory(string path)
    {
        fixed (byte* p = Native.Z(path))
        {
            int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
            if (fd < 0) throw Native.Error("open", path);
            return new Fd(fd);
        }
    }

    public void Dispose()
    {
        if (Value >= 0) close(Value);
        Value = -1;
    }
}
