using System.Runtime.InteropServices;
using Gocker.Syscalls;
using Gocker.Syscalls.Native;
using static Gocker.Syscalls.Native.Consts;

namespace Gocker.Init;

static unsafe class Exec
{
    const string DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    /// <summary>The command, resolved and in native memory, ready for execve.</summary>
    public readonly struct Prepared(byte* path, byte** argv, byte** envp, string arg0)
    {
        public readonly byte* Path = path;
        public readonly byte** Argv = argv, Envp = envp;
        public readonly string Arg0 = arg0;
    }

    /// <summary>Everything before the execve: resolves args[0] and resets the process state the runtime
    /// touched. Separate so that the seccomp filter can go in between (it must be the last step before
    /// execve, and a failure of it must be reported under its own step name).</summary>
    public static Prepared Prepare(string[] args, string[] env)
    {
        if (args.Length == 0 || string.IsNullOrEmpty(args[0])) throw new InitFailure(125, "no command given");
        string path = Resolve(args[0], env);

        byte** argv = NullTerminated(args);
        byte** envp = NullTerminated(env);
        byte* cpath = Utf8(path);

        ResetSignals();
        Libc.umask(0x12 /*022*/);
        // The NativeAOT runtime may hold descriptors of its own: none may reach the command. CLOEXEC
        // rather than close: fd 3 (status) must stay open until the execve succeeds (EOF == success).
        if (Libc.syscall(SYS_close_range, 3, unchecked((nint)uint.MaxValue), (nint)CLOSE_RANGE_CLOEXEC, 0, 0) != 0)
            throw new SyscallException("close_range", null, Libc.Errno);
        return new Prepared(cpath, argv, envp, args[0]);
    }

    /// <summary>execve; returns only by throwing (126/127 as Docker).</summary>
    public static void Execve(in Prepared p)
    {
        Libc.execve(p.Path, p.Argv, p.Envp);
        int e = Libc.Errno;
        int code = e == ENOENT || e == ENOTDIR ? 127 : 126;
        throw new InitFailure(code, $"{p.Arg0}: {ErrnoText.Describe(e)}");
    }

    /// <summary>Like Go's exec.LookPath: with a '/', as is; else the first executable regular file along $PATH.</summary>
    static string Resolve(string cmd, string[] env)
    {
        if (cmd.Contains('/')) return cmd;
        string pathVar = DefaultPath;
        foreach (var kv in env)
            if (kv.StartsWith("PATH=", StringComparison.Ordinal)) { pathVar = kv[5..]; break; }
        bool sawNonExec = false;
        foreach (var dir in pathVar.Split(':'))
        {
            string candidate = (dir.Length == 0 ? "." : dir) + "/" + cmd;
            if (!Sys.TryStat(AT_FDCWD, candidate, out _, out _, out int mode, follow: true)) continue;
            if ((mode & S_IFMT) != S_IFREG) continue;
            fixed (byte* p = Sys.Z(candidate))
                if (Libc.faccessat(AT_FDCWD, p, X_OK, 0) == 0) return candidate;
            sawNonExec = true;
        }
        if (sawNonExec) throw new InitFailure(126, $"{cmd}: permission denied");
        throw new InitFailure(127, $"{cmd}: executable file not found in $PATH");
    }

    /// <summary>
    /// The command must start with default dispositions and an empty mask: an ignored signal survives
    /// execve (SIGPIPE ignored by a runtime would make "yes | head" spin on EPIPE instead of dying).
    /// </summary>
    static void ResetSignals()
    {
        // Raw rt_sigaction, not glibc's signal(): glibc refuses 32/33 (its internal signals), and
        // the NativeAOT runtime leaves one of them ignored.
        long* act = stackalloc long[4]; // kernel struct sigaction: handler, flags, restorer, mask
        act[0] = 0 /*SIG_DFL*/; act[1] = 0; act[2] = 0; act[3] = 0;
        for (int sig = 1; sig <= 64; sig++)
        {
            if (sig == 9 || sig == 19) continue; // KILL and STOP cannot be changed
            Libc.syscall(SYS_rt_sigaction, sig, (nint)act, 0, 8, 0);
        }
        byte* empty = stackalloc byte[128];
        Libc.sigemptyset(empty);
        Libc.sigprocmask(2 /*SIG_SETMASK*/, empty, null);
    }

    static byte* Utf8(string s)
    {
        var z = Sys.Z(s);
        byte* p = (byte*)NativeMemory.Alloc((nuint)z.Length);
        z.CopyTo(new Span<byte>(p, z.Length));
        return p;
    }

    static byte** NullTerminated(string[] items)
    {
        byte** arr = (byte**)NativeMemory.AllocZeroed((nuint)(items.Length + 1), (nuint)sizeof(byte*));
        for (int i = 0; i < items.Length; i++) arr[i] = Utf8(items[i]);
        return arr;
    }
}
