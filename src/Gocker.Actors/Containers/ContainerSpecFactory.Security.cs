using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Gocker.Api;
using Gocker.Syscalls.Mounts;
using Gocker.Syscalls.Security;
using Gocker.Syscalls.Spawn;

namespace Gocker.Actors.Containers;

/// <summary>
/// The hardening options of a create request (Docker's HostConfig fields), validated into the
/// ContainerSpec. Never accept and ignore: a field Gocker does not implement is refused (400) by
/// <see cref="RefuseUnsupported"/>, and every value here is either applied by the init or refused.
/// </summary>
public static partial class ContainerSpecFactory
{
    const ulong MS_RDONLY = 1, MS_NOSUID = 2, MS_NODEV = 4, MS_NOEXEC = 8, MS_SYNCHRONOUS = 16, MS_MANDLOCK = 64,
        MS_DIRSYNC = 128, MS_NOATIME = 1024, MS_NODIRATIME = 2048, MS_RELATIME = 1 << 21, MS_STRICTATIME = 1 << 24;

    /// <summary>
    /// Properties of the request that Gocker does not know are collected by the JSON reader
    /// (JsonExtensionData). Clients send many of Docker's fields at their zero value ("Dns": [],
    /// "LogConfig": {"Type": "", "Config": {}}, "MemorySwappiness": -1): those ask for nothing and
    /// pass. Any other value asks for something Gocker would not do, and is refused by name.
    /// </summary>
    public static void RefuseUnsupported(ContainerCreateRequest req)
    {
        // Docker.DotNet (Testcontainers) writes the container's name into the body as well as the
        // query; Docker names the container from the query only, and so does Gocker.
        Refuse("", req.Unsupported?.Where(p => p.Key != "Name").ToDictionary());
        if (req.HostConfig is { } hc) Refuse("HostConfig.", hc.Unsupported);
    }

    public static void RefuseUnsupported(string prefix, Dictionary<string, JsonElement>? extra) => Refuse(prefix, extra);

