using Gocker.Api;
using Gocker.Images;

namespace Gocker.Actors.Containers;

/// <summary>Process options: --stop-signal (else the image's StopSignal), --stop-timeout, --init.</summary>
public static partial class ContainerSpecFactory
{
    static ContainerSpec WithProcessOptions(ContainerSpec spec, ContainerCreateRequest req, ImageRecord image)
    {
        var stopSignal = !string.IsNullOrEmpty(req.StopSignal) ? req.StopSignal : image.StopSignal;
        if (stopSignal is not null) SignalNames.Parse(stopSignal, "stop signal"); // refused at create, not at the first stop
        if (req.StopTimeout is < -1)
            throw new BadRequestException($"invalid StopTimeout {req.StopTimeout}: expected seconds (0 or more), or -1 to wait forever");
        return spec with { StopSignal = stopSignal, StopTimeout = req.StopTimeout, Init = req.HostConfig?.Init == true };
    }
}

/// <summary>Signal names as Docker takes them: "SIGTERM", "TERM", "term" or "15".</summary>
public static class SignalNames
{
    static readonly Dictionary<string, int> Names = new(StringComparer.OrdinalIgnoreCase)
    {
        ["HUP"] = 1, ["INT"] = 2, ["QUIT"] = 3, ["ILL"] = 4, ["TRAP"] = 5, ["ABRT"] = 6, ["BUS"] = 7, ["FPE"] = 8,
        ["KILL"] = 9, ["USR1"] = 10, ["SEGV"] = 11, ["USR2"] = 12, ["PIPE"] = 13, ["ALRM"] = 14, ["TERM"] = 15,
        ["STKFLT"] = 16, ["CHLD"] = 17, ["CONT"] = 18, ["STOP"] = 19, ["TSTP"] = 20, ["TTIN"] = 21, ["TTOU"] = 22, ["URG"] = 23,
        ["XCPU"] = 24, ["XFSZ"] = 25, ["VTALRM"] = 26, ["PROF"] = 27, ["WINCH"] = 28, ["IO"] = 29, ["PWR"] = 30, ["SYS"] = 31,
    };

    /// <summary>The signal's number; a BadRequestException naming <paramref name="what"/> otherwise.</summary>
    public static int Parse(string value, string what = "signal")
    {
        if (int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n))
            return n is > 0 and < 65 ? n : throw new BadRequestException($"Invalid {what}: {value}");
        var name = value.StartsWith("SIG", StringComparison.OrdinalIgnoreCase) ? value[3..] : value;
        if (Names.TryGetValue(name, out var sig)) return sig;
        // SIGRTMIN+n / RTMAX-n as Docker's signal package spells them (glibc: RTMIN is 34, RTMAX 64).
        if (name.StartsWith("RTMIN+", StringComparison.OrdinalIgnoreCase) && int.TryParse(name[6..], out var a) && a is >= 0 and <= 30) return 34 + a;
        if (name.StartsWith("RTMAX-", StringComparison.OrdinalIgnoreCase) && int.TryParse(name[6..], out var b) && b is >= 0 and <= 30) return 64 - b;
        throw new BadRequestException($"Invalid {what}: {value}");
    }
}

/// <summary>POST /containers/{id}/update validated against a container's spec (pure: no cgroup is
/// touched here). Fields at their zero value change nothing; one Gocker's cgroup drivers cannot
/// apply is refused by name, never accepted and ignored.</summary>
public static class ContainerUpdate
{
    /// <param name="Delta">Only the limits that change (what the live cgroup gets written).</param>
    public sealed record Result(ContainerSpec Spec, Gocker.Syscalls.Cgroups.CgroupLimits Delta, bool ChangesLimits);

