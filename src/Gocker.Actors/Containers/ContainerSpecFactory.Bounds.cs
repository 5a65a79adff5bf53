using System.Globalization;
using System.Text;
using Gocker.Api;

namespace Gocker.Actors.Containers;

/// <summary>
/// Bounds on every field a container's record (or an exec) keeps (issue #17): the body limit caps
/// a request as a whole, these say which field is too big, with a 400 naming it. Limits follow the
/// kernel where it has one (an argument or variable longer than MAX_ARG_STRLEN, or arguments and
/// environment over ARG_MAX, make the execve fail with E2BIG at start instead of at create), and are
/// generous elsewhere (Docker sets none, but its record has the same fields).
/// </summary>
public static partial class ContainerSpecFactory
{
    /// <summary>One argument or environment entry: the kernel's MAX_ARG_STRLEN (32 pages).</summary>
    public const int MaxArgBytes = 131072;
    /// <summary>Arguments and environment together, counted as the kernel counts them (each string
    /// with its NUL and its pointer): half of ARG_MAX under the default 8 MiB stack, which leaves room
    /// for what the init adds.</summary>
    public const int MaxArgEnvBytes = 1 << 20;
    /// <summary>A path (working dir, bind source or target, device, tmpfs target): PATH_MAX - 1.</summary>
    public const int MaxPathBytes = 4095;
    /// <summary>Entries of one list or map field (binds, capabilities, ulimits, sysctls, ...).</summary>
    public const int MaxItems = 1024;
    /// <summary>Published or exposed ports: every port of both protocols.</summary>
    public const int MaxPorts = 2 * 65536;
    /// <summary>Any other string field (option values, network mode, restart policy, ...).</summary>
    public const int MaxStringBytes = 4096;
    /// <summary>A SecurityOpt entry may carry a whole seccomp profile (docker --security-opt seccomp=FILE sends its content).</summary>
    public const int MaxSecurityOptBytes = 1 << 20;
    /// <summary>An image reference: Docker's 255 for the name, plus a tag (128) or a digest.</summary>
    public const int MaxImageRefBytes = 512;
    /// <summary>Labels: count, key and value sizes, and all of them together.</summary>
    public const int MaxLabels = 1024, MaxLabelKeyBytes = 1024, MaxLabelValueBytes = 65536, MaxLabelsBytes = 1 << 20;

    /// <summary>Bounds of a create request's fields; the first one over its bound is a 400 naming it.</summary>
    public static void CheckBounds(ContainerCreateRequest req)
    {
        Str("Image", req.Image, MaxImageRefBytes);
        Args("Cmd", req.Cmd);
        Args("Entrypoint", req.Entrypoint);
        Args("Env", req.Env);
        ArgEnvTotal([.. req.Entrypoint ?? [], .. req.Cmd ?? []], req.Env ?? []);
        Str("WorkingDir", req.WorkingDir, MaxPathBytes);
        Str("User", req.User, 256);
        Str("Hostname", req.Hostname, 64);
        Count("ExposedPorts", req.ExposedPorts?.Count, MaxPorts);
        foreach (var k in req.ExposedPorts?.Keys ?? (IEnumerable<string>)[]) Str("ExposedPorts", k, 32);
        if (req.HostConfig is not { } hc) return;
        List("HostConfig.Binds", hc.Binds, 2 * MaxPathBytes + 32);
        Str("HostConfig.CpusetCpus", hc.CpusetCpus, MaxStringBytes);
        Str("HostConfig.NetworkMode", hc.NetworkMode, MaxStringBytes);
        Count("HostConfig.PortBindings", hc.PortBindings?.Count, MaxPorts);
        foreach (var (port, list) in hc.PortBindings ?? [])
        {
            Str("HostConfig.PortBindings", port, 32);
            Count($"HostConfig.PortBindings[{port}]", list?.Count, MaxItems);
            NoNulls($"HostConfig.PortBindings[{port}]", list);
            foreach (var b in list ?? [])
            {
                Str($"HostConfig.PortBindings[{port}].HostIp", b.HostIp, 64);
                Str($"HostConfig.PortBindings[{port}].HostPort", b.HostPort, 32);
            }
        }
        Str("HostConfig.RestartPolicy.Name", hc.RestartPolicy?.Name, 64);
        Str("HostConfig.GockerGroup", hc.GockerGroup, 64);
        List("HostConfig.CapAdd", hc.CapAdd, 64);
        List("HostConfig.CapDrop", hc.CapDrop, 64);
        List("HostConfig.SecurityOpt", hc.SecurityOpt, MaxSecurityOptBytes);
        List("HostConfig.GroupAdd", hc.GroupAdd, 256);
        Map("HostConfig.Tmpfs", hc.Tmpfs, MaxPathBytes, MaxStringBytes);
        Map("HostConfig.Sysctls", hc.Sysctls, 256, MaxStringBytes);
        Count("HostConfig.Ulimits", hc.Ulimits?.Count, MaxItems);
        NoNulls("HostConfig.Ulimits", hc.Ulimits);
        foreach (var u in hc.Ulimits ?? []) Str("HostConfig.Ulimits.Name", u.Name, 64);
        Count("HostConfig.Devices", hc.Devices?.Count, MaxItems);
        NoNulls("HostConfig.Devices", hc.Devices);
        foreach (var d in hc.Devices ?? [])
        {
            Str("HostConfig.Devices.PathOnHost", d.PathOnHost, MaxPathBytes);
            Str("HostConfig.Devices.PathInContainer", d.PathInContainer, MaxPathBytes);
            Str("HostConfig.Devices.CgroupPermissions", d.CgroupPermissions, 8);
        }
        Str("HostConfig.UsernsMode", hc.UsernsMode, 64);
        Count("HostConfig.ConsoleSize", hc.ConsoleSize?.Count, 2);
    }

