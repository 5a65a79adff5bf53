using Gocker.Api;

namespace Gocker.Actors.Containers;

public static partial class ContainerSpecFactory
{
    /// <summary>
    /// --cgroupns / HostConfig.CgroupnsMode, Docker's values: "private" (a cgroup namespace of the
    /// container's own, whose root is its cgroup; the default here on v1, v2 and hybrid alike) or
    /// "host" (the host's namespace: /proc/self/cgroup shows the host's paths and /sys/fs/cgroup the
    /// host's trees, read-only). "" = private. Anything else is refused by name.
    /// </summary>
    public static ContainerSpec WithCgroupns(ContainerSpec spec, HostConfig hc)
    {
        var mode = hc.CgroupnsMode switch
        {
            null or "" or "private" => "private",
            "host" => "host",
            var other => throw new BadRequestException(
                $"HostConfig.CgroupnsMode \"{Shorten(other)}\" is invalid: it must be \"host\" or \"private\" (--cgroupns)"),
        };
        // Mounting a cgroup filesystem in a user namespace needs a cgroup namespace it owns; the host's
        // is owned by the host's user namespace (Docker falls back to a bind of the host's tree there).
        if (mode == "host" && spec.Userns is not null)
            throw new BadRequestException("HostConfig.CgroupnsMode \"host\" is incompatible with user namespaces (the daemon runs with --userns-remap): add --userns host");
        return spec with { CgroupnsMode = mode };
    }

    /// <summary>True when the container gets its own cgroup namespace (records made before the option: yes).</summary>
    public static bool PrivateCgroupns(ContainerSpec spec) => spec.CgroupnsMode != "host";
}