    public static Result Apply(ContainerSpec spec, ContainerUpdateRequest u, string? hostCpus = null)
    {
        ContainerSpecFactory.RefuseUnsupported("", u.Unsupported);
        if (u.MemoryReservation != 0) throw Unsupported("MemoryReservation", u.MemoryReservation);
        if (!string.IsNullOrEmpty(u.CpusetMems)) throw Unsupported("CpusetMems", u.CpusetMems);
        if (u.BlkioWeight != 0) throw Unsupported("BlkioWeight", u.BlkioWeight);
        var l = spec.Limits;
        var delta = new Gocker.Syscalls.Cgroups.CgroupLimits { CpuPeriodMicros = l.CpuPeriodMicros };
        bool changes = false;
        long nanoCpus = spec.NanoCpus;

        if (u.Memory < 0) throw new BadRequestException($"Invalid Memory {u.Memory}: must be positive");
        if (u.Memory is > 0 and < ContainerSpecFactory.MinMemoryBytes) throw new BadRequestException("Minimum memory limit allowed is 6MB");
        var memory = u.Memory > 0 ? u.Memory : l.MemoryBytes;
        // Gocker gives a container no swap beyond its memory limit (memsw = memory): MemorySwap may
        // only say exactly that.
        if (u.MemorySwap != 0 && u.MemorySwap != memory)
            throw new BadRequestException($"MemorySwap {u.MemorySwap} is not supported by Gocker: containers get no swap (MemorySwap must be 0 or equal Memory)");
        if (u.Memory > 0) { delta = delta with { MemoryBytes = u.Memory }; l = l with { MemoryBytes = u.Memory }; changes = true; }

        if (u.NanoCpus != 0 && (u.CpuQuota != 0 || u.CpuPeriod != 0))
            throw new BadRequestException("Conflicting options: NanoCpus and CpuQuota/CpuPeriod cannot both be set");
        if (u.NanoCpus < 0) throw new BadRequestException($"Invalid NanoCpus {u.NanoCpus}: must be positive");
        if (u.NanoCpus > 0)
        {
            var max = (long)Environment.ProcessorCount * 1_000_000_000;
            if (u.NanoCpus > max || u.NanoCpus < 10_000_000)
                throw new BadRequestException($"Range of CPUs is from 0.01 to {Environment.ProcessorCount}.00, as there are only {Environment.ProcessorCount} CPUs available");
            var quota = u.NanoCpus * l.CpuPeriodMicros / 1_000_000_000;
            delta = delta with { CpuQuotaMicros = quota };
            l = l with { CpuQuotaMicros = quota };
            nanoCpus = u.NanoCpus;
            changes = true;
        }
        if (u.CpuPeriod != 0 || u.CpuQuota != 0)
        {
            if (u.CpuPeriod != 0 && u.CpuPeriod is < 1000 or > 1_000_000) throw new BadRequestException($"Invalid CpuPeriod {u.CpuPeriod}: must be between 1000 and 1000000 microseconds");
            if (u.CpuQuota != 0 && u.CpuQuota is < 1000 and not -1) throw new BadRequestException($"Invalid CpuQuota {u.CpuQuota}: must be at least 1000 microseconds, or -1");
            var period = u.CpuPeriod != 0 ? u.CpuPeriod : l.CpuPeriodMicros;
            var quota = u.CpuQuota != 0 ? u.CpuQuota : l.CpuQuotaMicros ?? -1;
            delta = delta with { CpuQuotaMicros = quota, CpuPeriodMicros = period };
            l = l with { CpuQuotaMicros = quota, CpuPeriodMicros = period };
            nanoCpus = 0; // inspect shows CpuQuota/CpuPeriod's effect, not a --cpus value
            changes = true;
        }
        if (u.CpuShares != 0)
        {
            if (u.CpuShares is < 2 or > 262144) throw new BadRequestException($"Invalid CpuShares {u.CpuShares}: must be between 2 and 262144");
            delta = delta with { CpuShares = u.CpuShares };
            l = l with { CpuShares = u.CpuShares };
            changes = true;
        }
        if (!string.IsNullOrEmpty(u.CpusetCpus))
        {
            // The same checks as create (syntax, CPUs that exist).
            var checkedLimits = ContainerSpecFactory.BuildLimits(new HostConfig { CpusetCpus = u.CpusetCpus },
                new GockerOptionsView(Gocker.Syscalls.Cgroups.CgroupLimits.None) { HostCpus = hostCpus });
            delta = delta with { CpusetCpus = checkedLimits.CpusetCpus };
            l = l with { CpusetCpus = checkedLimits.CpusetCpus };
            changes = true;
        }
        if (u.PidsLimit is { } pids)
        {
            // Docker: 0 or -1 = unlimited.
            var value = pids > 0 ? pids : -1;
            delta = delta with { PidsMax = value };
            l = l with { PidsMax = value };
            changes = true;
        }

        var restart = spec.Restart;
        if (u.RestartPolicy is { } rp && (rp.Name.Length > 0 || rp.MaximumRetryCount != 0) || u.GockerRestartBackoff is not null)
        {
            var policy = u.RestartPolicy is { } p && (p.Name.Length > 0 || p.MaximumRetryCount != 0)
                ? p
                : new RestartPolicy { Name = Gocker.Actors.Restart.RestartSettings.NameOf(spec.Restart.Mode), MaximumRetryCount = spec.Restart.MaximumRetryCount };
            if (spec.AutoRemove && policy.Name is not ("" or "no"))
                throw new BadRequestException("Restart policy cannot be updated because AutoRemove is enabled for the container");
            if (spec.Group is { } g && policy.Name is not ("" or "no"))
                throw new BadRequestException($"conflicting options: restart policy '{policy.Name}' and group {g}: a group member's restarts are decided by its group");
            restart = Gocker.Actors.Restart.RestartSpecFactory.Build(
                new HostConfig { RestartPolicy = policy, GockerRestartBackoff = u.GockerRestartBackoff }, spec.Restart.Backoff);
        }
        return new Result(spec with { Limits = l, NanoCpus = nanoCpus, Restart = restart }, delta, changes);
    }

    static BadRequestException Unsupported(string field, object value) =>
        new($"{field} is not supported by Gocker's cgroup drivers (value {value})");
}
