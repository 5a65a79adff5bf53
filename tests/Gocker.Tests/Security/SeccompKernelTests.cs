using Gocker.Syscalls.Native;
using Gocker.Syscalls.Security;

namespace Gocker.Tests.Security;

/// <summary>
/// Compiled programs installed for real: each test runs its calls on a dedicated new thread of the
/// test process, which sets no_new_privs and installs the filter there. Without TSYNC seccomp filters
/// that thread only; the filter ends with it, the rest of the test process stays unconfined.
/// </summary>
[Trait("Needs", "root")]
public class SeccompKernelTests
{
    // x86_64 syscall numbers.
    const long SYS_getpid = 39, SYS_getppid = 110, SYS_personality = 135, SYS_unshare = 272, SYS_add_key = 248,
        SYS_request_key = 249, SYS_keyctl = 250, SYS_perf_event_open = 298, SYS_clone3 = 435;
    const int EPERM = 1, ENOSYS = 38, CLONE_NEWUSER = 0x10000000;
    const int KEYCTL_GET_KEYRING_ID = 0, KEY_SPEC_USER_KEYRING = -4;

    /// <summary>Runs calls on a fresh thread under the program; returns (result, errno) per call.</summary>
    static (long Rc, int Errno)[] UnderFilter(byte[] bpf, params Func<long>[] calls)
    {
        var results = new (long, int)[calls.Length];
        Exception? failure = null;
        int mode = -1;
        var t = new Thread(() =>
        {
            try
            {
                SeccompFilter.SetNoNewPrivileges();
                SeccompFilter.Install(bpf);
                mode = SeccompFilter.Mode();
                for (int i = 0; i < calls.Length; i++)
                {
                    long rc = calls[i]();
                    results[i] = (rc, rc < 0 ? Libc.Errno : 0);
                }
            }
            catch (Exception e) { failure = e; }
        });
        t.Start();
        t.Join();
        if (failure is not null) throw new Xunit.Sdk.XunitException("on the filtered thread: " + failure);
        Assert.Equal(2, mode); // SECCOMP_MODE_FILTER on that thread
        Assert.Equal(0, SeccompFilter.Mode()); // and only there
        return results;
    }

    static unsafe long AddKey()
    {
        fixed (byte* type = "user\0"u8, desc = "gocker-seccomp-test\0"u8, payload = "v"u8)
            return Libc.syscall(SYS_add_key, (nint)type, (nint)desc, (nint)payload, 1, -2 /*KEY_SPEC_PROCESS_KEYRING*/);
    }

    static unsafe long RequestKey()
    {
        fixed (byte* type = "user\0"u8, desc = "gocker-seccomp-test\0"u8)
            return Libc.syscall(SYS_request_key, (nint)type, (nint)desc, 0, 0, 0);
    }

    [Fact]
    public void Default_profile_refuses_keys_namespaces_and_perf_and_answers_clone3_with_enosys()
    {
        var bpf = SeccompCompiler.Compile(SeccompProfile.Default, CapabilitySet.DockerDefault);
        int pid = Environment.ProcessId;
        var r = UnderFilter(bpf,
            () => Libc.syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 0, 0, 0),
            AddKey,
            RequestKey,
            () => Libc.syscall(SYS_clone3, 0, 0, 0, 0, 0),
            () => Libc.syscall(SYS_unshare, CLONE_NEWUSER, 0, 0, 0, 0),
            () => Libc.syscall(SYS_perf_event_open, 0, 0, -1, -1, 0),
            () => Libc.syscall(SYS_personality, unchecked((nint)0xffffffffL), 0, 0, 0, 0), // query: allowed
            () => Libc.syscall(SYS_personality, 0x0040000 /*ADDR_NO_RANDOMIZE*/, 0, 0, 0, 0), // a change: refused
            () => Libc.syscall(SYS_getpid, 0, 0, 0, 0, 0));
        Assert.Equal((-1L, EPERM), r[0]);  // keyctl
        Assert.Equal((-1L, EPERM), r[1]);  // add_key
        Assert.Equal((-1L, EPERM), r[2]);  // request_key
        Assert.Equal((-1L, ENOSYS), r[3]); // clone3: glibc falls back to clone
        Assert.Equal((-1L, EPERM), r[4]);  // unshare(CLONE_NEWUSER)
        Assert.Equal((-1L, EPERM), r[5]);  // perf_event_open
        Assert.True(r[6].Rc >= 0, $"personality(0xffffffff) refused: errno {r[6].Errno}");
        Assert.Equal((-1L, EPERM), r[7]);
        Assert.Equal((long)pid, r[8].Rc);
    }

    [Fact]
    public void With_CAP_SYS_ADMIN_the_default_profile_lets_clone3_reach_the_kernel()
    {
        var bpf = SeccompCompiler.Compile(SeccompProfile.Default, CapabilitySet.DockerDefault | 1UL << CapabilitySet.SYS_ADMIN);
        var r = UnderFilter(bpf, () => Libc.syscall(SYS_clone3, 0, 0, 0, 0, 0));
        // The kernel itself rejects a NULL/zero-sized clone_args (EINVAL or EFAULT), not the filter.
        Assert.Equal(-1L, r[0].Rc);
        Assert.NotEqual(ENOSYS, r[0].Errno);
        Assert.NotEqual(EPERM, r[0].Errno);
    }

    [Fact]
    public void A_user_profile_with_errnoRet_and_arg_conditions_is_enforced()
    {
        var p = SeccompProfile.Parse("""
        {"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
          {"names":["getppid"],"action":"SCMP_ACT_ERRNO","errnoRet":42},
          {"names":["personality"],"action":"SCMP_ACT_ERRNO","errnoRet":7,
           "args":[{"index":0,"value":255,"valueTwo":8,"op":"SCMP_CMP_MASKED_EQ"}]}]}
        """);
        var r = UnderFilter(SeccompCompiler.Compile(p, 0),
            () => Libc.syscall(SYS_getppid, 0, 0, 0, 0, 0),
            () => Libc.syscall(SYS_personality, 0x108, 0, 0, 0, 0), // & 0xff == 8: refused with 7
            () => Libc.syscall(SYS_personality, unchecked((nint)0xffffffffL), 0, 0, 0, 0),
            () => Libc.syscall(SYS_getpid, 0, 0, 0, 0, 0));
        Assert.Equal((-1L, 42), r[0]);
        Assert.Equal((-1L, 7), r[1]);
        Assert.True(r[2].Rc >= 0);
        Assert.Equal((long)Environment.ProcessId, r[3].Rc);
    }

    [Fact]
    public void Install_refuses_what_is_not_a_program()
    {
        var e = Assert.Throws<Gocker.Syscalls.SyscallException>(() => SeccompFilter.Install(new byte[12]));
        Assert.Contains("seccomp", e.Message);
    }
}
