using Gocker.Syscalls.Security;

namespace Gocker.Tests.Security;

public class SeccompProfileTests
{
    [Fact]
    public void Default_profile_is_dockers_deny_by_default_with_eperm()
    {
        var p = SeccompProfile.Default;
        Assert.Equal(new SeccompAction(SeccompActionKind.Errno, 1), p.DefaultAction);
        Assert.Contains(p.ArchMap, m => m.Arch == "SCMP_ARCH_X86_64" && m.SubArches.SequenceEqual(["SCMP_ARCH_X86", "SCMP_ARCH_X32"]));
        var allow = p.Syscalls[0];
        Assert.Equal(SeccompActionKind.Allow, allow.Action.Kind);
        Assert.Contains("getpid", allow.Names);
        Assert.DoesNotContain("keyctl", p.Syscalls.SelectMany(s => s.Names));
        Assert.DoesNotContain("add_key", p.Syscalls.SelectMany(s => s.Names));
        // clone3 answers ENOSYS unless CAP_SYS_ADMIN is held (glibc then falls back to clone).
        var clone3 = Assert.Single(p.Syscalls, s => s.Names.SequenceEqual(["clone3"]));
        Assert.Equal(new SeccompAction(SeccompActionKind.Errno, 38), clone3.Action);
        Assert.Equal(1UL << CapabilitySet.SYS_ADMIN, clone3.Excludes.CapMask);
        // clone only without namespace flags.
        var clone = p.Syscalls.First(s => s.Names.SequenceEqual(["clone"]) && s.Args.Length == 1);
        Assert.Equal(new SeccompArg(0, 0x7E020000, 0, SeccompOp.MaskedEqual), clone.Args[0]);
        Assert.Equal(["s390", "s390x"], clone.Excludes.Arches);
        Assert.Equal(5, p.Syscalls.Count(s => s.Names.SequenceEqual(["personality"])));
        Assert.Equal("4.8", p.Syscalls.Single(s => s.Names.SequenceEqual(["process_vm_readv", "process_vm_writev", "ptrace"])).Includes.MinKernel);
        Assert.Equal(64, p.ContentHash.Length);
    }

