using System.Runtime.InteropServices;
using System.Text;
using Gocker.Syscalls.Native;
using static Gocker.Syscalls.Native.Consts;

namespace Gocker.Syscalls.Cgroups;

/// <summary>One eBPF instruction (struct bpf_insn: code, dst_reg:4, src_reg:4, off, imm).</summary>
public readonly record struct BpfInsn(byte Code, byte Dst, byte Src, short Off, int Imm)
{
    public ulong Encode() =>
        Code | (ulong)(Dst & 0xf) << 8 | (ulong)(Src & 0xf) << 12 | (ulong)(ushort)Off << 16 | (ulong)(uint)Imm << 32;
}

/// <summary>
/// The cgroup v2 device controller: a BPF_PROG_TYPE_CGROUP_DEVICE program attached to the
/// container's cgroup, run by the kernel on every open and mknod of a device node (1 = allow,
/// 0 = EPERM). The program is written here instruction by instruction: it is a few dozen
/// instructions of one fixed shape (as runc's devicefilter generates), and there is no eBPF
/// assembler or loader library for .NET; libbpf through P/Invoke would add a native dependency for
/// two bpf(2) calls.
/// </summary>
public static unsafe class DeviceFilter
{
    // bpf(2) commands, program and attach types, flags (uapi/linux/bpf.h)
    const int BPF_PROG_LOAD = 5, BPF_PROG_ATTACH = 8, BPF_PROG_QUERY = 16;
    const int BPF_PROG_TYPE_CGROUP_DEVICE = 15, BPF_CGROUP_DEVICE = 6, BPF_F_ALLOW_MULTI = 2;
    const long SYS_bpf = 321; // x86_64
    // struct bpf_cgroup_dev_ctx access_type: low 16 bits the device type, high 16 the access.
    const int BPF_DEVCG_DEV_BLOCK = 1, BPF_DEVCG_DEV_CHAR = 2;
    const int BPF_DEVCG_ACC_MKNOD = 1, BPF_DEVCG_ACC_READ = 2, BPF_DEVCG_ACC_WRITE = 4;

    // opcodes: class | op | source
    const byte LdxMemW = 0x61;              // BPF_LDX | BPF_MEM | BPF_W
    const byte Alu32AndK = 0x54, Alu32RshK = 0x74, Alu32MovK = 0xb4, Alu32MovX = 0xbc;
    const byte Jmp32JneK = 0x56, Jmp32JneX = 0x5e; // BPF_JMP32 | BPF_JNE | BPF_K/BPF_X
    const byte Exit = 0x95;                 // BPF_JMP | BPF_EXIT

    /// <summary>
    /// The program for <paramref name="rules"/>. r1 = ctx on entry; the prologue loads
    /// w2 = device type, w3 = requested access, w4 = major, w5 = minor. Then one block per rule, the
    /// last rule first (the last matching rule decides, as later --device rules override the
    /// defaults): each condition jumps to the next block when it fails, and a block whose conditions
    /// all hold returns 1 (allow) or 0 (deny). A rule that matches everything ends the program (the
    /// verifier rejects unreachable code); otherwise the epilogue denies.
    /// </summary>
    public static IReadOnlyList<BpfInsn> Generate(IReadOnlyList<DeviceRule> rules)
    {
        var prog = new List<BpfInsn>
        {
            new(LdxMemW, 2, 1, 0, 0),
            new(Alu32AndK, 2, 0, 0, 0xffff),
            new(LdxMemW, 3, 1, 0, 0),
            new(Alu32RshK, 3, 0, 0, 16),
            new(LdxMemW, 4, 1, 4, 0),
            new(LdxMemW, 5, 1, 8, 0),
        };
        for (int i = rules.Count - 1; i >= 0; i--)
        {
            var r = rules[i];
            // Jump offsets are filled in once the block's length is known.
            var block = new List<BpfInsn>();
            if (r.Type != 'a') block.Add(new(Jmp32JneK, 2, 0, 0, r.Type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR));
            if (r.Access != "rwm")
            {
                // allowed only if every requested bit is in the rule: (req & rule) == req
                block.Add(new(Alu32MovX, 1, 3, 0, 0));
                block.Add(new(Alu32AndK, 1, 0, 0, AccessBits(r.Access)));
                block.Add(new(Jmp32JneX, 1, 3, 0, 0));
            }
            if (r.Major != DeviceRule.Any) block.Add(new(Jmp32JneK, 4, 0, 0, unchecked((int)(uint)r.Major)));
            if (r.Minor != DeviceRule.Any) block.Add(new(Jmp32JneK, 5, 0, 0, unchecked((int)(uint)r.Minor)));
            bool matchesAll = block.Count == 0;
            block.Add(new(Alu32MovK, 0, 0, 0, r.Allow ? 1 : 0));
            block.Add(new(Exit, 0, 0, 0, 0));
            for (int j = 0; j < block.Count; j++)
                if (block[j].Code is Jmp32JneK or Jmp32JneX)
                    block[j] = block[j] with { Off = (short)(block.Count - j - 1) }; // to the block's end
            prog.AddRange(block);
            if (matchesAll) return prog;
        }
        prog.Add(new(Alu32MovK, 0, 0, 0, 0));
        prog.Add(new(Exit, 0, 0, 0, 0));
        return prog;
    }

    static int AccessBits(string access) =>
        (access.Contains('m') ? BPF_DEVCG_ACC_MKNOD : 0) | (access.Contains('r') ? BPF_DEVCG_ACC_READ : 0) |
        (access.Contains('w') ? BPF_DEVCG_ACC_WRITE : 0);

