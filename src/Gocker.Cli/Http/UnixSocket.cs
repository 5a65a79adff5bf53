using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace Gocker.Cli.Http;

/// <summary>
/// A connected, blocking AF_UNIX stream socket on a raw fd. Not System.Net.Sockets.Socket: its first
/// use starts the async engine (epoll instance + a ".NET Sockets" thread) and probes the address
/// families (three extra socket() calls), ~10% of a short console run's CPU, for I/O the console
/// only ever does synchronously.
/// <para>Errors: <see cref="Connect"/> throws <see cref="SocketException"/> (its SocketErrorCode says
/// refused, missing, ...), as Socket.Connect did, so callers can tell "no daemon" from a broken
/// connection; everything on an established connection throws <see cref="IOException"/> naming the
/// call and the errno text; any call after <see cref="Dispose"/> throws ObjectDisposedException.</para>
/// <para>Threads: one thread may read while another sends, shuts down or disposes (hijacked
/// attach/exec). The fd is closed only once no call is inside a syscall on it, so a blocked thread
/// never finds its fd number closed and reused for another file under it.</para>
/// </summary>
public sealed partial class UnixSocket : IDisposable
{
    const int AF_UNIX = 1, SOCK_STREAM = 1, SOCK_CLOEXEC = 0x80000;
    const int SHUT_WR = 1, SHUT_RDWR = 2;
    // EPIPE must come back as an error, not as a SIGPIPE that ends the console.
    const int MSG_NOSIGNAL = 0x4000;
    const short POLLIN = 0x1, POLLERR = 0x8, POLLHUP = 0x10, POLLNVAL = 0x20;
    const int EPERM = 1, ENOENT = 2, EINTR = 4, EAGAIN = 11, EACCES = 13, ENOTSOCK = 88, EPROTOTYPE = 91,
              ETIMEDOUT = 110, ECONNREFUSED = 111;

    // struct sockaddr_un: sa_family_t sun_family; char sun_path[108] (NUL-terminated here).
    const int SunPathOffset = 2, SunPathSize = 108;

    /// <summary>The longest path (UTF-8 bytes) a socket address holds, its terminating NUL aside.</summary>
    public const int MaxPathBytes = SunPathSize - 1;

    readonly int _fd;
    // One reference for the owner plus one per call in flight; close(2) runs when it drops to 0.
    int _refs = 1;
    int _disposed;

    UnixSocket(int fd) => _fd = fd;

    ~UnixSocket()
    {
        // Unreachable: no call can be in flight, only the owner's reference can be left.
        if (_disposed == 0) close(_fd);
    }

