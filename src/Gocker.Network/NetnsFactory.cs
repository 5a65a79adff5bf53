using Gocker.Syscalls;
using Tmds.Linux;

namespace Gocker.Network;

/// <summary>Makes an empty network namespace owned by nobody but its pin (as `ip netns add` does):
/// a throwaway thread unshares CLONE_NEWNET, bind-mounts its own /proc/thread-self/ns/net on the
/// pin file, and exits. Why a thread: unshare applies to the calling thread only, and a thread of
/// the thread pool must never be left in another namespace (the next work item would run there).
/// Its loopback device is brought up here, by the host's root: a remapped container's init has no
/// rights over a namespace the host owns (gocker-init otherwise brings "lo" up wherever it runs).</summary>
internal static class NetnsFactory
{
    public static void Create(string pin)
    {
        Exception? error = null;
        var t = new Thread(() =>
        {
            try
            {
                if (LibC.unshare(LibC.CLONE_NEWNET) != 0)
                    throw new SyscallException("unshare CLONE_NEWNET", pin, LibC.errno);
                Gocker.Syscalls.Native.Loopback.Up();
                NetnsPin.Pin("/proc/thread-self/ns/net", pin);
            }
            catch (Exception ex) { error = ex; }
        }, 256 * 1024) { IsBackground = true, Name = "gocker-netns" };
        t.Start();
        t.Join();
        if (error is not null) throw error;
    }
}
