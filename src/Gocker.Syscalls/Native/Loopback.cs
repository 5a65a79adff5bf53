using static Gocker.Syscalls.Native.Consts;

namespace Gocker.Syscalls.Native;

/// <summary>"lo" of the calling thread's network namespace.</summary>
public static unsafe class Loopback
{
    /// <summary>A new network namespace has "lo" down; bring it up (SIOCGIFFLAGS | IFF_UP). Nothing is
    /// asked when it is up already (a namespace the host prepared): a remapped init, without rights
    /// over a namespace the host owns, could not.</summary>
    public static void Up()
    {
        int s = Libc.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (s < 0) throw new SyscallException("socket", null, Libc.Errno);
        try
        {
            byte* ifr = stackalloc byte[40]; // struct ifreq: name[16] + union
            new Span<byte>(ifr, 40).Clear();
            ifr[0] = (byte)'l'; ifr[1] = (byte)'o';
            if (Libc.ioctl(s, SIOCGIFFLAGS, ifr) != 0) throw new SyscallException("SIOCGIFFLAGS", "lo", Libc.Errno);
            if ((*(short*)(ifr + 16) & IFF_UP) != 0) return;
            *(short*)(ifr + 16) |= IFF_UP;
            if (Libc.ioctl(s, SIOCSIFFLAGS, ifr) != 0) throw new SyscallException("SIOCSIFFLAGS", "lo", Libc.Errno);
        }
        finally { Libc.close(s); }
    }
}
