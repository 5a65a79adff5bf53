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

    /// <summary>A new network namespace has "lo" down; bring it up (SIOCGIFFLAGS | IFF_UP).</summary>
    public static void LoopbackUp()
    {
        int s = Libc.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (s < 0) throw new SyscallException("socket", null, Libc.Errno);
        try
        {
            byte* ifr = stackalloc byte[40]; // struct ifreq: name[16] + union
            new Span<byte>(ifr, 40).Clear();
            ifr[0] = (byte)'l'; ifr[1] = (byte)'o';
            if (Libc.ioctl(s, SIOCGIFFLAGS, ifr) != 0) throw new SyscallException("SIOCGIFFLAGS", "lo", Libc.Errno);
            *(short*)(ifr + 16) |= IFF_UP;
            if (Libc.ioctl(s, SIOCSIFFLAGS, ifr) != 0) throw new SyscallException("SIOCSIFFLAGS", "lo", Libc.Errno);
        }
        finally { Libc.close(s); }
    }
}
