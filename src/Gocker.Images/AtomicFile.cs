namespace Gocker.Images;

/// <summary>Replace a file so that readers and crashes see either the old or the new content, never a mix:
/// write a temp file next to it, fsync it, rename over the target, fsync the directory.</summary>
internal static class AtomicFile
{
    public static void Write(string path, ReadOnlySpan<byte> content)
    {
        var dir = Path.GetDirectoryName(path)!;
        var tmp = Path.Combine(dir, $".{Path.GetFileName(path)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var f = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                f.Write(content);
                f.Flush(flushToDisk: true);
            }
            File.Move(tmp, path, overwrite: true);
        }
        catch
        {
            File.Delete(tmp);
            throw;
        }
        SyncDirectory(dir);
    }

    /// <summary>fsync a directory so a rename inside it survives a crash.</summary>
    public static void SyncDirectory(string dir)
    {
        using var fd = Fd.OpenDirectory(dir);
        if (Tmds.Linux.LibC.fsync(fd.Value) != 0)
            throw Native.Error("fsync", dir);
    }
}