    /// <summary>Connects to the socket at <paramref name="path"/>. A path that does not fit a socket
    /// address is an <see cref="ArgumentException"/>; a failed connect a <see cref="SocketException"/>.</summary>
    public static unsafe UnixSocket Connect(string path)
    {
        Span<byte> addr = stackalloc byte[SunPathOffset + SunPathSize];
        int addrLen = EncodeAddress(path, addr);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) throw Error("socket", Marshal.GetLastPInvokeError());
        var s = new UnixSocket(fd);
        try
        {
            int r, errno = 0;
            // A blocking AF_UNIX connect interrupted by a signal has not connected (the state changes
            // only on success), so calling it again is right; not so for TCP.
            fixed (byte* p = addr)
                while ((r = connect(fd, p, (uint)addrLen)) < 0 && (errno = Marshal.GetLastPInvokeError()) == EINTR) { }
            if (r < 0) throw ConnectError(path, errno);
            return s;
        }
        catch
        {
            s.Dispose();
            throw;
        }
    }

    /// <summary>Writes all of <paramref name="data"/>, however many send(2) calls it takes.</summary>
    public unsafe void Send(ReadOnlySpan<byte> data)
    {
        AddRef();
        try
        {
            fixed (byte* p = data)
            {
                int off = 0;
                while (off < data.Length)
                {
                    nint n = send(_fd, p + off, (nuint)(data.Length - off), MSG_NOSIGNAL);
                    if (n < 0)
                    {
                        int errno = Marshal.GetLastPInvokeError();
                        if (errno == EINTR) continue;
                        throw Error("send", errno);
                    }
                    off += (int)n;
                }
            }
        }
        finally { Release(); }
    }

    /// <summary>Reads what is there (blocking until something is); 0 means the peer closed its end
    /// (or the connection was shut down for reading).</summary>
    public unsafe int Receive(Span<byte> buffer)
    {
        if (buffer.IsEmpty) return 0;
        AddRef();
        try
        {
            fixed (byte* p = buffer)
            {
                while (true)
                {
                    nint n = recv(_fd, p, (nuint)buffer.Length, 0);
                    if (n >= 0) return (int)n;
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno != EINTR) throw Error("recv", errno);
                }
            }
        }
        finally { Release(); }
    }

    /// <summary>True when a read would not block (data, EOF or an error is waiting); false once
    /// <paramref name="timeout"/> has passed. Timeout.InfiniteTimeSpan (or any negative) waits for ever.</summary>
    public unsafe bool Poll(TimeSpan timeout)
    {
        long ms = timeout < TimeSpan.Zero ? -1 : Math.Min(int.MaxValue, (long)Math.Ceiling(timeout.TotalMilliseconds));
        long deadline = Environment.TickCount64 + ms;
        AddRef();
        try
        {
            var pfd = new PollFd { Fd = _fd, Events = POLLIN };
            int r;
            while ((r = poll(&pfd, 1, (int)ms)) < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno != EINTR) throw Error("poll", errno);
                // A signal (SIGWINCH, ...) cut the wait short: wait out what is left of it.
                if (ms > 0) ms = Math.Max(0, deadline - Environment.TickCount64);
            }
            if (r == 0) return false;
            if ((pfd.Revents & POLLNVAL) != 0) throw new IOException("poll: the socket's descriptor is not open");
            return (pfd.Revents & (POLLIN | POLLHUP | POLLERR)) != 0;
        }
        finally { Release(); }
    }

    /// <summary>Half-closes: the peer reads EOF, our reads go on.</summary>
    public void ShutdownWrite() => Shutdown(SHUT_WR, "shutdown(write)");

    /// <summary>Shuts both directions: the peer reads EOF, and a read blocked here (on any thread) returns 0.</summary>
    public void ShutdownBoth() => Shutdown(SHUT_RDWR, "shutdown");

    void Shutdown(int how, string op)
    {
        AddRef();
        try
        {
            if (shutdown(_fd, how) < 0) throw Error(op, Marshal.GetLastPInvokeError());
        }
        finally { Release(); }
    }

    /// <summary>Closes the socket (once; later calls do nothing). A call blocked on it in another
    /// thread is woken (it sees EOF or EPIPE) and the fd is closed when that call has returned.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        GC.SuppressFinalize(this);
        // The exchange above is a full fence, as is AddRef's: either a starting call sees _disposed,
        // or we see its reference here. Our own reference keeps the fd open for this shutdown.
        if (Volatile.Read(ref _refs) > 1) shutdown(_fd, SHUT_RDWR);
        Release();
    }

    void AddRef()
    {
        while (true)
        {
            int refs = Volatile.Read(ref _refs);
            if (refs == 0) throw new ObjectDisposedException(nameof(UnixSocket));
            if (Interlocked.CompareExchange(ref _refs, refs + 1, refs) == refs) break;
        }
        if (Volatile.Read(ref _disposed) != 0)
        {
            Release();
            throw new ObjectDisposedException(nameof(UnixSocket));
        }
    }

    void Release()
    {
        // Not retried on EINTR: Linux has released the fd whatever close(2) returns.
        if (Interlocked.Decrement(ref _refs) == 0) close(_fd);
    }

    /// <summary>Writes sockaddr_un for <paramref name="path"/>; returns its length (family, path, NUL).</summary>
    static int EncodeAddress(string path, Span<byte> addr)
    {
        if (string.IsNullOrEmpty(path)) throw new ArgumentException("the socket path is empty", nameof(path));
        if (path.Contains('\0')) throw new ArgumentException($"the socket path '{path.Replace("\0", "\\0")}' contains a NUL byte", nameof(path));
        int bytes = Encoding.UTF8.GetByteCount(path);
        if (bytes > MaxPathBytes)
            throw new ArgumentException($"the socket path '{path}' is {bytes} bytes long; a Unix socket address holds at most {MaxPathBytes}", nameof(path));
        addr.Clear();
        BitConverter.TryWriteBytes(addr, (ushort)AF_UNIX);
        Encoding.UTF8.GetBytes(path, addr[SunPathOffset..]);
        return SunPathOffset + bytes + 1;
    }

    static IOException Error(string op, int errno) => new($"{op}: {Marshal.GetPInvokeErrorMessage(errno)}");

    /// <summary>The SocketException Socket.Connect threw for the same errno (same SocketErrorCode),
    /// with the path and the errno text in its message.</summary>
    static SocketException ConnectError(string path, int errno)
    {
        var code = errno switch
        {
            ECONNREFUSED => SocketError.ConnectionRefused,
            ENOENT => SocketError.AddressNotAvailable,
            EACCES or EPERM => SocketError.AccessDenied,
            ENOTSOCK => SocketError.NotSocket,
            EPROTOTYPE => SocketError.ProtocolType,
            ETIMEDOUT => SocketError.TimedOut,
            EAGAIN => SocketError.WouldBlock,
            _ => SocketError.SocketError,
        };
        return new SocketException((int)code, $"connect {path}: {Marshal.GetPInvokeErrorMessage(errno)}");
    }

    [StructLayout(LayoutKind.Sequential)]
    struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport("libc", SetLastError = true)] private static partial int socket(int domain, int type, int protocol);
    [LibraryImport("libc", SetLastError = true)] private static unsafe partial int connect(int fd, byte* addr, uint addrlen);
    [LibraryImport("libc", SetLastError = true)] private static unsafe partial nint send(int fd, byte* buf, nuint len, int flags);
    [LibraryImport("libc", SetLastError = true)] private static unsafe partial nint recv(int fd, byte* buf, nuint len, int flags);
    [LibraryImport("libc", SetLastError = true)] private static unsafe partial int poll(PollFd* fds, nuint nfds, int timeout);
    [LibraryImport("libc", SetLastError = true)] private static partial int shutdown(int fd, int how);
    [LibraryImport("libc", SetLastError = true)] private static partial int close(int fd);
}