    /// <summary>
    /// Loads the program for <paramref name="rules"/> and attaches it to the cgroup2 directory
    /// <paramref name="cgroupDir"/> (BPF_F_ALLOW_MULTI: programs of ancestors still run, and all
    /// must allow). The attachment holds the program, so its fd is closed here; the kernel detaches
    /// and frees it when the cgroup is removed. Failures name the directory; a load failure carries
    /// the verifier's log.
    /// </summary>
    public static void Attach(string cgroupDir, IReadOnlyList<DeviceRule> rules) => Attach(cgroupDir, Generate(rules));

    /// <summary>Loads and attaches a given program (tests use it to see a verifier failure).</summary>
    public static void Attach(string cgroupDir, IReadOnlyList<BpfInsn> program)
    {
        int prog = Load(program, cgroupDir);
        try
        {
            int dir = Sys.Open(cgroupDir, O_RDONLY | O_DIRECTORY);
            try
            {
                byte* attr = stackalloc byte[AttrSize];
                new Span<byte>(attr, AttrSize).Clear();
                *(uint*)(attr + 0) = (uint)dir;        // target_fd
                *(uint*)(attr + 4) = (uint)prog;       // attach_bpf_fd
                *(uint*)(attr + 8) = BPF_CGROUP_DEVICE; // attach_type
                *(uint*)(attr + 12) = BPF_F_ALLOW_MULTI; // attach_flags
                if (Bpf(BPF_PROG_ATTACH, attr) < 0)
                    throw new SyscallException("bpf(BPF_PROG_ATTACH, BPF_CGROUP_DEVICE)", cgroupDir, Libc.Errno);
            }
            finally { Sys.Close(dir); }
        }
        finally { Sys.Close(prog); }
    }

    /// <summary>How many BPF_CGROUP_DEVICE programs are attached to the cgroup itself (not its
    /// ancestors'): BPF_PROG_QUERY.</summary>
    public static int AttachedCount(string cgroupDir)
    {
        int dir = Sys.Open(cgroupDir, O_RDONLY | O_DIRECTORY);
        try
        {
            byte* attr = stackalloc byte[AttrSize];
            new Span<byte>(attr, AttrSize).Clear();
            *(uint*)(attr + 0) = (uint)dir;         // target_fd
            *(uint*)(attr + 4) = BPF_CGROUP_DEVICE; // attach_type
            // prog_ids null, prog_cnt 0: the kernel only reports the count (at offset 24)
            if (Bpf(BPF_PROG_QUERY, attr) < 0) throw new SyscallException("bpf(BPF_PROG_QUERY, BPF_CGROUP_DEVICE)", cgroupDir, Libc.Errno);
            return (int)*(uint*)(attr + 24);
        }
        finally { Sys.Close(dir); }
    }

    // Big enough for every field we set; the kernel accepts a shorter union bpf_attr (the rest is zero).
    const int AttrSize = 128;

    static long Bpf(int cmd, byte* attr) => Libc.syscall(SYS_bpf, cmd, (nint)attr, AttrSize, 0, 0);

    static int Load(IReadOnlyList<BpfInsn> insns, string forDir)
    {
        var code = new ulong[insns.Count];
        for (int i = 0; i < code.Length; i++) code[i] = insns[i].Encode();
        var license = "Apache-2.0\0"u8.ToArray(); // any string will do: no GPL-only helper is called
        // First without a log (the verifier skips the text work); on failure again with one.
        int fd = TryLoad(code, license, null, out int errno);
        if (fd >= 0) return fd;
        var log = new byte[64 * 1024];
        fd = TryLoad(code, license, log, out int errno2);
        if (fd >= 0) return fd; // a transient failure the second attempt got past
        var text = Encoding.UTF8.GetString(log, 0, Math.Max(0, Array.IndexOf(log, (byte)0))).Trim();
        throw new SyscallException("bpf(BPF_PROG_LOAD, CGROUP_DEVICE)", forDir,
            $"{ErrnoText.Describe(errno2 != 0 ? errno2 : errno)}{(text.Length > 0 ? "; verifier log:\n" + text : "")}");
    }

    static int TryLoad(ulong[] code, byte[] license, byte[]? log, out int errno)
    {
        byte* attr = stackalloc byte[AttrSize];
        new Span<byte>(attr, AttrSize).Clear();
        fixed (ulong* insns = code)
        fixed (byte* lic = license)
        fixed (byte* logBuf = log)
        {
            *(uint*)(attr + 0) = BPF_PROG_TYPE_CGROUP_DEVICE; // prog_type
            *(uint*)(attr + 4) = (uint)code.Length;           // insn_cnt
            *(ulong*)(attr + 8) = (ulong)insns;               // insns
            *(ulong*)(attr + 16) = (ulong)lic;                // license
            if (log is not null)
            {
                *(uint*)(attr + 24) = 1;                      // log_level
                *(uint*)(attr + 28) = (uint)log.Length;       // log_size
                *(ulong*)(attr + 32) = (ulong)logBuf;         // log_buf
            }
            "gocker_devices"u8.CopyTo(new Span<byte>(attr + 48, 16)); // prog_name (shown by bpftool)
            long fd = Bpf(BPF_PROG_LOAD, attr);
            errno = fd < 0 ? Libc.Errno : 0;
            return (int)fd; // bpf(2) fds are always O_CLOEXEC
        }
    }
}
