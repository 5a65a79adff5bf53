using System.Text.RegularExpressions;
using Gocker.Api;
using Gocker.Images;
using Gocker.Syscalls.Cgroups;
using Gocker.Syscalls.Spawn;

namespace Gocker.Actors.Containers;

/// <summary>Turns an API create request into a validated ContainerSpec. Every rejection names
/// the offending value; nothing is created on disk here.</summary>
public static partial class ContainerSpecFactory
{
    public const long MinMemoryBytes = 6 * 1024 * 1024; // Docker's minimum, below it the container can't even start

    public static ContainerSpec Build(string id, string name, ContainerCreateRequest req, ImageRecord image,
        GockerOptionsView options, DateTimeOffset now, Func<string, DeviceNode>? deviceLookup = null)
    {
        CheckBounds(req);
        RefuseUnsupported(req);
        var hc = req.HostConfig ?? new HostConfig();
        var args = new List<string>();
        if (req.Entrypoint is { Count: > 0 }) args.AddRange(req.Entrypoint);
        else if (image.Entrypoint is { Length: > 0 }) args.AddRange(image.Entrypoint); // docker: a new entrypoint drops the image's Cmd too
        if (req.Cmd is { Count: > 0 }) args.AddRange(req.Cmd);
        else if (req.Entrypoint is not { Count: > 0 }) args.AddRange(image.Cmd);
        if (args.Count == 0 || string.IsNullOrEmpty(args[0]))
            throw new BadRequestException("No command specified");
        foreach (var a in args)
            if (a.Contains('\0')) throw new BadRequestException("Command arguments must not contain NUL bytes");

        var env = MergeEnv(image.Env, req.Env);
        ArgEnvTotal(args, env); // with the image's part: what the init's execve will get
        var workDir = string.IsNullOrEmpty(req.WorkingDir) ? image.WorkingDir : req.WorkingDir;
        if (!workDir.StartsWith('/')) throw new BadRequestException($"Invalid working directory \"{workDir}\": it must be an absolute path");
        if (workDir.Contains('\0')) throw new BadRequestException("Invalid working directory: NUL byte");

        var user = string.IsNullOrEmpty(req.User) ? image.User ?? "" : req.User;
        ValidateUser(user);

        var mode = string.IsNullOrEmpty(hc.NetworkMode) || hc.NetworkMode == "default"
            ? DefaultModeNetwork(req.NetworkingConfig) ?? options.DefaultNetwork : hc.NetworkMode;
        if (mode.StartsWith("container:", StringComparison.Ordinal))
            throw new BadRequestException($"Network mode \"{mode}\" is not supported");
        // Docker: a host-network container is named like the host unless told otherwise.
        var hostname = !string.IsNullOrEmpty(req.Hostname) ? req.Hostname : mode == "host" ? HostHostname() : id[..12];
        if (hostname.Length > 64 || !HostnameRegex().IsMatch(hostname))
            throw new BadRequestException($"Invalid hostname \"{hostname}\": use letters, digits, '-' and '.' (max 64)");

        var mounts = BuildMounts(req, image).ToArray();
        var bindings = WithExposedPorts(hc.PortBindings, hc.PublishAllPorts ? [.. image.ExposedPorts, .. (IEnumerable<string>?)req.ExposedPorts?.Keys ?? []] : []);
        // Docker discards published ports in host mode (the container's ports are the host's).
        var ports = mode == "host" ? [] : ParsePortBindings(bindings);
        if (ports.Length > 0 && mode == "none")
            throw new BadRequestException("conflicting options: port publishing and the container type network mode \"none\"");

        var restart = Gocker.Actors.Restart.RestartSpecFactory.Build(hc, options.DefaultBackoff ?? Gocker.Actors.Restart.BackoffSettings.Docker);
        var group = string.IsNullOrEmpty(hc.GockerGroup) ? null : hc.GockerGroup;
        if (group is not null)
        {
            // The group decides restarts: a policy of its own would race the group's decision.
            if (!restart.IsNone)
                throw new BadRequestException($"conflicting options: --restart {Gocker.Actors.Restart.RestartSettings.NameOf(restart.Mode)} and --group {group}: a group member's restarts are decided by its group (use --restart no)");
            if (hc.AutoRemove) throw new BadRequestException($"conflicting options: --rm and --group {group}");
        }

        var spec = new ContainerSpec
        {
            Id = id,
            Name = name,
            Image = req.Image!,
            ImageId = image.Id,
            ImageLayers = image.Layers,
            Args = args.ToArray(),
            Env = env,
            WorkingDir = workDir,
            User = user,
            Hostname = hostname,
            Mounts = mounts,
            Volumes = BindList(mounts),
            Limits = BuildLimits(hc, options),
            AutoRemove = hc.AutoRemove,
            NetworkMode = mode,
            Ports = ports,
            Created = now,
            NanoCpus = hc.NanoCpus,
            Tty = req.Tty,
            OpenStdin = req.OpenStdin,
            StdinOnce = req.OpenStdin && req.StdinOnce,
            Restart = restart,
            Group = group,
            Log = Gocker.Actors.Logs.LogSettings.FromApi(hc.LogConfig?.Type, hc.LogConfig?.Config, options.DefaultLog ?? Gocker.Actors.Logs.LogSettings.Default),
            Labels = Labels(req.Labels),
        };
        spec = WithNames(WithSecurity(spec, hc, deviceLookup), req, hc, options);
        spec = spec with { Tmpfs = [.. spec.Tmpfs, .. TmpfsList(mounts)] };
        return WithCgroupns(WithProcessOptions(WithUserns(spec, hc, options), req, image), hc);
    }