    /// <summary>Bounds of an exec's fields (what the exec instance keeps until it is pruned).</summary>
    public static void CheckBounds(ExecCreateRequest req)
    {
        Args("Cmd", req.Cmd);
        Args("Env", req.Env);
        ArgEnvTotal(req.Cmd ?? [], req.Env ?? []);
        Str("WorkingDir", req.WorkingDir, MaxPathBytes);
        Str("User", req.User, 256);
        Str("DetachKeys", req.DetachKeys, 256);
        Count("ConsoleSize", req.ConsoleSize?.Count, 2);
    }

    /// <summary>Labels (of a container, an image or a network): at most <see cref="MaxLabels"/>, keys
    /// of at most <see cref="MaxLabelKeyBytes"/>, values of at most <see cref="MaxLabelValueBytes"/>,
    /// <see cref="MaxLabelsBytes"/> in all; keys not empty and without NUL.</summary>
    public static void CheckLabels(IReadOnlyDictionary<string, string>? labels, string field = "Labels")
    {
        if (labels is null) return;
        Count(field, labels.Count, MaxLabels);
        long total = 0;
        foreach (var (k, v) in labels)
        {
            if (k.Length == 0 || k.Contains('\0')) throw new BadRequestException($"{field}: invalid label key \"{Shorten(k)}\": it must be non-empty and without NUL");
            Str($"{field} key", k, MaxLabelKeyBytes);
            Str($"{field}[{Shorten(k)}]", v, MaxLabelValueBytes);
            total += Encoding.UTF8.GetByteCount(k) + Encoding.UTF8.GetByteCount(v ?? "");
        }
        if (total > MaxLabelsBytes) throw new BadRequestException($"{field}: {total} bytes of keys and values, at most {MaxLabelsBytes}");
    }

    /// <summary>Arguments and environment as the kernel counts them against ARG_MAX.</summary>
    public static void ArgEnvTotal(IEnumerable<string> args, IEnumerable<string> env)
    {
        long total = 0;
        foreach (var s in args.Concat(env)) total += Encoding.UTF8.GetByteCount(s) + 1 + IntPtr.Size;
        if (total > MaxArgEnvBytes)
            throw new BadRequestException($"command and environment: {total} bytes together, at most {MaxArgEnvBytes} (the kernel refuses an execve over ARG_MAX)");
    }

