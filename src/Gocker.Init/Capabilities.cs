using Gocker.Syscalls;
using Gocker.Syscalls.Native;
using static Gocker.Syscalls.Native.Consts;

namespace Gocker.Init;

/// <summary>
/// The container's capability set (Docker's default 14 unless --cap-add/--cap-drop/--privileged said
/// otherwise). Everything else leaves the bounding set (so no later execve, not even of a setuid or
/// file-capability binary, can regain it) and the effective/permitted sets. The inheritable and ambient
/// sets are emptied, as Docker does since CVE-2022-24769 (an inheritable capability let a program with
/// matching file capabilities gain it across execve even for a non-root user). Without CAP_SYS_ADMIN
/// the container cannot mount, umount or pivot its way back to the host.
/// </summary>
static unsafe class Capabilities
{
    // The daemon compiles the seccomp filter for this same set (Gocker.Syscalls.Security.CapabilitySet).
    public const ulong DockerDefault = Gocker.Syscalls.Security.CapabilitySet.DockerDefault;

    /// <summary>
    /// Step one, before the user switch: everything outside <paramref name="keep"/> leaves the bounding
    /// set and the ambient set is emptied. The permitted set is still full, so setgroups/setgid/setuid
    /// work even when CAP_SETGID/CAP_SETUID are dropped (runc's order: bounding set, user, final caps).
    /// </summary>
    public static void DropBounding(ulong keep)
    {
        // Dropping from the bounding set needs CAP_SETPCAP, which is still effective here.
        for (int cap = 0; cap < 64; cap++)
        {
            if ((keep & (1UL << cap)) != 0) continue;
            if (Libc.prctl(PR_CAPBSET_DROP, (nuint)cap, 0, 0, 0) != 0)
            {
                if (Libc.Errno == EINVAL) break; // past the kernel's last capability
                throw new SyscallException("PR_CAPBSET_DROP", cap.ToString(System.Globalization.CultureInfo.InvariantCulture), Libc.Errno);
            }
        }
        if (Libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0)
            throw new SyscallException("PR_CAP_AMBIENT_CLEAR_ALL", null, Libc.Errno);
    }

    /// <summary>
    /// Step two, after the user switch: effective = permitted = <paramref name="keep"/> for root (only
    /// what the bounding set still has), nothing for any other user (setuid already cleared them, as
    /// Docker gives a non-root user no effective capabilities); inheritable empty either way.
    /// </summary>
    public static void SetFinal(ulong keep, bool root)
    {
        if (!root) keep = 0;
        for (int cap = 0; cap < 64; cap++)
            if ((keep & (1UL << cap)) != 0 && Libc.prctl(PR_CAPBSET_READ, (nuint)cap, 0, 0, 0) != 1) keep &= ~(1UL << cap);
        uint* header = stackalloc uint[2];
        header[0] = LINUX_CAPABILITY_VERSION_3; header[1] = 0;
        uint* data = stackalloc uint[6]; // 2 x {effective, permitted, inheritable}
        uint lo = (uint)keep, hi = (uint)(keep >> 32);
        data[0] = data[1] = lo;   // effective, permitted
        data[2] = 0;              // inheritable: empty
        data[3] = data[4] = hi;
        data[5] = 0;
        if (Libc.syscall(SYS_capset, (nint)header, (nint)data, 0, 0, 0) != 0)
            throw new SyscallException("capset", null, Libc.Errno);
    }
}
