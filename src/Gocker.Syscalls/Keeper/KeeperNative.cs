using System.Runtime.InteropServices;

namespace Gocker.Syscalls.Keeper;

/// <summary>The Unix-socket calls of the terminal keeper protocol (x86_64 layouts). Blittable only, so
/// the same code runs in the JIT daemon and in the NativeAOT gocker-init.</summary>
static unsafe partial class KeeperNative
{
    const string L = "libc.so.6";

    public const int AF_UNIX = 1, SOCK_SEQPACKET = 5, SOCK_CLOEXEC = 0x80000;
    public const int SOL_SOCKET = 1, SCM_RIGHTS = 1, SO_PEERCRED = 17;
    public const int MSG_NOSIGNAL = 0x4000, MSG_CMSG_CLOEXEC = 0x40000000, MSG_CTRUNC = 0x8;
    public const int EINTR = 4, EAGAIN = 11, ENOENT = 2, ECONNREFUSED = 111;
    public const long SYS_pidfd_getfd = 438;
    public const nuint TIOCGPTN = 0x80045430;

    /// <summary>struct msghdr (56 bytes on x86_64).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct MsgHdr
    {
        public void* Name;
        public uint NameLen;
        public void* Iov;
        public nuint IovLen;
        public void* Control;
        public nuint ControlLen;
        public int Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct IoVec
    {
        public void* Base;
        public nuint Len;
    }

    /// <summary>struct cmsghdr followed by room for a few descriptors (CMSG_SPACE(4 * 4) = 32).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct CmsgFds
    {
        public nuint Len;
        public int Level;
        public int Type;
        public fixed int Fds[4];
    }

    [LibraryImport(L, EntryPoint = "socket", SetLastError = true)]
    public static partial int socket(int domain, int type, int protocol);
    [LibraryImport(L, EntryPoint = "socketpair", SetLastError = true)]
    public static partial int socketpair(int domain, int type, int protocol, int* fds);
    [LibraryImport(L, EntryPoint = "bind", SetLastError = true)]
    public static partial int bind(int fd, byte* addr, uint len);
    [LibraryImport(L, EntryPoint = "listen", SetLastError = true)]
    public static partial int listen(int fd, int backlog);
    [LibraryImport(L, EntryPoint = "connect", SetLastError = true)]
    public static partial int connect(int fd, byte* addr, uint len);
    [LibraryImport(L, EntryPoint = "accept4", SetLastError = true)]
    public static partial int accept4(int fd, byte* addr, uint* len, int flags);
    [LibraryImport(L, EntryPoint = "sendmsg", SetLastError = true)]
    public static partial nint sendmsg(int fd, MsgHdr* msg, int flags);
    [LibraryImport(L, EntryPoint = "recvmsg", SetLastError = true)]
    public static partial nint recvmsg(int fd, MsgHdr* msg, int flags);
    [LibraryImport(L, EntryPoint = "getsockopt", SetLastError = true)]
    public static partial int getsockopt(int fd, int level, int name, void* val, uint* len);
    [LibraryImport(L, EntryPoint = "poll", SetLastError = true)]
    public static partial int poll(long* fds, nuint nfds, int timeout);
    [LibraryImport(L, EntryPoint = "unlink", SetLastError = true)]
    public static partial int unlink(byte* path);
    [LibraryImport(L, EntryPoint = "chmod", SetLastError = true)]
    public static partial int chmod(byte* path, int mode);

    public static int Errno => Marshal.GetLastPInvokeError();
}
