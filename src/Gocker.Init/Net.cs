using Gocker.Syscalls;
using Gocker.Syscalls.Native;
using static Gocker.Syscalls.Native.Consts;

namespace Gocker.Init;

static unsafe class Net
{
    public static void SetHostname(string name)
    {
        var z = Sys.Z(name);
        fixed (byte* p = z)
            if (Libc.sethostname(p, z.Length - 1) != 0) throw new SyscallException("sethostname", name, Libc.Errno);
    }

    /// <summary>A new network namespace has "lo" down; bring it up (see Loopback).</summary>
    public static void LoopbackUp() => Loopback.Up();
}
