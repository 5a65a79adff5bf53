using System.Globalization;

namespace Gocker.Cli;

/// <summary>A value the user gave that the console refuses before asking the daemon.</summary>
public sealed class UsageException(string message) : Exception(message);

/// <summary>Client-side parsing/validation of run/create flag values (memory, cpus, binds, env).</summary>
public static class RunFlags
{
    /// <summary>Docker's RAMInBytes: "1073741824", "512m", "1.5g", "64MiB" (binary units, case-insensitive).</summary>
    public static long ParseMemory(string value)
    {
        string v = value.Trim();
        int i = 0;
        while (i < v.Length && char.IsAsciiDigit(v[i])) i++;
        if (i > 0 && i < v.Length - 1 && v[i] == '.' && char.IsAsciiDigit(v[i + 1]))
            for (i++; i < v.Length && char.IsAsciiDigit(v[i]); i++) { }
        string number = v[..i];
        string unit = v[i..].TrimStart(' ').ToLowerInvariant();
        long multiplier = unit switch
        {
            "" or "b" => 1,
            "k" or "kb" or "kib" => 1L << 10,
            "m" or "mb" or "mib" => 1L << 20,
            "g" or "gb" or "gib" => 1L << 30,
            "t" or "tb" or "tib" => 1L << 40,
            _ => 0,
        };
        if (number.Length == 0 || multiplier == 0 || v.Length - unit.Length - number.Length > 1)
            throw new UsageException($"invalid memory value {value}: expected a number of bytes with an optional b, k, m or g suffix (e.g. 512m)");
        if (!decimal.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out decimal n) ||
            n * multiplier is var bytes && bytes > long.MaxValue) throw new UsageException($"invalid memory value {value}: too large");
        return (long)bytes;
    }

    /// <summary>--cpus 1.5 -> NanoCpus 1500000000.</summary>
    public static long ParseCpus(string value)
    {
        if (!decimal.TryParse(value.Trim(), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out decimal cpus) ||
            cpus > 1_000_000)
            throw new UsageException($"invalid --cpus value {value}: expected a positive decimal number of CPUs (e.g. 1.5)");
        return (long)Math.Round(cpus * 1_000_000_000m);
    }

    /// <summary>--add-host NAME:IP or NAME=IP (docker's CLI takes both; the API's form is NAME:IP).
    /// The daemon validates the parts.</summary>
    public static string ValidateAddHost(string spec)
    {
        var eq = spec.IndexOf('=');
        var colon = spec.IndexOf(':');
        return eq > 0 && (colon < 0 || eq < colon) ? spec[..eq] + ":" + spec[(eq + 1)..] : spec;
    }

    /// <summary>Validates "HOST:CONTAINER[:ro|rw][,create]"; both paths absolute. Returns the spec unchanged.</summary>
    public static string ValidateBind(string spec)
    {
        string Fail(string why) => throw new UsageException($"invalid volume specification '{spec}': {why}");
        string[] parts = spec.Split(':');
        if (parts.Length is < 2 or > 3) Fail("expected HOST:CONTAINER[:ro|rw] (named volumes are not supported)");
        string host = parts[0], container = parts[1];
        if (host.Length == 0 || !host.StartsWith('/')) Fail($"host path '{host}' must be absolute");
        if (container.Length == 0 || !container.StartsWith('/')) Fail($"container path '{container}' must be absolute");
        if (container.TrimEnd('/').Length == 0) Fail("the container path cannot be '/'");
        // Options: ro|rw, and Gocker's "create" (make a missing host directory), comma-separated.
        if (parts.Length == 3)
            foreach (var opt in parts[2].Split(','))
                if (opt is not ("ro" or "rw" or "create")) Fail($"mode '{opt}' must be ro, rw or create");
        return spec;
    }

    /// <summary>-e K=V passes as is; a bare -e K takes the console's own value of K, or is dropped when
    /// unset (docker passes it on and the daemon ignores it).</summary>
    /// <summary>-p [IP:][HOSTPORT:]CONTAINERPORT[/PROTO] as Docker's PortBindings entry ("80/tcp",
    /// {HostIp, HostPort}); the daemon checks the numbers and picks a port for an empty HOSTPORT.</summary>
    /// <summary>--expose PORT[-PORT][/tcp|udp] as Docker's ExposedPorts keys ("80/tcp").</summary>
    public static Dictionary<string, Gocker.Api.EmptyObject>? ParseExpose(string[] specs)
    {
        Dictionary<string, Gocker.Api.EmptyObject>? result = null;
        foreach (var spec in specs)
        {
            var slash = spec.IndexOf('/');
            var (range, proto) = slash < 0 ? (spec, "tcp") : (spec[..slash], spec[(slash + 1)..]);
            if (proto is not ("tcp" or "udp")) throw new UsageException($"invalid --expose \"{spec}\": protocol must be tcp or udp");
            var dash = range.IndexOf('-');
            var (lo, hi) = dash < 0 ? (range, range) : (range[..dash], range[(dash + 1)..]);
            if (!int.TryParse(lo, out var from) || !int.TryParse(hi, out var to) || from < 1 || to > 65535 || from > to)
                throw new UsageException($"invalid --expose \"{spec}\": expected PORT or PORT-PORT between 1 and 65535");
            if (to - from >= 1024) throw new UsageException($"invalid --expose \"{spec}\": a range spans at most 1024 ports");
            result ??= [];
            for (var p = from; p <= to; p++) result[$"{p}/{proto}"] = new Gocker.Api.EmptyObject();
        }
        return result;
    }

    public static (string Key, Gocker.Api.PortBinding Binding) ParsePublish(string spec)
    {
        var body = spec;
        var proto = "tcp";
        var slash = spec.LastIndexOf('/');
        if (slash >= 0) { proto = spec[(slash + 1)..]; body = spec[..slash]; }
        var parts = body.Split(':');
        var (ip, hostPort, ctr) = parts.Length switch
        {
            1 => ("", "", parts[0]),
            2 => ("", parts[0], parts[1]),
            3 => (parts[0], parts[1], parts[2]),
            _ => throw new UsageException($"invalid publish spec \"{spec}\": expected [IP:][HOSTPORT:]CONTAINERPORT[/tcp|udp]"),
        };
        if (ctr.Length == 0 || !ctr.All(char.IsAsciiDigit))
            throw new UsageException($"invalid publish spec \"{spec}\": container port \"{ctr}\" is not a number");
        if (proto is not ("tcp" or "udp")) throw new UsageException($"invalid publish spec \"{spec}\": protocol must be tcp or udp");
        return ($"{ctr}/{proto}", new Gocker.Api.PortBinding { HostIp = ip, HostPort = hostPort });
    }

    /// <summary>--log-driver and --log-opt KEY=VALUE (each once; the daemon checks the names and
    /// values and refuses what it does not know). Null when neither is given.</summary>
    public static Gocker.Api.LogConfig? ParseLogConfig(string? driver, string[]? opts)
    {
        if (driver is null && opts is not { Length: > 0 }) return null;
        var config = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var o in opts ?? [])
        {
            var eq = o.IndexOf('=');
            if (eq <= 0) throw new UsageException($"invalid --log-opt \"{o}\": expected KEY=VALUE (max-size=10m, max-file=3)");
            config[o[..eq]] = o[(eq + 1)..];
        }
        return new Gocker.Api.LogConfig { Type = driver ?? "", Config = config };
    }

    /// <summary>--restart no | on-failure[:N] | always | unless-stopped (Docker's spelling).</summary>
    public static Gocker.Api.RestartPolicy ParseRestart(string value)
    {
        var colon = value.IndexOf(':');
        var name = colon < 0 ? value : value[..colon];
        if (name is not ("no" or "on-failure" or "always" or "unless-stopped"))
            throw new UsageException($"invalid restart policy \"{value}\": use no, on-failure[:max-retries], always or unless-stopped");
        var max = 0;
        if (colon >= 0)
        {
            if (name != "on-failure")
                throw new UsageException($"invalid restart policy \"{value}\": maximum retry count can only be used with 'on-failure'");
            var n = value[(colon + 1)..];
            if (!int.TryParse(n, NumberStyles.None, CultureInfo.InvariantCulture, out max))
                throw new UsageException($"invalid restart policy \"{value}\": maximum retry count \"{n}\" must be a non-negative number");
        }
        return new Gocker.Api.RestartPolicy { Name = name, MaximumRetryCount = max };
    }

    /// <summary>"0", "250ms", "2s", "1.5s", "1m", "1h" (Go's units that matter here) -> milliseconds.</summary>
    public static long ParseDurationMs(string value, string flag)
    {
        var v = value.Trim();
        var i = 0;
        while (i < v.Length && (char.IsAsciiDigit(v[i]) || v[i] == '.')) i++;
        var (number, unit) = (v[..i], v[i..]);
        double scale = unit switch { "ms" => 1, "s" => 1000, "m" => 60_000, "h" => 3_600_000, "" when number == "0" => 0, _ => -1 };
        if (number.Length == 0 || scale < 0 ||
            !double.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var n) || n * scale > 86_400_000)
            throw new UsageException($"invalid {flag} value \"{value}\": expected a duration such as 100ms, 2s or 1m (at most 24h)");
        return (long)Math.Round(n * scale);
    }

    public static double ParseFraction(string value, string flag, double min, double max)
    {
        if (!double.TryParse(value.Trim(), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var n) || n < min || n > max)
            throw new UsageException($"invalid {flag} value \"{value}\": expected a number from {min} to {max}");
        return n;
    }

    public static List<string> ResolveEnv(IEnumerable<string> values, Func<string, string?> lookup)
    {
        var result = new List<string>();
        foreach (var v in values)
        {
            int eq = v.IndexOf('=');
            if (eq == 0 || v.Length == 0) throw new UsageException($"invalid environment variable: {v}");
            if (eq > 0) result.Add(v);
            else if (lookup(v) is { } fromConsole) result.Add(v + "=" + fromConsole);
        }
        return result;
    }

    /// <summary>--label-file FILE (lines of KEY=VALUE or KEY, blank lines and # comments skipped),
    /// then --label KEY=VALUE|KEY over them, as Docker's CLI: KEY alone is the label with an empty value.</summary>
    public static Dictionary<string, string>? ParseLabels(IEnumerable<string> labels, IEnumerable<string> files, Func<string, IEnumerable<string>> readLines)
    {
        Dictionary<string, string>? result = null;
        void Add(string kv, string where)
        {
            var eq = kv.IndexOf('=');
            var key = eq < 0 ? kv : kv[..eq];
            if (key.Trim().Length == 0) throw new UsageException($"invalid label '{kv}'{where}: the key is empty");
            (result ??= new(StringComparer.Ordinal))[key] = eq < 0 ? "" : kv[(eq + 1)..];
        }
        foreach (var file in files)
        {
            IEnumerable<string> lines;
            try { lines = readLines(file).ToList(); }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            { throw new UsageException($"--label-file {file}: {ex.Message}"); }
            int n = 0;
            foreach (var raw in lines)
            {
                n++;
                var line = raw.TrimStart();
                if (line.Length == 0 || line.StartsWith('#')) continue;
                Add(line.TrimEnd('\r'), $" ({file}, line {n})");
            }
        }
        foreach (var l in labels) Add(l, "");
        return result;
    }

    /// <summary>--security-opt seccomp=FILE: the profile's content is sent (Docker's CLI does the same:
    /// the daemon never reads a client's path). Other values pass as they are.</summary>
    public static string ResolveSecurityOpt(string opt, Func<string, string> readFile)
    {
        foreach (var prefix in new[] { "seccomp=", "seccomp:" })
            if (opt.StartsWith(prefix, StringComparison.Ordinal) && opt[prefix.Length..] is var v && v != "unconfined" && !v.TrimStart().StartsWith('{'))
            {
                try { return "seccomp=" + readFile(v); }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                { throw new UsageException($"opening seccomp profile ({v}) failed: {ex.Message}"); }
            }
        return opt;
    }

    /// <summary>--tmpfs PATH[:OPTIONS] -> (PATH, OPTIONS).</summary>
    public static (string Path, string Options) ParseTmpfs(string spec)
    {
        var colon = spec.IndexOf(':');
        var (path, opts) = colon < 0 ? (spec, "") : (spec[..colon], spec[(colon + 1)..]);
        if (!path.StartsWith('/')) throw new UsageException($"invalid --tmpfs \"{spec}\": the path must be absolute");
        return (path, opts);
    }

    /// <summary>--device HOST[:CONTAINER[:PERMISSIONS]] (Docker's parsing: a last part made of r, w, m is the permissions).</summary>
    public static Gocker.Api.DeviceMapping ParseDevice(string spec)
    {
        var parts = spec.Split(':');
        string host = parts[0], ctr = "", perms = "rwm";
        switch (parts.Length)
        {
            case 1: break;
            case 2 when parts[1].Length > 0 && parts[1].All(c => c is 'r' or 'w' or 'm'): perms = parts[1]; break;
            case 2: ctr = parts[1]; break;
            case 3: ctr = parts[1]; perms = parts[2]; break;
            default: throw new UsageException($"invalid --device \"{spec}\": expected HOST[:CONTAINER[:rwm]]");
        }
        if (!host.StartsWith('/')) throw new UsageException($"invalid --device \"{spec}\": the host path must be absolute");
        return new Gocker.Api.DeviceMapping { PathOnHost = host, PathInContainer = ctr.Length > 0 ? ctr : host, CgroupPermissions = perms };
    }

    /// <summary>--ulimit NAME=SOFT[:HARD] (HARD defaults to SOFT; -1 = unlimited).</summary>
    public static Gocker.Api.Ulimit ParseUlimit(string spec)
    {
        var eq = spec.IndexOf('=');
        if (eq <= 0) throw new UsageException($"invalid --ulimit \"{spec}\": expected NAME=SOFT[:HARD]");
        var values = spec[(eq + 1)..].Split(':');
        if (values.Length > 2 || !long.TryParse(values[0], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var soft))
            throw new UsageException($"invalid --ulimit \"{spec}\": expected NAME=SOFT[:HARD] with numbers");
        long hard = soft;
        if (values.Length == 2 && !long.TryParse(values[1], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out hard))
            throw new UsageException($"invalid --ulimit \"{spec}\": the hard limit must be a number");
        return new Gocker.Api.Ulimit { Name = spec[..eq], Soft = soft, Hard = hard };
    }

    /// <summary>"repo[:tag]" with a registry port kept in the repo ("host:5000/x:1" -> host:5000/x, 1).</summary>
    public static (string Repo, string Tag) SplitReference(string reference)
    {
        int colon = reference.LastIndexOf(':');
        if (colon > reference.LastIndexOf('/') && colon > 0)
        {
            string tag = reference[(colon + 1)..];
            if (tag.Length == 0) throw new UsageException($"invalid reference '{reference}': empty tag");
            return (reference[..colon], tag);
        }
        if (reference.Length == 0) throw new UsageException("invalid reference: empty name");
        return (reference, "latest");
    }
}
