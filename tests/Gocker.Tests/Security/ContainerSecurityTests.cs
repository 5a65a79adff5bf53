using Gocker.Actors.Containers;
using Gocker.Syscalls.Security;

namespace Gocker.Tests.Security;

/// <summary>ContainerSpec.Seccomp → the program the init and exec specs carry.</summary>
public class ContainerSecurityTests
{
    static ContainerSpec Spec(string? seccomp, bool noNewPrivs = false) => new()
    {
        Id = new string('a', 64), Name = "c", Image = "busybox", ImageId = "sha256:x", ImageLayers = ["/l"],
        Args = ["true"], Env = [], Hostname = "h", Seccomp = seccomp, NoNewPrivileges = noNewPrivs,
    };

    [Fact]
    public void Null_is_dockers_default_profile_for_the_default_capabilities()
    {
        Assert.Same(SeccompProfile.Default, ContainerSecurity.Profile(Spec(null)));
        Assert.Equal(CapabilitySet.DockerDefault, ContainerSecurity.EffectiveCaps(Spec(null)));
        Assert.Equal(SeccompCompiler.Compile(SeccompProfile.Default, CapabilitySet.DockerDefault), ContainerSecurity.SeccompProgram(Spec(null)));
    }

    [Fact]
    public void Unconfined_has_no_program()
    {
        Assert.Null(ContainerSecurity.Profile(Spec("unconfined")));
        Assert.Null(ContainerSecurity.SeccompProgram(Spec("unconfined")));
    }

    [Fact]
    public void A_users_profile_text_goes_through_the_same_parser_and_compiler()
    {
        const string json = """{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["getppid"],"action":"SCMP_ACT_ERRNO","errnoRet":42}]}""";
        var program = ContainerSecurity.SeccompProgram(Spec(json));
        Assert.Equal(SeccompCompiler.CompileUncached(SeccompProfile.Parse(json), CapabilitySet.DockerDefault), program);
        Assert.NotEqual(ContainerSecurity.SeccompProgram(Spec(null)), program);
        var e = Assert.Throws<FormatException>(() => ContainerSecurity.SeccompProgram(Spec("""{"defaultAction":"SCMP_ACT_NOPE"}""")));
        Assert.Contains("SCMP_ACT_NOPE", e.Message);
    }
}
