using static Tmds.Linux.LibC;

namespace Gocker.Images;

/// <summary>An exclusive flock on a lock file. flock locks belong to the open file description, so two
/// stores on the same directory exclude each other even inside one process; the kernel drops the lock
/// when a holder dies, so a crashed daemon never leaves the store locked.
/// Opened with libc open, not FileStream: .NET's FileStream takes its own non-blocking flock to emulate
/// FileShare, which fails ("used by another process") while another store holds our lock.</summary>
internal sealed class DirectoryLock : IDisposable
{
    readonly Fd _fd;

    DirectoryLock(Fd fd) => _fd = fd;

    public static unsafe DirectoryLock Acquire(string lockPath)
    {
        int raw;
        fixed (byte* p = Native.Z(lockPath))
            raw = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0b110_000_000);
        if (raw < 0) throw Native.Error("open", lockPath);
        var fd = new Fd(raw);
        try
        {
            while (Native.flock(fd.Value, Native.LOCK_EX) != 0)
            {
                var err = Native.Error("flock", lockPath);
                if (err.Errno != 4 /* EINTR */) throw err;
            }
            return new DirectoryLock(fd);
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    public void Dispose() => _fd.Dispose(); // closing the descriptor releases the flock
}
