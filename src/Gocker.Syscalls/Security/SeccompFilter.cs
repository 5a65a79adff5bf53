using Gocker.Syscalls.Native;

namespace Gocker.Syscalls.Security;

/// <summary>Installs a compiled program (SeccompCompiler) with the raw seccomp(2) syscall: no
/// libseccomp in gocker-init. Filters the calling thread only (no TSYNC); its children and execve'd
/// images inherit it, and it can never be removed.</summary>
public static unsafe class SeccompFilter
{
    const long SYS_seccomp = 317;
    const int SECCOMP_SET_MODE_FILTER = 1;
    const int PR_SET_NO_NEW_PRIVS = 38, PR_GET_SECCOMP = 21;
    const int BPF_MAXINSNS = 4096, InsnSize = 8;

    /// <summary>The caller needs no_new_privs (SetNoNewPrivileges) or CAP_SYS_ADMIN.</summary>
    public static void Install(ReadOnlySpan<byte> bpf)
    {
        if (bpf.Length == 0 || bpf.Length % InsnSize != 0 || bpf.Length / InsnSize > BPF_MAXINSNS)
            throw new SyscallException("seccomp", null, $"not a BPF program: {bpf.Length} bytes");
        fixed (byte* p = bpf)
        {
            // struct sock_fprog { unsigned short len; struct sock_filter *filter; }
            long* prog = stackalloc long[2];
            prog[0] = bpf.Length / InsnSize;
            prog[1] = (long)p;
            if (Libc.syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, (nint)prog, 0, 0) != 0)
                throw new SyscallException("seccomp", "SECCOMP_SET_MODE_FILTER", Libc.Errno);
        }
    }

    /// <summary>prctl(PR_SET_NO_NEW_PRIVS): no execve may grant privileges (setuid bits, file caps).</summary>
    public static void SetNoNewPrivileges()
    {
        if (Libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
            throw new SyscallException("prctl", "PR_SET_NO_NEW_PRIVS", Libc.Errno);
    }

    /// <summary>The calling thread's seccomp mode: 0 none, 2 filter.</summary>
    public static int Mode() => Libc.prctl(PR_GET_SECCOMP, 0, 0, 0, 0);
}
