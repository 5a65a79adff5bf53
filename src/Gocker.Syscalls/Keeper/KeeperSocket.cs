using System.Text;
using static Gocker.Syscalls.Keeper.KeeperNative;

namespace Gocker.Syscalls.Keeper;

/// <summary>
/// The terminal keeper's wire: an AF_UNIX SOCK_SEQPACKET socket (one message per request or reply,
/// no framing to get wrong), text messages, and descriptors passed as SCM_RIGHTS. Requests:
/// `HOLD TAG` + one fd (a pty master) → `OK FD` (the number the keeper holds it as); `HOLDPIPES TAG`
/// + two fds (a run's stdout and stderr pipe read ends) → `OK FD1 FD2`, held as TAG.1 and TAG.2; `CLOSE FD TAG` → `OK LEFT`
/// (closed only if FD is held under TAG; LEFT = how many it still holds); `LIST` → `OK N` and one
/// `FD TAG` line per held descriptor; `PID` → `OK PID` (the keeper's own). Errors: `ERR TEXT`.
/// </summary>
public static unsafe class KeeperSocket
{
    /// <summary>Largest message (a LIST of many terminals).</summary>
    public const int MaxMessage = 64 * 1024;

    /// <summary>A listening socket on path (a stale socket file there is replaced), mode 0600: only
    /// root may hand terminals to the keeper or list them.</summary>
    public static int Listen(string path)
    {
        int fd = Socket();
        try
        {
            var z = Encoding.UTF8.GetBytes(path + "\0");
            fixed (byte* p = z) unlink(p);
            var addr = Address(path, out var len);
            fixed (byte* a = addr)
                if (bind(fd, a, len) != 0) throw new SyscallException("bind", path, Errno);
            fixed (byte* p = z)
                if (chmod(p, 0x180) != 0) throw new SyscallException("chmod", path, Errno);
            if (listen(fd, 16) != 0) throw new SyscallException("listen", path, Errno);
            return fd;
        }
        catch { Native.Sys.Close(fd); throw; }
    }

    /// <summary>Connects to the keeper at path; -errno when there is none (ENOENT, ECONNREFUSED).</summary>
    public static int Connect(string path)
    {
        int fd = Socket();
        var addr = Address(path, out var len);
        fixed (byte* a = addr)
            if (connect(fd, a, len) != 0)
            {
                int e = Errno;
                Native.Sys.Close(fd);
                return -e;
            }
        return fd;
    }

    /// <summary>accept4 with CLOEXEC; -1 when nothing was pending.</summary>
    public static int Accept(int listenFd) => accept4(listenFd, null, null, SOCK_CLOEXEC);

    /// <summary>Sends one message, with passFd as SCM_RIGHTS when it is not -1. False when the peer is gone.</summary>
    public static bool Send(int fd, string text, int passFd = -1) =>
        passFd >= 0 ? Send(fd, text, [passFd]) : Send(fd, text, ReadOnlySpan<int>.Empty);

    /// <summary>Sends one message with up to four descriptors as SCM_RIGHTS. False when the peer is gone.</summary>
    public static bool Send(int fd, string text, ReadOnlySpan<int> passFds)
    {
        if (passFds.Length > 4) throw new ArgumentException("at most 4 descriptors per message", nameof(passFds));
        var bytes = Encoding.UTF8.GetBytes(text);
        fixed (byte* b = bytes)
        {
            IoVec iov = new() { Base = b, Len = (nuint)bytes.Length };
            CmsgFds cmsg = default;
            MsgHdr msg = new() { Iov = &iov, IovLen = 1 };
            if (passFds.Length > 0)
            {
                cmsg.Len = (nuint)(16 + 4 * passFds.Length); // CMSG_LEN(n * sizeof(int))
                cmsg.Level = SOL_SOCKET;
                cmsg.Type = SCM_RIGHTS;
                for (int i = 0; i < passFds.Length; i++) cmsg.Fds[i] = passFds[i];
                msg.Control = &cmsg;
                msg.ControlLen = (nuint)(16 + ((4 * passFds.Length + 7) & ~7)); // CMSG_SPACE
            }
            while (true)
            {
                var n = sendmsg(fd, &msg, MSG_NOSIGNAL);
                if (n >= 0) return true;
                int e = Errno;
                if (e == EINTR) continue;
                return false;
            }
        }
    }

