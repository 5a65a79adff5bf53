using Gocker.Syscalls.Spawn;

namespace Gocker.Actors.Containers;

public sealed partial class ContainerActor
{
    /// <summary>The sysctls the init writes, with --domainname as kernel.domainname (the container's
    /// UTS namespace's, as Docker sets it); an explicit --sysctl kernel.domainname wins.</summary>
    static SysctlSetting[] WithDomainname(ContainerSpec s) =>
        s.Names is { Domainname.Length: > 0 } n && !s.Sysctls.Any(x => x.Key == "kernel.domainname")
            ? [.. s.Sysctls, new SysctlSetting("kernel.domainname", n.Domainname)]
            : s.Sysctls;
}