    /// <summary>Config.Labels as given (Docker checks nothing more than a non-empty key), bounded as every
    /// stored field is (CheckLabels).</summary>
    public static Dictionary<string, string> Labels(Dictionary<string, string>? labels)
    {
        CheckLabels(labels);
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (k, v) in labels ?? [])
        {
            if (string.IsNullOrEmpty(k)) throw new BadRequestException("invalid label: the key is empty");
            result[k] = v ?? "";
        }
        return result;
    }

    static string HostHostname()
    {
        try { return File.ReadAllText("/proc/sys/kernel/hostname").Trim(); }
        catch (IOException) { return Environment.MachineName; }
    }

    /// <summary>-P: every exposed port ("80", "80/tcp", "53/udp") that has no binding yet gets one on
    /// an ephemeral host port (explicit -p bindings of the same port win, as in Docker).</summary>
    public static Dictionary<string, List<PortBinding>?>? WithExposedPorts(Dictionary<string, List<PortBinding>?>? bindings, IEnumerable<string> exposed)
    {
        Dictionary<string, List<PortBinding>?>? result = bindings is null ? null : new(bindings);
        foreach (var port in exposed)
        {
            var key = port.Contains('/') ? port : port + "/tcp";
            if (result is not null && (result.ContainsKey(key) || (key.EndsWith("/tcp", StringComparison.Ordinal) && result.ContainsKey(key[..^4])))) continue;
            result ??= [];
            result[key] = [new PortBinding()];
        }
        return result;
    }

    /// <summary>Docker's PortBindings ("80/tcp" -> [{HostIp, HostPort}]) as port mappings; a missing
    /// host port is chosen now, so that it stays the same across restarts.</summary>
    public static Gocker.Network.PortMapping[] ParsePortBindings(Dictionary<string, List<PortBinding>?>? bindings)
    {
        var result = new List<Gocker.Network.PortMapping>();
        foreach (var (key, list) in bindings ?? [])
        {
            var slash = key.IndexOf('/');
            var (ctr, proto) = slash < 0 ? (key, "tcp") : (key[..slash], key[(slash + 1)..]);
            foreach (var b in list is { Count: > 0 } ? list : [new PortBinding()])
            {
                var spec = (b.HostIp ?? "").Length > 0 ? $"{b.HostIp}:{b.HostPort}:{ctr}/{proto}"
                    : (b.HostPort ?? "").Length > 0 ? $"{b.HostPort}:{ctr}/{proto}" : $"{ctr}/{proto}";
                try { result.Add(Gocker.Network.PortMapping.Parse(spec)); }
                catch (ArgumentException ex) { throw new BadRequestException(ex.Message); }
            }
        }
        var dup = result.GroupBy(p => (p.HostPort, p.Protocol)).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null) throw new BadRequestException($"host port {dup.Key.HostPort}/{dup.Key.Protocol} is published twice");
        return result.ToArray();
    }

    /// <summary>USER's shape only (name, uid, uid:gid, name:group); whether the names exist is up to
    /// the container's /etc/passwd, which the init reads at start.</summary>
    public static void ValidateUser(string user)
    {
        if (user.Length == 0) return;
        if (user.Length > 256 || user.Any(c => c is '\0' or '\n' or '/' || char.IsWhiteSpace(c)) || user.Count(c => c == ':') > 1 ||
            user.StartsWith(':') || user.EndsWith(':'))
            throw new BadRequestException($"invalid user \"{user}\": expected NAME, UID, NAME:GROUP or UID:GID");
    }

    [GeneratedRegex("^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$")]
    private static partial Regex HostnameRegex();

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_.-]*$")]
    private static partial Regex EnvKeyRegex();

    /// <summary>Image defaults, then the user's -e values (later wins). Never the host's environment.</summary>
    public static string[] MergeEnv(IEnumerable<string> imageEnv, IEnumerable<string>? userEnv)
    {
        var order = new List<string>();
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var kv in imageEnv.Concat(userEnv ?? []))
        {
            var eq = kv.IndexOf('=');
            if (eq <= 0) throw new BadRequestException($"Invalid environment variable \"{kv}\": expected KEY=VALUE");
            var key = kv[..eq];
            if (kv.Contains('\0')) throw new BadRequestException($"Invalid environment variable \"{key}\": NUL byte");
            if (!values.ContainsKey(key)) order.Add(key);
            values[key] = kv;
        }
        return order.Select(k => values[k]).ToArray();
    }

    /// <summary>HOST:CONTAINER[:OPTIONS] with OPTIONS a comma list of ro, rw and create (Gocker:
    /// create a missing host directory; without it a missing host path is an error).</summary>
    public static VolumeMount ParseBind(string bind)
    {
        var parts = bind.Split(':');
        if (parts.Length is < 2 or > 3)
            throw new BadRequestException($"Invalid volume \"{bind}\": expected HOST:CONTAINER[:ro|rw]");
        var (src, dst) = (parts[0], parts[1]);
        bool ro = false, create = false;
        if (parts.Length == 3)
            foreach (var opt in parts[2].Split(','))
                switch (opt)
                {
                    case "ro": ro = true; break;
                    case "rw": ro = false; break;
                    case "create": create = true; break;
                    default: throw new BadRequestException($"Invalid volume \"{bind}\": unknown option \"{opt}\" (ro, rw, create)");
                }
        if (!src.StartsWith('/')) throw new BadRequestException($"Invalid volume \"{bind}\": host path \"{src}\" must be absolute (named volumes are not supported)");
        if (!dst.StartsWith('/')) throw new BadRequestException($"Invalid volume \"{bind}\": container path \"{dst}\" must be absolute");
        if (src.Contains('\0') || dst.Contains('\0') || src.Contains(',') || dst.Contains(','))
            throw new BadRequestException($"Invalid volume \"{bind}\": paths must not contain NUL or ','");
        var normDst = "/" + string.Join('/', dst.Split('/', StringSplitOptions.RemoveEmptyEntries));
        if (normDst == "/") throw new BadRequestException($"Invalid volume \"{bind}\": cannot mount over the container's root");
        if (normDst.Split('/').Contains("..")) throw new BadRequestException($"Invalid volume \"{bind}\": container path must not contain \"..\"");
        RefuseKernelFsTarget(normDst, "volume");
        if (!Directory.Exists(src) && !File.Exists(src))
        {
            if (!create) throw new BadRequestException($"Invalid volume \"{bind}\": host path {src} does not exist (add the \"create\" option to create it)");
            Directory.CreateDirectory(src);
        }
        return new VolumeMount(Path.GetFullPath(src), normDst, ro);
    }

    public static CgroupLimits BuildLimits(HostConfig hc, GockerOptionsView options)
    {
        var d = options.DefaultLimits;
        if (hc.Memory < 0) throw new BadRequestException($"Invalid memory limit {hc.Memory}: must be positive");
        if (hc.Memory is > 0 and < MinMemoryBytes) throw new BadRequestException("Minimum memory limit allowed is 6MB");
        long? quota = d.CpuQuotaMicros;
        if (hc.NanoCpus < 0) throw new BadRequestException($"Invalid --cpus value: {hc.NanoCpus / 1e9}");
        if (hc.NanoCpus > 0)
        {
            var max = (long)Environment.ProcessorCount * 1_000_000_000;
            if (hc.NanoCpus > max || hc.NanoCpus < 10_000_000)
                throw new BadRequestException($"Range of CPUs is from 0.01 to {Environment.ProcessorCount}.00, as there are only {Environment.ProcessorCount} CPUs available");
            quota = hc.NanoCpus * d.CpuPeriodMicros / 1_000_000_000;
        }
        if (hc.CpuShares != 0 && (hc.CpuShares < 2 || hc.CpuShares > 262144))
            throw new BadRequestException($"Invalid --cpu-shares {hc.CpuShares}: must be between 2 and 262144");
        var cpuset = string.IsNullOrEmpty(hc.CpusetCpus) ? d.CpusetCpus : hc.CpusetCpus;
        if (cpuset is not null && !CpusetRegex().IsMatch(cpuset))
            throw new BadRequestException($"Invalid value {cpuset} for cpuset cpus");
        if (cpuset is not null) CheckCpusetAvailable(cpuset, options.HostCpus ?? HostCpus());
        return new CgroupLimits
        {
            MemoryBytes = hc.Memory > 0 ? hc.Memory : d.MemoryBytes,
            CpuQuotaMicros = quota,
            CpuPeriodMicros = d.CpuPeriodMicros,
            CpuShares = hc.CpuShares > 0 ? hc.CpuShares : d.CpuShares,
            CpusetCpus = cpuset,
            PidsMax = hc.PidsLimit is > 0 ? hc.PidsLimit : d.PidsMax,
        };
    }

    [GeneratedRegex(@"^\d+(-\d+)?(,\d+(-\d+)?)*$")]
    private static partial Regex CpusetRegex();
}

/// <summary>The part of the options the factory needs (keeps it testable without a daemon).</summary>
public sealed record GockerOptionsView(CgroupLimits DefaultLimits, string DefaultNetwork = "none",
    Gocker.Actors.Restart.BackoffSettings? DefaultBackoff = null, Gocker.Syscalls.Security.IdMap? UsernsRemap = null)
{
    /// <summary>The CPUs a cpuset may name ("0-1"); null = the host's online CPUs.</summary>
    public string? HostCpus { get; init; }
    /// <summary>The log of containers that ask for no LogConfig options (gocker.logs); null = LogSettings.Default.</summary>
    public Gocker.Actors.Logs.LogSettings? DefaultLog { get; init; }
}
