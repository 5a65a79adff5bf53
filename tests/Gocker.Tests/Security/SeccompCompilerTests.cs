using System.Diagnostics;
using Gocker.Syscalls.Security;
using Xunit.Abstractions;

namespace Gocker.Tests.Security;

public class SeccompCompilerTests(ITestOutputHelper output)
{
    const ulong SysAdmin = 1UL << CapabilitySet.SYS_ADMIN;

    static void AssertIsBpf(byte[] bpf)
    {
        Assert.True(bpf.Length > 0 && bpf.Length % 8 == 0, $"{bpf.Length} bytes is not a sock_filter array");
        Assert.True(bpf.Length / 8 <= 4096, $"{bpf.Length / 8} instructions: over BPF_MAXINSNS");
        // The first instruction loads seccomp_data.arch (BPF_LD|BPF_W|BPF_ABS, k = 4): libseccomp's arch check.
        Assert.Equal(new byte[] { 0x20, 0, 0, 0, 4, 0, 0, 0 }, bpf[..8]);
    }

    [Fact]
    public void Default_profile_compiles_for_the_default_and_for_all_capabilities()
    {
        var sw = Stopwatch.StartNew();
        var def = SeccompCompiler.CompileUncached(SeccompProfile.Default, CapabilitySet.DockerDefault);
        var cold = sw.Elapsed;
        sw.Restart();
        SeccompCompiler.CompileUncached(SeccompProfile.Default, CapabilitySet.DockerDefault);
        output.WriteLine($"default profile, default caps: {def.Length / 8} instructions; first compile (with parse, JIT, dlopen) " +
            $"{cold.TotalMilliseconds:F1} ms, again {sw.Elapsed.TotalMilliseconds:F1} ms");
        var all = SeccompCompiler.CompileUncached(SeccompProfile.Default, CapabilitySet.All);
        AssertIsBpf(def);
        AssertIsBpf(all);
        Assert.NotEqual(def, all);
        // Deterministic: the same input gives the same program.
        Assert.Equal(def, SeccompCompiler.CompileUncached(SeccompProfile.Default, CapabilitySet.DockerDefault));
    }

    [Fact]
    public void Compiled_programs_are_cached_per_profile_and_caps()
    {
        var a = SeccompCompiler.Compile(SeccompProfile.Default, CapabilitySet.DockerDefault);
        Assert.Same(a, SeccompCompiler.Compile(SeccompProfile.Default, CapabilitySet.DockerDefault));
        Assert.NotSame(a, SeccompCompiler.Compile(SeccompProfile.Default, CapabilitySet.DockerDefault | SysAdmin));
    }

    [Fact]
    public void An_includes_caps_entry_changes_the_program_with_the_capability()
    {
        var p = SeccompProfile.Parse("""
        {"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
          {"names":["getpid"],"action":"SCMP_ACT_ALLOW"},
          {"names":["reboot"],"action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_SYS_BOOT"]}}]}
        """);
        var without = SeccompCompiler.CompileUncached(p, 0);
        var with = SeccompCompiler.CompileUncached(p, 1UL << 22);
        Assert.NotEqual(without, with);
        // Another capability changes nothing.
        Assert.Equal(without, SeccompCompiler.CompileUncached(p, SysAdmin));
    }

    [Fact]
    public void Names_unknown_to_libseccomp_are_skipped_as_docker_does()
    {
        var known = SeccompProfile.Parse("""{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["getpid"],"action":"SCMP_ACT_ALLOW"}]}""");
        var extra = SeccompProfile.Parse("""{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["getpid","no_such_syscall_ever"],"action":"SCMP_ACT_ALLOW"}]}""");
        Assert.Equal(SeccompCompiler.CompileUncached(known, 0), SeccompCompiler.CompileUncached(extra, 0));
    }

    [Fact]
    public void Applies_follows_dockers_includes_and_excludes()
    {
        var p = SeccompProfile.Parse("""
        {"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
          {"names":["a"],"action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_SYS_ADMIN","CAP_SYS_BOOT"]}},
          {"names":["b"],"action":"SCMP_ACT_ALLOW","excludes":{"caps":["CAP_SYS_ADMIN","CAP_SYS_BOOT"]}},
          {"names":["c"],"action":"SCMP_ACT_ALLOW","includes":{"arches":["s390x"]}},
          {"names":["d"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":"6.19"},"excludes":{"arches":["arm64"]}}]}
        """);
        ulong admin = SysAdmin, boot = 1UL << 22;
        Assert.False(SeccompCompiler.Applies(p.Syscalls[0], admin, "amd64", (6, 18)));   // includes: every cap
        Assert.True(SeccompCompiler.Applies(p.Syscalls[0], admin | boot, "amd64", (6, 18)));
        Assert.False(SeccompCompiler.Applies(p.Syscalls[1], boot, "amd64", (6, 18)));   // excludes: any cap
        Assert.True(SeccompCompiler.Applies(p.Syscalls[1], 0, "amd64", (6, 18)));
        Assert.False(SeccompCompiler.Applies(p.Syscalls[2], 0, "amd64", (6, 18)));
        Assert.True(SeccompCompiler.Applies(p.Syscalls[2], 0, "s390x", (6, 18)));
        Assert.False(SeccompCompiler.Applies(p.Syscalls[3], 0, "amd64", (6, 18)));
        Assert.True(SeccompCompiler.Applies(p.Syscalls[3], 0, "amd64", (6, 19)));
        Assert.False(SeccompCompiler.Applies(p.Syscalls[3], 0, "arm64", (7, 0)));
    }
}