    static void Refuse(string prefix, Dictionary<string, JsonElement>? extra)
    {
        if (extra is null) return;
        foreach (var (name, value) in extra)
        {
            if (IsEmpty(value)) continue;
            // Docker's "unset" for swappiness is -1 (the kernel's default applies).
            if (name == "MemorySwappiness" && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var sw) && sw == -1) continue;
            var path = prefix + name + FirstNonEmpty(value);
            throw new BadRequestException($"{path} is not supported by Gocker (value {Shorten(value)})");
        }
    }

    static bool IsEmpty(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.Null or JsonValueKind.Undefined or JsonValueKind.False => true,
        JsonValueKind.String => v.GetString()!.Length == 0,
        JsonValueKind.Number => v.TryGetDouble(out var d) && d == 0,
        JsonValueKind.Array => v.EnumerateArray().All(IsEmpty),
        JsonValueKind.Object => v.EnumerateObject().All(p => IsEmpty(p.Value)),
        _ => false,
    };

    /// <summary>".EndpointsConfig.mynet.Aliases": where inside an object the first non-empty value is.</summary>
    static string FirstNonEmpty(JsonElement v)
    {
        if (v.ValueKind != JsonValueKind.Object) return "";
        foreach (var p in v.EnumerateObject())
            if (!IsEmpty(p.Value)) return "." + p.Name + FirstNonEmpty(p.Value);
        return "";
    }

    static string Shorten(JsonElement v) => Shorten(v.GetRawText());

    static string Shorten(string text) => text.Length <= 80 ? text : text[..77] + "...";

    /// <summary>
    /// userns-remap (the daemon's): the container gets its own user namespace with the daemon's map,
    /// unless it asked for `--userns host`. As Docker, a remapped container cannot be privileged or
    /// share the host's network namespace (the host's root would be handed out, or its network
    /// configured by a root that is not the host's): those ask for --userns host.
    /// </summary>
    public static ContainerSpec WithUserns(ContainerSpec spec, HostConfig hc, GockerOptionsView options)
    {
        if (options.UsernsRemap is not { } map || hc.UsernsMode == "host") return spec;
        if (spec.Privileged)
            throw new BadRequestException("privileged mode is incompatible with user namespaces (the daemon runs with --userns-remap): add --userns host");
        if (spec.NetworkMode == "host")
            throw new BadRequestException("cannot share the host's network namespace when user namespaces are enabled (the daemon runs with --userns-remap): add --userns host");
        return spec with { Userns = map };
    }

    /// <summary>Validates the hardening fields and sets them on the spec.</summary>
    public static ContainerSpec WithSecurity(ContainerSpec spec, HostConfig hc, Func<string, DeviceNode>? deviceLookup = null)
    {
        if (!string.IsNullOrEmpty(hc.UsernsMode) && hc.UsernsMode != "host")
            throw new BadRequestException($"HostConfig.UsernsMode \"{hc.UsernsMode}\" is not supported (\"host\" opts out of the daemon's --userns-remap)");

        var capAdd = (hc.CapAdd ?? []).Where(c => !string.IsNullOrWhiteSpace(c)).ToArray();
        var capDrop = (hc.CapDrop ?? []).Where(c => !string.IsNullOrWhiteSpace(c)).ToArray();
        ulong caps;
        try { caps = CapabilitySet.Tweak(capAdd, capDrop, hc.Privileged); }
        catch (ArgumentException ex) { throw new BadRequestException(ex.Message); }

        bool noNewPrivs = false, unmasked = hc.Privileged;
        string? seccomp = null;
        foreach (var opt in hc.SecurityOpt ?? [])
        {
            var (key, value) = SplitSecurityOpt(opt);
            switch (key)
            {
                case "no-new-privileges":
                    noNewPrivs = value switch
                    {
                        null or "true" => true,
                        "false" => false,
                        _ => throw new BadRequestException($"invalid --security-opt \"{opt}\": no-new-privileges takes true or false"),
                    };
                    break;
                case "seccomp":
                    if (string.IsNullOrEmpty(value)) throw new BadRequestException($"invalid --security-opt \"{opt}\": seccomp needs a profile or \"unconfined\"");
                    seccomp = value;
                    break;
                case "systempaths" when value == "unconfined":
                    unmasked = true;
                    break;
                // No AppArmor or SELinux confinement exists here: these two ask for exactly what is given.
                case "apparmor" when value == "unconfined":
                case "label" when value == "disable":
                    break;
                default:
                    throw new BadRequestException($"--security-opt \"{Shorten(opt)}\" is not supported (no-new-privileges, seccomp=PROFILE|unconfined, systempaths=unconfined)");
            }
        }
        if (seccomp is not null && seccomp != "unconfined")
        {
            if (!seccomp.TrimStart().StartsWith('{'))
                throw new BadRequestException("--security-opt seccomp: expected \"unconfined\" or a profile's JSON (the client reads the profile file)");
            // Checked now, not at the first start: a bad profile is the request's fault (400).
            try { SeccompCompiler.Compile(SeccompProfile.Parse(seccomp), caps); }
            catch (Exception ex) when (ex is FormatException or ArgumentException or InvalidOperationException or Gocker.Syscalls.SyscallException)
            {
                throw new BadRequestException("--security-opt seccomp: " + ex.Message);
            }
        }

        var hostNetwork = spec.NetworkMode == "host";
        var devices = (hc.Devices ?? []).Select(d => ParseDevice(d, deviceLookup ?? HostDevices.Lookup)).ToArray();
        // The device cgroup: Docker's default list (mknod of anything, but only the standard nodes,
        // ptys and tun readable/writable) plus what --device gave; everything with --privileged.
        IReadOnlyList<Gocker.Syscalls.Cgroups.DeviceRule> rules = hc.Privileged ? Gocker.Syscalls.Cgroups.DeviceRules.AllowAll
            : [.. Gocker.Syscalls.Cgroups.DeviceRules.DockerDefault, .. devices.Select(d => new Gocker.Syscalls.Cgroups.DeviceRule(d.Type, d.Major, d.Minor, d.Access))];
        return spec with
        {
            Limits = spec.Limits with { Devices = rules },
            CapAdd = capAdd.Select(CapabilitySet.Normalize).ToArray(),
            CapDrop = capDrop.Select(CapabilitySet.Normalize).ToArray(),
            Capabilities = caps,
            Privileged = hc.Privileged,
            ReadonlyRootfs = hc.ReadonlyRootfs,
            SecurityOpt = (hc.SecurityOpt ?? []).ToArray(),
            Seccomp = hc.Privileged ? "unconfined" : seccomp,
            NoNewPrivileges = noNewPrivs,
            UnmaskedPaths = unmasked,
            Tmpfs = (hc.Tmpfs ?? []).Select(kv => ParseTmpfs(kv.Key, kv.Value)).ToArray(),
            Ulimits = (hc.Ulimits ?? []).Select(ParseUlimit).ToArray(),
            Devices = devices,
            Sysctls = (hc.Sysctls ?? []).Select(kv => ParseSysctl(kv.Key, kv.Value, hostNetwork)).ToArray(),
            ShmSize = hc.ShmSize >= 0 ? hc.ShmSize : throw new BadRequestException($"invalid --shm-size {hc.ShmSize}: must not be negative"),
            GroupAdd = (hc.GroupAdd ?? []).Select(ValidateGroup).ToArray(),
            OomScoreAdj = hc.OomScoreAdj is >= -1000 and <= 1000 ? hc.OomScoreAdj
                : throw new BadRequestException($"invalid --oom-score-adj {hc.OomScoreAdj}: must be between -1000 and 1000"),
            ConsoleSize = hc.ConsoleSize is [var h, var w] && (h > 0 || w > 0) ? (h is >= 0 and <= 65535 && w is >= 0 and <= 65535 ? [h, w]
                : throw new BadRequestException($"invalid ConsoleSize [{h}, {w}]")) : null,
        };
    }

    static (string Key, string? Value) SplitSecurityOpt(string opt)
    {
        // Docker takes "key=value" and the older "key:value"; no-new-privileges alone means true.
        var eq = opt.IndexOf('=');
        var colon = opt.IndexOf(':');
        var at = eq >= 0 && (colon < 0 || eq < colon) ? eq : colon;
        return at < 0 ? (opt, null) : (opt[..at], opt[(at + 1)..]);
    }

    static string ValidateGroup(string g)
    {
        if (g.Length == 0 || g.Length > 256 || g.Any(c => c is ':' or '\0' or '\n' || char.IsWhiteSpace(c)))
            throw new BadRequestException($"invalid --group-add \"{g}\": expected a group name or a gid");
        return g;
    }

    /// <summary>--tmpfs PATH[:OPTIONS] with Docker's default flags (noexec, nosuid, nodev) and mount(8)'s option names.</summary>
    public static TmpfsMount ParseTmpfs(string path, string? options)
    {
        var dst = NormalizeDestination(path, "--tmpfs");
        ulong flags = MS_NOEXEC | MS_NOSUID | MS_NODEV;
        var data = new List<string>();
        foreach (var raw in (options ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var o = raw.Trim();
            var eq = o.IndexOf('=');
            var (name, value) = eq < 0 ? (o, "") : (o[..eq], o[(eq + 1)..]);
            switch (name)
            {
                case "defaults": break;
                case "ro": flags |= MS_RDONLY; break;
                case "rw": flags &= ~MS_RDONLY; break;
                case "nosuid": flags |= MS_NOSUID; break;
                case "suid": flags &= ~MS_NOSUID; break;
                case "nodev": flags |= MS_NODEV; break;
                case "dev": flags &= ~MS_NODEV; break;
                case "noexec": flags |= MS_NOEXEC; break;
                case "exec": flags &= ~MS_NOEXEC; break;
                case "sync": flags |= MS_SYNCHRONOUS; break;
                case "async": flags &= ~MS_SYNCHRONOUS; break;
                case "dirsync": flags |= MS_DIRSYNC; break;
                case "mand": flags |= MS_MANDLOCK; break;
                case "nomand": flags &= ~MS_MANDLOCK; break;
                case "noatime": flags |= MS_NOATIME; break;
                case "atime": flags &= ~MS_NOATIME; break;
                case "nodiratime": flags |= MS_NODIRATIME; break;
                case "diratime": flags &= ~MS_NODIRATIME; break;
                case "relatime": flags |= MS_RELATIME; break;
                case "norelatime": flags &= ~MS_RELATIME; break;
                case "strictatime": flags |= MS_STRICTATIME; break;
                case "nostrictatime": flags &= ~MS_STRICTATIME; break;
                case "size" when TmpfsSize().IsMatch(value):
                case "nr_inodes" when TmpfsSize().IsMatch(value):
                case "nr_blocks" when TmpfsSize().IsMatch(value):
                case "mode" when Octal().IsMatch(value):
                case "uid" when value.Length is > 0 and <= 10 && value.All(char.IsAsciiDigit):
                case "gid" when value.Length is > 0 and <= 10 && value.All(char.IsAsciiDigit):
                case "huge" when value is "never" or "always" or "within_size" or "advise":
                    data.Add(name + "=" + value);
                    break;
                default:
                    throw new BadRequestException($"invalid --tmpfs \"{path}:{options}\": unknown or invalid option \"{o}\"");
            }
        }
        return new TmpfsMount(dst, flags, string.Join(',', data));
    }

    [GeneratedRegex(@"^\d{1,19}[kKmMgG%]?$")] private static partial Regex TmpfsSize();
    [GeneratedRegex("^[0-7]{1,4}$")] private static partial Regex Octal();

    static readonly Dictionary<string, int> RlimitNumbers = new(StringComparer.Ordinal)
    {
        ["cpu"] = 0, ["fsize"] = 1, ["data"] = 2, ["stack"] = 3, ["core"] = 4, ["rss"] = 5, ["nproc"] = 6, ["nofile"] = 7,
        ["memlock"] = 8, ["as"] = 9, ["locks"] = 10, ["sigpending"] = 11, ["msgqueue"] = 12, ["nice"] = 13, ["rtprio"] = 14, ["rttime"] = 15,
    };

    public static Rlimit ParseUlimit(Ulimit u)
    {
        if (u is null || !RlimitNumbers.TryGetValue(u.Name ?? "", out var resource))
            throw new BadRequestException($"invalid --ulimit \"{u?.Name}\": unknown name (one of {string.Join(", ", RlimitNumbers.Keys)})");
        if (u.Soft < -1 || u.Hard < -1) throw new BadRequestException($"invalid --ulimit {u.Name}={u.Soft}:{u.Hard}: limits are numbers, -1 for unlimited");
        // -1 is RLIM_INFINITY: the largest.
        ulong soft = unchecked((ulong)u.Soft), hard = unchecked((ulong)u.Hard);
        if (soft > hard) throw new BadRequestException($"invalid --ulimit {u.Name}={u.Soft}:{u.Hard}: the soft limit must not exceed the hard limit");
        return new Rlimit(u.Name!, resource, u.Soft, u.Hard);
    }

    /// <summary>--device HOST[:CONTAINER[:rwm]]: a character or block device; permissions default rwm.</summary>
    public static DeviceNode ParseDevice(DeviceMapping d, Func<string, DeviceNode> lookup)
    {
        var host = d.PathOnHost ?? "";
        var shown = $"{host}:{d.PathInContainer}:{d.CgroupPermissions}".TrimEnd(':');
        if (!host.StartsWith('/') || host.Contains('\0')) throw new BadRequestException($"invalid --device \"{shown}\": the host path must be absolute");
        var ctr = NormalizeDestination(string.IsNullOrEmpty(d.PathInContainer) ? host : d.PathInContainer, "--device");
        var access = string.IsNullOrEmpty(d.CgroupPermissions) ? "rwm" : d.CgroupPermissions;
        if (access.Any(c => c is not ('r' or 'w' or 'm')) || access.Distinct().Count() != access.Length)
            throw new BadRequestException($"invalid --device \"{shown}\": permissions \"{access}\" must be a combination of r, w and m");
        DeviceNode node;
        try { node = lookup(host); }
        catch (Exception ex) when (ex is IOException or ArgumentException or UnauthorizedAccessException)
        {
            throw new BadRequestException($"error gathering device information while adding custom device \"{host}\": {ex.Message}");
        }
        return node with { Path = ctr, Access = access };
    }

    static readonly string[] IpcSysctls = ["kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"];

    /// <summary>Only keys of a namespace the container has its own copy of (runc's rules): IPC, UTS's
    /// domain name, and net.* unless the container shares the host's network namespace.</summary>
    public static SysctlSetting ParseSysctl(string key, string value, bool hostNetwork)
    {
        if (!SysctlKey().IsMatch(key) || key.Contains(".."))
            throw new BadRequestException($"invalid --sysctl \"{key}\": expected a dotted key such as net.ipv4.ip_forward");
        if (value is null || value.Length > 4096 || value.Any(c => c is '\0' or '\n'))
            throw new BadRequestException($"invalid --sysctl {key}: the value must be one line");
        bool allowed = IpcSysctls.Contains(key) || key.StartsWith("fs.mqueue.", StringComparison.Ordinal) || key == "kernel.domainname";
        if (key.StartsWith("net.", StringComparison.Ordinal))
        {
            if (hostNetwork) throw new BadRequestException($"sysctl \"{key}\" is not allowed in the host's network namespace (--network host)");
            allowed = true;
        }
        if (key == "kernel.hostname") throw new BadRequestException("sysctl \"kernel.hostname\" is not allowed: use --hostname");
        if (!allowed) throw new BadRequestException($"sysctl \"{key}\" is not in a separate kernel namespace: it would change the host");
        return new SysctlSetting(key, value);
    }

    [GeneratedRegex(@"^[a-z0-9_][a-z0-9_.\-]*$")] private static partial Regex SysctlKey();

    static string NormalizeDestination(string path, string flag)
    {
        if (string.IsNullOrEmpty(path) || path[0] != '/' || path.Contains('\0') || path.Contains(','))
            throw new BadRequestException($"invalid {flag} \"{path}\": the container path must be absolute");
        var norm = "/" + string.Join('/', path.Split('/', StringSplitOptions.RemoveEmptyEntries));
        if (norm == "/") throw new BadRequestException($"invalid {flag} \"{path}\": cannot mount over the container's root");
        if (norm.Split('/').Contains("..")) throw new BadRequestException($"invalid {flag} \"{path}\": must not contain \"..\"");
        RefuseKernelFsTarget(norm, flag);
        return norm;
    }

    // Anything under /proc but runc's allow-list (ContainerMounts.ProcAllowed), and /proc, /sys, /dev
    // themselves, would cover the kernel's views the container relies on (and mounting over /proc is
    // the shape of runc's CVE-2019-19921 / CVE-2023-27561).
    internal static void RefuseKernelFsTarget(string norm, string what)
    {
        if (norm is "/proc" or "/sys" or "/dev" ||
            (norm.StartsWith("/proc/", StringComparison.Ordinal) && !ContainerMounts.ProcAllowed.Contains(norm)))
            throw new BadRequestException($"invalid {what} destination \"{norm}\": cannot be mounted onto /proc, /sys or /dev");
    }

}
