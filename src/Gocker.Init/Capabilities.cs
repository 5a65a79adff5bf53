using Gocker.Syscalls;
using Gocker.Syscalls.Native;
using static Gocker.Syscalls.Native.Consts;

namespace Gocker.Init;

/// <summary>
/// Docker's default capability set. Everything else leaves the bounding set (so no later execve, not
/// even of a setuid or file-capability binary, can regain it) and the effective/permitted/inheritable
/// sets. Without CAP_SYS_ADMIN the container cannot mount, umount or pivot its way back to the host.
/// </summary>
static unsafe class Capabilities
{
    const int CHOWN = 0, DAC_OVERRIDE = 1, FOWNER = 3, FSETID = 4, KILL = 5, SETGID = 6, SETUID = 7, SETPCAP = 8,
        NET_BIND_SERVICE = 10, NET_RAW = 13, SYS_CHROOT = 18, MKNOD = 27, AUDIT_WRITE = 29, SETFCAP = 31;

    public const ulong DockerDefault =
        1UL << CHOWN | 1UL << DAC_OVERRIDE | 1UL << FOWNER | 1UL << FSETID | 1UL << KILL | 1UL << SETGID |
        1UL << SETUID | 1UL << SETPCAP | 1UL << NET_BIND_SERVICE | 1UL << NET_RAW | 1UL << SYS_CHROOT |
        1UL << MKNOD | 1UL << AUDIT_WRITE | 1UL << SETFCAP;

    public static void DropToDockerDefault()
    {
        // Bounding set first: dropping from it needs CAP_SETPCAP, which we keep anyway.
        for (int cap = 0; cap < 64; cap++)
        {
            if ((DockerDefault & (1UL << cap)) != 0) continue;
            if (Libc.prctl(PR_CAPBSET_DROP, (nuint)cap, 0, 0, 0) != 0)
            {
                if (Libc.Errno == EINVAL) break; // past the kernel's last capability
                throw new SyscallException("PR_CAPBSET_DROP", cap.ToString(System.Globalization.CultureInfo.InvariantCulture), Libc.Errno);
            }
        }
        if (Libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0)
            throw new SyscallException("PR_CAP_AMBIENT_CLEAR_ALL", null, Libc.Errno);

        uint* header = stackalloc uint[2];
        header[0] = LINUX_CAPABILITY_VERSION_3; header[1] = 0;
        uint* data = stackalloc uint[6]; // 2 x {effective, permitted, inheritable}
        uint lo = (uint)DockerDefault, hi = (uint)(DockerDefault >> 32);
        data[0] = data[1] = data[2] = lo;
        data[3] = data[4] = data[5] = hi;
        if (Libc.syscall(SYS_capset, (nint)header, (nint)data, 0, 0, 0) != 0)
            throw new SyscallException("capset", null, Libc.Errno);
    }
}
