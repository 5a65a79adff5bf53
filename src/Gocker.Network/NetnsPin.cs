using System.Text;
using Gocker.Syscalls;
using Tmds.Linux;

namespace Gocker.Network;

/// <summary>Keeps a container's network namespace alive from attach until detach by bind-mounting
/// it on a file (as `ip netns add` does). Why: connect/disconnect and the undo of a failed start
/// run the plugins inside the namespace, by a path that stays valid whatever the init does, and
/// safe against PID reuse (/proc/PID/ns/net of a recorded PID may name another process's namespace
/// by then). After the container exited, Detach drops the pin first so that the kernel deletes the
/// veths with the namespace (VethReaper).</summary>
internal static unsafe class NetnsPin
{
    public static void Pin(string source, string pin)
    {
        using (File.Create(pin)) { }
        var s = Z(source);
        var t = Z(pin);
        fixed (byte* ps = s)
        fixed (byte* pt = t)
        {
            if (LibC.mount(ps, pt, null, LibC.MS_BIND, null) != 0)
            {
                int errno = LibC.errno;
                File.Delete(pin);
                throw new SyscallException("mount --bind netns " + source, pin, errno);
            }
        }
    }

    /// <summary>Moves a pin (a slot's namespace handed to a container, or taken back): MS_MOVE, so
    /// no unmount — the bind and detach it replaces cost ~0.7 ms on the start's path, the kernel
    /// waiting out an RCU grace period for the detached mount. The namespace is pinned at one path
    /// or the other at every moment. Where the pins' directory sits in a shared mount (systemd
    /// hosts) the kernel refuses to move (EINVAL): pin at the new path, then unpin the old one.</summary>
    public static void Move(string from, string to)
    {
        using (File.Create(to)) { }
        var s = Z(from);
        var t = Z(to);
        int errno = 0;
        fixed (byte* ps = s)
        fixed (byte* pt = t)
            if (LibC.mount(ps, pt, null, LibC.MS_MOVE, null) != 0) errno = LibC.errno;
        if (errno == 0)
        {
            File.Delete(from); // the plain file the mount left
            return;
        }
        File.Delete(to);
        if (errno != LibC.EINVAL) throw new SyscallException("mount --move netns " + from, to, errno);
        Pin(from, to);
        Unpin(from);
    }

    /// <summary>True when the pin file still holds a namespace (a mount point, not the plain file
    /// left behind by a reboot).</summary>
    public static bool IsPinned(string pin)
    {
        if (!File.Exists(pin)) return false;
        return Dev(pin) is { } d && Dev(Path.GetDirectoryName(pin)!) is { } parent && d != parent;
    }

    public static void Unpin(string pin)
    {
        if (IsPinned(pin))
        {
            var t = Z(pin);
            fixed (byte* pt = t)
                if (LibC.umount2(pt, LibC.MNT_DETACH) != 0 && LibC.errno != LibC.EINVAL)
                    throw new SyscallException("umount netns pin", pin, LibC.errno);
        }
        File.Delete(pin);
    }

    static ulong? Dev(string path)
    {
        stat st;
        var z = Z(path);
        fixed (byte* p = z)
            if (LibC.stat(p, &st) != 0) return null;
        return st.st_dev;
    }

    static byte[] Z(string s) => Encoding.UTF8.GetBytes(s + "\0");
}
