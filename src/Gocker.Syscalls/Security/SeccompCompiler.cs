using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Gocker.Syscalls.Native;

namespace Gocker.Syscalls.Security;

/// <summary>
/// Compiles a Docker-format profile, for a container's effective capabilities, into a classic BPF
/// program (the raw struct sock_filter array seccomp(2) takes) with libseccomp: it resolves syscall
/// names per architecture (x86_64, x86, x32 for Docker's archMap), emits the arch checks and the x32
/// guard, the argument comparisons and a binary search on the syscall number. The daemon (JIT) only:
/// gocker-init installs the bytes with SeccompFilter.Install and never loads libseccomp.
/// </summary>
public static unsafe partial class SeccompCompiler
{
    const string Lib = "libseccomp.so.2";
    const int NR_SCMP_ERROR = -1;
    const int SCMP_FLTATR_CTL_OPTIMIZE = 8;
    const int EEXIST = 17, EACCES = 13;

    [StructLayout(LayoutKind.Sequential)]
    struct ScmpArgCmp { public uint Arg; public int Op; public ulong DatumA; public ulong DatumB; }

    [LibraryImport(Lib)] private static partial nint seccomp_init(uint defAction);
    [LibraryImport(Lib)] private static partial void seccomp_release(nint ctx);
    [LibraryImport(Lib)] private static partial int seccomp_arch_add(nint ctx, uint archToken);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)] private static partial uint seccomp_arch_resolve_name(string name);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)] private static partial int seccomp_syscall_resolve_name(string name);
    [LibraryImport(Lib)] private static partial int seccomp_rule_add_array(nint ctx, uint action, int syscall, uint argCnt, ScmpArgCmp* args);
    [LibraryImport(Lib)] private static partial int seccomp_attr_set(nint ctx, int attr, uint value);
    [LibraryImport(Lib)] private static partial int seccomp_export_bpf(nint ctx, int fd);

    static readonly ConcurrentDictionary<(string Hash, ulong Caps), byte[]> _cache = new();

    /// <summary>The program for this profile and capability mask (bit n = capability n); cached per
    /// (profile content, caps): every start of a default container reuses one array.</summary>
    public static byte[] Compile(SeccompProfile profile, ulong caps) =>
        _cache.GetOrAdd((profile.ContentHash, caps), _ => CompileUncached(profile, caps));

    /// <summary>Whether a profile entry applies to a container with these capabilities on this machine
    /// (Docker's rules: every includes.caps held, no excludes.caps held, arch and kernel checks).</summary>
    public static bool Applies(SeccompRule rule, ulong caps, string goArch, (int, int) kernel)
    {
        if (rule.Excludes.Arches.Contains(goArch)) return false;
        if ((rule.Excludes.CapMask & caps) != 0) return false;
        if (rule.Excludes.MinKernel is { } exMin && kernel.CompareTo(SeccompProfile.ParseKernel(exMin)!.Value) >= 0) return false;
        if (rule.Includes.Arches.Length > 0 && !rule.Includes.Arches.Contains(goArch)) return false;
        if ((rule.Includes.CapMask & caps) != rule.Includes.CapMask) return false;
        if (rule.Includes.MinKernel is { } inMin && kernel.CompareTo(SeccompProfile.ParseKernel(inMin)!.Value) < 0) return false;
        return true;
    }

    public static byte[] CompileUncached(SeccompProfile profile, ulong caps)
    {
        uint defaultAction = profile.DefaultAction.Encode();
        nint ctx = seccomp_init(defaultAction);
        if (ctx == 0) throw new InvalidOperationException("seccomp_init failed");
        try
        {
            foreach (var arch in Arches(profile))
            {
                uint token = seccomp_arch_resolve_name(arch["SCMP_ARCH_".Length..].ToLowerInvariant());
                if (token == 0) throw new InvalidOperationException($"seccomp: libseccomp does not know arch {arch}");
                int rc = seccomp_arch_add(ctx, token);
                if (rc < 0 && rc != -EEXIST) throw new SyscallException("seccomp_arch_add", arch, -rc);
            }
            Check(seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2), "seccomp_attr_set", "CTL_OPTIMIZE=2");

            string goArch = SeccompProfile.NativeGoArch;
            var kernel = KernelVersion();
            var cmp = stackalloc ScmpArgCmp[6];
            foreach (var rule in profile.Syscalls)
            {
                if (!Applies(rule, caps, goArch, kernel)) continue;
                uint action = rule.Action.Encode();
                // libseccomp refuses a rule that does what the default does (runc skips it too).
                if (action == defaultAction) continue;
                foreach (var name in rule.Names)
                {
                    int nr = seccomp_syscall_resolve_name(name);
                    if (nr == NR_SCMP_ERROR) continue; // unknown to libseccomp: skipped, as Docker does
                    if (rule.Args.Length == 0) { Add(ctx, action, nr, cmp, 0, name); continue; }
                    // libseccomp ANDs the comparisons of one rule but cannot AND two on the same
                    // argument: then each becomes its own rule (an OR), as runc does.
                    bool sameIndexTwice = rule.Args.Select(a => a.Index).Distinct().Count() != rule.Args.Length;
                    if (sameIndexTwice)
                        foreach (var a in rule.Args) { Fill(cmp, 0, a); Add(ctx, action, nr, cmp, 1, name); }
                    else
                    {
                        for (int i = 0; i < rule.Args.Length; i++) Fill(cmp, i, rule.Args[i]);
                        Add(ctx, action, nr, cmp, (uint)rule.Args.Length, name);
                    }
                }
            }
            return Export(ctx);
        }
        finally { seccomp_release(ctx); }
    }

    static IEnumerable<string> Arches(SeccompProfile p)
    {
        if (p.Architectures.Length > 0) return p.Architectures;
        string native = SeccompProfile.NativeArch;
        foreach (var m in p.ArchMap)
            if (m.Arch == native) return [m.Arch, .. m.SubArches];
        return [];
    }

    static void Fill(ScmpArgCmp* cmp, int i, SeccompArg a) =>
        cmp[i] = new ScmpArgCmp { Arg = a.Index, Op = (int)a.Op, DatumA = a.Value, DatumB = a.ValueTwo };

    static void Add(nint ctx, uint action, int nr, ScmpArgCmp* cmp, uint n, string name)
    {
        int rc = seccomp_rule_add_array(ctx, action, nr, n, n == 0 ? null : cmp);
        if (rc == -EACCES) return; // same action as the default on some arch
        Check(rc, "seccomp_rule_add", name);
    }

    static void Check(int rc, string op, string what)
    {
        if (rc < 0) throw new SyscallException(op, what, -rc);
    }

    /// <summary>seccomp_export_bpf writes to an fd: a memfd, read back whole.</summary>
    static byte[] Export(nint ctx)
    {
        int fd;
        fixed (byte* name = "gocker-seccomp\0"u8) fd = (int)Libc.syscall(319 /*memfd_create*/, (nint)name, 1 /*MFD_CLOEXEC*/, 0, 0, 0);
        if (fd < 0) throw new SyscallException("memfd_create", "gocker-seccomp", Libc.Errno);
        try
        {
            Check(seccomp_export_bpf(ctx, fd), "seccomp_export_bpf", "memfd");
            using var handle = new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: false);
            long len = RandomAccess.GetLength(handle);
            var bpf = new byte[len];
            int read = RandomAccess.Read(handle, bpf, 0);
            if (read != len || len % 8 != 0) throw new InvalidOperationException($"seccomp: exported {read} of {len} bytes of BPF");
            return bpf;
        }
        finally { Libc.close(fd); }
    }

    static (int, int) KernelVersion()
    {
        string release = File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
        return SeccompProfile.ParseKernel(release) ?? throw new InvalidOperationException($"seccomp: cannot parse kernel release '{release}'");
    }
}