    [Fact]
    public void Parses_every_field_of_the_format()
    {
        var p = SeccompProfile.Parse("""
        {
          "defaultAction": "SCMP_ACT_KILL_PROCESS",
          "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
          "flags": ["SECCOMP_FILTER_FLAG_LOG"],
          "syscalls": [
            {"name": "getppid", "action": "SCMP_ACT_ERRNO", "errnoRet": 42, "comment": "x"},
            {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 40, "valueTwo": 0, "op": "SCMP_CMP_NE"},
                      {"index": 2, "value": 18446744073709551615, "op": "SCMP_CMP_LE"}],
             "includes": {"caps": ["NET_RAW", "CAP_NET_ADMIN"], "arches": ["amd64"], "minKernel": "5.4"},
             "excludes": {"caps": ["CAP_SYS_ADMIN"], "arches": ["x32"]}},
            {"names": ["kill"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["tkill"], "action": "SCMP_ACT_KILL"}
          ]
        }
        """);
        Assert.Equal(SeccompActionKind.KillProcess, p.DefaultAction.Kind);
        Assert.Equal(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"], p.Architectures);
        Assert.Equal(["getppid"], p.Syscalls[0].Names);
        Assert.Equal(new SeccompAction(SeccompActionKind.Errno, 42), p.Syscalls[0].Action);
        var socket = p.Syscalls[1];
        Assert.Equal([new SeccompArg(0, 40, 0, SeccompOp.NotEqual), new SeccompArg(2, ulong.MaxValue, 0, SeccompOp.LessOrEqual)], socket.Args);
        Assert.Equal(1UL << 13 | 1UL << 12, socket.Includes.CapMask);
        Assert.Equal("5.4", socket.Includes.MinKernel);
        Assert.Equal(["x32"], socket.Excludes.Arches);
        // As runc: an ERRNO without errnoRet is EPERM.
        Assert.Equal(new SeccompAction(SeccompActionKind.Errno, 1), p.Syscalls[2].Action);
        Assert.Equal(SeccompActionKind.KillThread, p.Syscalls[3].Action.Kind);
    }

    [Theory]
    [InlineData("""{"defaultAction":"SCMP_ACT_DENY"}""", "defaultAction", "SCMP_ACT_DENY")]
    [InlineData("""{"syscalls":[]}""", "defaultAction", "missing")]
    [InlineData("""{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALOW"}]}""", "syscalls[0].action", "SCMP_ACT_ALOW")]
    [InlineData("""{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"]}]}""", "syscalls[0].action", "missing")]
    [InlineData("""{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_NOTIFY"}]}""", "syscalls[0].action", "SCMP_ACT_NOTIFY")]
    [InlineData("""{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_EQUAL"}]}]}""", "syscalls[0].args[0].op", "SCMP_CMP_EQUAL")]
    [InlineData("""{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}""", "syscalls[0].args[0].index", "6")]
    [InlineData("""{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":-1,"op":"SCMP_CMP_EQ"}]}]}""", "syscalls[0].args[0].value", "64-bit")]
    [InlineData("""{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_PDP11"]}""", "architectures", "SCMP_ARCH_PDP11")]
    [InlineData("""{"defaultAction":"SCMP_ACT_ERRNO","archMap":[{"architecture":"SCMP_ARCH_VAX","subArchitectures":null}]}""", "archMap[0].architecture", "SCMP_ARCH_VAX")]
    [InlineData("""{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86"],"archMap":[{"architecture":"SCMP_ARCH_X86_64"}]}""", "architectures", "archMap")]
    [InlineData("""{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","includes":{"arches":["amd46"]}}]}""", "syscalls[0].includes.arches", "amd46")]
    [InlineData("""{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","excludes":{"caps":["CAP_SYS_GOD"]}}]}""", "syscalls[0].excludes.caps", "CAP_SYS_GOD")]
    [InlineData("""{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":"four"}}]}""", "syscalls[0].includes.minKernel", "four")]
    [InlineData("""{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"name":"read","names":["write"],"action":"SCMP_ACT_ALLOW"}]}""", "syscalls[0]", "'name' and 'names'")]
    [InlineData("""{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"action":"SCMP_ACT_ALLOW"}]}""", "syscalls[0].names", "no syscall")]
    [InlineData("""{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","errnoRet":70000}]}""", "syscalls[0].action", "70000")]
    [InlineData("""{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":"read","action":"SCMP_ACT_ALLOW"}]}""", "syscalls[0].names", "array")]
    [InlineData("""{"defaultAction":"SCMP_ACT_ERRNO",""", "invalid JSON", "")]
    [InlineData("""[1,2]""", "profile", "object")]
    public void Bad_profiles_are_a_FormatException_naming_the_field_and_value(string json, string field, string value)
    {
        var e = Assert.Throws<FormatException>(() => SeccompProfile.Parse(json));
        Assert.Contains(field, e.Message);
        Assert.Contains(value, e.Message);
    }

    [Theory]
    [InlineData("6.18.0-1-amd64", 6, 18)]
    [InlineData("4.8", 4, 8)]
    [InlineData("5.10.1", 5, 10)]
    [InlineData("6.1-rc2", 6, 1)]
    public void Kernel_versions_parse_to_major_minor(string v, int major, int minor) =>
        Assert.Equal((major, minor), SeccompProfile.ParseKernel(v));

    [Fact]
    public void Capability_names_parse_with_or_without_the_prefix()
    {
        Assert.Equal(21, CapabilitySet.Parse("CAP_SYS_ADMIN"));
        Assert.Equal(21, CapabilitySet.Parse("sys_admin"));
        Assert.Equal(40, CapabilitySet.Parse("CAP_CHECKPOINT_RESTORE"));
        Assert.Equal(-1, CapabilitySet.Parse("CAP_NOPE"));
        Assert.Equal(14, System.Numerics.BitOperations.PopCount(CapabilitySet.DockerDefault));
    }
}
