using Microsoft.Win32.SafeHandles;

namespace Gocker.Images;

/// <summary>An exclusive flock on a lock file. flock locks belong to the open file description, so two
/// stores on the same directory exclude each other even inside one process; the kernel drops the lock
/// when a holder dies, so a crashed daemon never leaves the store locked.</summary>
internal sealed class DirectoryLock : IDisposable
{
    readonly FileStream _file;

    DirectoryLock(FileStream file) => _file = file;

    public static DirectoryLock Acquire(string lockPath)
    {
        // FileShare.ReadWrite: we want flock's blocking wait below, not .NET's own non-blocking share check.
        var file = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        try
        {
            int fd = (int)file.SafeFileHandle.DangerousGetHandle();
            while (Native.flock(fd, Native.LOCK_EX) != 0)
            {
                var err = Native.Error("flock", lockPath);
                if (err.Errno != 4 /* EINTR */) throw err;
            }
            return new DirectoryLock(file);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    public void Dispose() => _file.Dispose(); // closing the descriptor releases the flock
}
