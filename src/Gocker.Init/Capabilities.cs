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
    // The daemon compiles the seccomp filter for this same set (Gocker.Syscalls.Security.CapabilitySet).
    public const ulong DockerDefault = Gocker.Syscalls.Security.CapabilitySet.DockerDefault;

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
