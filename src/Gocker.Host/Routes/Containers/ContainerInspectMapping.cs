using Gocker.Actors.Containers;
using Gocker.Actors.Engine;
using Gocker.Api;

namespace Gocker.Host;

/// <summary>GET /containers/{id}/json's body: a container's record (and, while it runs, its network
/// attachment) in Docker's ContainerInspect shape.</summary>
public static class ContainerInspectMapping
{
    internal static ContainerInspect ToInspect(ContainerRecord r, EngineServices svc)
    {
        var s = r.Spec;
        return new ContainerInspect
        {
            Id = s.Id,
            Name = "/" + s.Name,
            Created = StatusText.Iso(s.Created),
            Path = s.Args[0],
            Args = s.Args.Skip(1).ToList(),
            Image = s.ImageId,
            RestartCount = r.RestartCount,
            State = new ContainerState
            {
                Status = r.Status.DockerName(),
                Running = r.Status is ContainerStatus.Running or ContainerStatus.Paused,
                Paused = r.Status == ContainerStatus.Paused,
                Restarting = r.Status == ContainerStatus.Restarting,
                Dead = r.Status == ContainerStatus.Dead,
                OOMKilled = r.OomKilled,
                Pid = r.Pid,
                ExitCode = r.ExitCode,
                Error = r.Error,
                StartedAt = StatusText.Iso(r.StartedAt),
                FinishedAt = StatusText.Iso(r.FinishedAt),
                GockerNextRestartAt = r.Status == ContainerStatus.Restarting && r.NextRestartAt is { } next ? StatusText.Iso(next) : null,
                GockerManuallyStopped = r.ManuallyStopped,
            },
            Config = new ContainerConfig
            {
                Hostname = s.Hostname, Domainname = s.Names?.Domainname ?? "", Env = s.Env.ToList(), Cmd = s.Args.ToList(), Image = s.Image, WorkingDir = s.WorkingDir, User = s.User,
                Tty = s.Tty, OpenStdin = s.OpenStdin, StdinOnce = s.StdinOnce, Labels = s.Labels,
                StopSignal = s.StopSignal, StopTimeout = s.StopTimeout,
            },
            HostConfig = new HostConfig
            {
                AutoRemove = s.AutoRemove,
                Memory = s.Limits.MemoryBytes ?? 0,
                NanoCpus = s.NanoCpus,
                CpuShares = s.Limits.CpuShares ?? 0,
                CpusetCpus = s.Limits.CpusetCpus,
                PidsLimit = s.Limits.PidsMax,
                NetworkMode = s.NetworkMode ?? "none",
                PortBindings = PortBindings(s.Ports),
                Binds = VolumeRoutes.BindsOf(s),
                RestartPolicy = new RestartPolicy
                {
                    Name = Gocker.Actors.Restart.RestartSettings.NameOf(s.Restart.Mode), MaximumRetryCount = s.Restart.MaximumRetryCount,
                },
                GockerGroup = s.Group,
                Init = s.Init ? true : null,
                CapAdd = s.CapAdd.Length > 0 ? [.. s.CapAdd] : null,
                CapDrop = s.CapDrop.Length > 0 ? [.. s.CapDrop] : null,
                Privileged = s.Privileged,
                ReadonlyRootfs = s.ReadonlyRootfs,
                SecurityOpt = s.SecurityOpt.Length > 0 ? [.. s.SecurityOpt] : null,
                Tmpfs = s.Tmpfs.Length > 0 ? s.Tmpfs.ToDictionary(t => t.Destination, t => t.Data) : null,
                Ulimits = s.Ulimits.Length > 0 ? s.Ulimits.Select(u => new Ulimit { Name = u.Name, Soft = u.Soft, Hard = u.Hard }).ToList() : null,
                Devices = s.Devices.Length > 0 ? s.Devices.Select(d => new DeviceMapping { PathOnHost = d.HostPath, PathInContainer = d.Path, CgroupPermissions = d.Access }).ToList() : null,
                Sysctls = s.Sysctls.Length > 0 ? s.Sysctls.ToDictionary(x => x.Key, x => x.Value) : null,
                ShmSize = s.ShmSize > 0 ? s.ShmSize : 64L << 20,
                GroupAdd = s.GroupAdd.Length > 0 ? [.. s.GroupAdd] : null,
                OomScoreAdj = s.OomScoreAdj,
                CgroupnsMode = s.CgroupnsMode ?? "private",
                LogConfig = LogConfigOf(s.Log ?? svc.Options.Logs),
                ExtraHosts = s.Names?.ExtraHosts is { Count: > 0 } extraHosts ? [.. extraHosts] : null,
                Dns = s.Names?.Dns, DnsSearch = s.Names?.DnsSearch, DnsOptions = s.Names?.DnsOptions,
                GockerRestartBackoff = new RestartBackoff
                {
                    DelayMs = (long)s.Restart.Backoff.Delay.TotalMilliseconds, MaxDelayMs = (long)s.Restart.Backoff.MaxDelay.TotalMilliseconds,
                    Multiplier = s.Restart.Backoff.Multiplier, ResetAfterMs = (long)s.Restart.Backoff.ResetAfter.TotalMilliseconds,
                    Jitter = s.Restart.Backoff.Jitter,
                },
            },
            Mounts = VolumeRoutes.MountPointsOf(s),
            CgroupPath = $"{svc.Options.CgroupParent}/{s.Id}",
            NetworkSettings = NetworkSettingsOf(r, svc),
        };
    }

    static LogConfig LogConfigOf(Gocker.Actors.Logs.LogSettings l) => new() { Type = l.Type, Config = l.Config };

    static Dictionary<string, List<PortBinding>?> PortBindings(IEnumerable<Gocker.Network.PortMapping> ports) =>
        ports.GroupBy(p => $"{p.ContainerPort}/{p.Protocol}").ToDictionary(g => g.Key,
            g => (List<PortBinding>?)g.Select(p => new PortBinding { HostIp = p.HostIp, HostPort = p.HostPort.ToString(System.Globalization.CultureInfo.InvariantCulture) }).ToList());

    static NetworkSettings NetworkSettingsOf(ContainerRecord r, EngineServices svc)
    {
        var ns = new NetworkSettings();
        if (r.Status is not (ContainerStatus.Running or ContainerStatus.Paused) || svc.Network?.Get(r.Spec.Id) is not { } a)
            return ContainerNames.Configured(ns, r.Spec, svc.Network);
        ns.Ports = PortBindings(r.Spec.Ports);
        ns.HostsPath = a.HostsPath;
        foreach (var e in a.Endpoints)
            ns.Networks[e.NetworkName] = new EndpointSettings
            {
                NetworkID = e.NetworkId, IPAddress = e.Ip, IPPrefixLen = e.PrefixLength, Gateway = e.Gateway, MacAddress = e.Mac,
                Aliases = ContainerNames.InspectAliases(e.Aliases, r.Spec.Id, svc.Network!, e.NetworkId),
                DNSNames = ContainerNames.DnsNames(r.Spec, e.Aliases, svc.Network!, e.NetworkId),
            };
        if (a.Primary is { } p)
        {
            ns.IPAddress = p.Ip; ns.IPPrefixLen = p.PrefixLength; ns.Gateway = p.Gateway; ns.MacAddress = p.Mac;
        }
        return ns;
    }
}
