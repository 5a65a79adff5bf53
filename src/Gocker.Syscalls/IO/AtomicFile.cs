using Tmds.Linux;

namespace Gocker.Syscalls.IO;

/// <summary>Temp file, fsync, rename, fsync the directory (as runc writes state.json): readers and
/// crashes see the old or the new content, never a mix. Shared by the image store, the network
/// store and the container records.</summary>
public static class AtomicFile
{
    /// <param name="syncDirectory">Also fsync the directory so the rename itself survives a crash.
    /// Container records skip it (they are on the start path; after a crash the old record or the new
    /// one is there, never a torn one).</param>
    public static void Write(string path, ReadOnlySpan<byte> content, bool syncDirectory = true)
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
        if (syncDirectory) SyncDirectory(dir);
    }

    public static unsafe void SyncDirectory(string dir)
    {
        var z = System.Text.Encoding.UTF8.GetBytes(dir + "\0");
        int fd;
        fixed (byte* p = z) fd = LibC.open(p, LibC.O_RDONLY | LibC.O_DIRECTORY | LibC.O_CLOEXEC);
        if (fd < 0) throw new SyscallException("open", dir, LibC.errno);
        try
        {
            if (LibC.fsync(fd) != 0) throw new SyscallException("fsync", dir, LibC.errno);
        }
        finally { LibC.close(fd); }
    }

    /// <summary>Rewrites a file in place (same inode): the per-container hosts file is bind-mounted
    /// into the container, and a rename would leave the container looking at the old inode.</summary>
    public static void OverwriteInPlace(string path, string content)
    {
        using var f = new FileStream(path, FileMode.OpenOrCreate, FileAccess.Write, FileShare.ReadWrite);
        var bytes = System.Text.Encoding.UTF8.GetBytes(content);
        f.SetLength(0);
        f.Write(bytes);
    }
}