    /// <summary>A connected SOCK_SEQPACKET pair, both ends CLOEXEC.</summary>
    public static (int A, int B) Pair()
    {
        int* fds = stackalloc int[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0)
            throw new SyscallException("socketpair AF_UNIX SOCK_SEQPACKET", null, Errno);
        return (fds[0], fds[1]);
    }

    /// <summary>
    /// Receives one message and the descriptors that came with it (CLOEXEC; the caller owns them).
    /// Null when the peer closed the connection or it failed.
    /// </summary>
    public static string? Receive(int fd, byte[] buffer, out List<int> fds)
    {
        fds = [];
        fixed (byte* b = buffer)
        {
            IoVec iov = new() { Base = b, Len = (nuint)buffer.Length };
            CmsgFds cmsg = default;
            MsgHdr msg = new() { Iov = &iov, IovLen = 1, Control = &cmsg, ControlLen = (nuint)sizeof(CmsgFds) };
            nint n;
            while (true)
            {
                n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
                if (n >= 0) break;
                if (Errno == EINTR) continue;
                return null;
            }
            if (msg.ControlLen >= 16 && cmsg.Level == SOL_SOCKET && cmsg.Type == SCM_RIGHTS)
                for (int i = 0; i < ((int)cmsg.Len - 16) / 4 && i < 4; i++) fds.Add(cmsg.Fds[i]);
            if (n == 0 && fds.Count == 0) return null;
            return Encoding.UTF8.GetString(b, (int)n);
        }
    }

    /// <summary>poll(2) for input on fd: true when a read will not block (data, EOF or error).</summary>
    public static bool WaitReadable(int fd, int timeoutMs)
    {
        long pfd = (uint)fd | (1L << 32);
        while (true)
        {
            int r = poll(&pfd, 1, timeoutMs);
            if (r >= 0) return r > 0;
            if (Errno != EINTR) throw new SyscallException("poll", "keeper socket", Errno);
        }
    }

    /// <summary>poll(2) over packed struct pollfd words (fd | events &lt;&lt; 32; revents in bits 48-63):
    /// the number ready, 0 on timeout, -1 when interrupted.</summary>
    public static int PollMany(long[] fds, int count, int timeoutMs)
    {
        fixed (long* p = fds)
        {
            int r = poll(p, (nuint)count, timeoutMs);
            if (r < 0 && Errno != EINTR) throw new SyscallException("poll", "keeper", Errno);
            return r;
        }
    }

    /// <summary>The pty index of a master (TIOCGPTN), or -1 when fd is not a pty master.</summary>
    public static int PtyIndex(int fd)
    {
        uint n;
        return Native.Libc.ioctl(fd, TIOCGPTN, &n) == 0 ? (int)n : -1;
    }

    /// <summary>A tag names what a descriptor belongs to (a container id): plain characters only, so
    /// it can never break the line format.</summary>
    public static bool ValidTag(string tag) =>
        tag.Length is > 0 and <= 128 && tag.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-');

    static int Socket()
    {
        int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (fd < 0) throw new SyscallException("socket AF_UNIX SOCK_SEQPACKET", null, Errno);
        return fd;
    }

    static byte[] Address(string path, out uint len)
    {
        var p = Encoding.UTF8.GetBytes(path);
        if (p.Length > 107) throw new SyscallException("keeper socket", path, "path longer than 107 bytes (sockaddr_un)");
        var addr = new byte[110];
        addr[0] = AF_UNIX;
        p.CopyTo(addr, 2);
        len = (uint)(2 + p.Length + 1);
        return addr;
    }
}