    /// <summary>JSON null inside a list (`"Binds": [null]`) is no value: refused by position.</summary>
    static void NoNulls<T>(string field, List<T>? values) where T : class
    {
        if (values is null) return;
        for (var i = 0; i < values.Count; i++)
            if (values[i] is null) throw new BadRequestException($"{field}[{i}]: null is not a valid entry");
    }

    static void Args(string field, List<string>? values)
    {
        if (values is null) return;
        NoNulls(field, values);
        for (var i = 0; i < values.Count; i++)
        {
            var n = Encoding.UTF8.GetByteCount(values[i] ?? "");
            if (n > MaxArgBytes)
                throw new BadRequestException($"{field}[{i}]: {n} bytes, at most {MaxArgBytes} (the kernel's limit for one argument or variable, MAX_ARG_STRLEN)");
        }
    }

    static void List(string field, List<string>? values, int maxBytes)
    {
        if (values is null) return;
        Count(field, values.Count, MaxItems);
        NoNulls(field, values);
        for (var i = 0; i < values.Count; i++) Str($"{field}[{i}]", values[i], maxBytes);
    }

    static void Map(string field, Dictionary<string, string>? map, int maxKey, int maxValue)
    {
        if (map is null) return;
        Count(field, map.Count, MaxItems);
        foreach (var (k, v) in map)
        {
            Str($"{field} key", k, maxKey);
            Str($"{field}[{Shorten(k)}]", v, maxValue);
        }
    }

    static void Count(string field, int? count, int max)
    {
        if (count > max) throw new BadRequestException($"{field}: {count} entries, at most {max}");
    }

    static void Str(string field, string? value, int maxBytes)
    {
        // Chars first: a string of more chars than bytes allowed is over without counting its bytes.
        if (value is null || value.Length * 3 <= maxBytes) return;
        var n = value.Length > maxBytes ? value.Length : Encoding.UTF8.GetByteCount(value);
        if (n > maxBytes) throw new BadRequestException($"{field}: {(value.Length > maxBytes ? "more than " + maxBytes : n)} bytes, at most {maxBytes}");
    }

    /// <summary>
    /// Docker's check of CpusetCpus: every CPU requested must be one the host has (a cgroup write
    /// would fail at start otherwise, or on a hybrid host be accepted for CPUs that do not exist).
    /// <paramref name="available"/> is in the kernel's list form ("0-1", "0,2-5"). Pure.
    /// </summary>
    public static void CheckCpusetAvailable(string requested, string available, string field = "cpuset cpus")
    {
        var want = ParseCpuList(requested) ?? throw new BadRequestException($"Invalid value {requested} for {field}");
        var have = ParseCpuList(available) ?? [];
        foreach (var (lo, hi) in want)
            for (var cpu = lo; cpu <= hi; cpu++)
                if (!have.Any(r => cpu >= r.Lo && cpu <= r.Hi))
                    throw new BadRequestException($"Requested CPUs are not available - requested {requested}, available: {available}");
    }

    /// <summary>"0-3,5" as ranges; null when malformed, a range is reversed or a number is over
    /// 65535 (more than any kernel's NR_CPUS: a huge range is refused before it is walked).</summary>
    public static List<(int Lo, int Hi)>? ParseCpuList(string text)
    {
        var list = new List<(int, int)>();
        foreach (var part in text.Trim().Split(','))
        {
            var dash = part.IndexOf('-');
            var (a, b) = dash < 0 ? (part, part) : (part[..dash], part[(dash + 1)..]);
            if (!int.TryParse(a, NumberStyles.None, CultureInfo.InvariantCulture, out var lo) ||
                !int.TryParse(b, NumberStyles.None, CultureInfo.InvariantCulture, out var hi) ||
                hi < lo || hi > 65535)
                return null;
            list.Add((lo, hi));
        }
        return list;
    }

    /// <summary>The host's online CPUs in the kernel's list form.</summary>
    public static string HostCpus()
    {
        try { return File.ReadAllText("/sys/devices/system/cpu/online").Trim(); }
        catch (IOException) { return Environment.ProcessorCount > 1 ? $"0-{Environment.ProcessorCount - 1}" : "0"; }
    }
}
