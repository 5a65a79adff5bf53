using System.Globalization;
using System.Runtime.InteropServices;
using Gocker.Actors.Containers;
using Gocker.Actors.Engine;
using Gocker.Api;
using static Gocker.Host.EngineAsk;
using static Gocker.Host.ErrorMapping;

namespace Gocker.Host;

/// <summary>
/// GET /info and GET /system/df in the Docker Engine API's shapes: `docker info`, `docker system
/// df`, docker-compose (its first call), docker-py's info(), Docker.DotNet's GetSystemInfoAsync and
/// Testcontainers read them. Every value is measured: container counts from the engine's listing,
/// images from the store, CPU and memory from the host, sizes from the disk.
/// </summary>
public static class SystemRoutes
{
    public static void Map(WebApplication app)
    {
        app.MapGet("/info", Info);
        app.MapGet("/system/df", DiskUsage);
    }

    /// <summary>The containers, as `ps -a` reads them (ContainerRoutes.List says why without a message).</summary>
    static async Task<IReadOnlyList<ContainerRecord>> AllContainers(HttpContext ctx, EngineServices svc) =>
        svc.Listing.Ready ? svc.Listing.Snapshot(all: true)
            : (await Ask<ContainerSupervisor.Listing>(ctx, new ContainerSupervisor.List(true))).Containers;

    static Task<IResult> Info(HttpContext ctx, EngineServices svc) => Guard(async () =>
    {
        var containers = await AllContainers(ctx, svc);
        var images = await Task.Run(() => svc.Images.List());
        int running = containers.Count(r => r.Status == ContainerStatus.Running);
        int paused = containers.Count(r => r.Status == ContainerStatus.Paused);
        var os = OsRelease();
        var info = new SystemInfo
        {
            ID = EngineId(svc.Options.DataRoot),
            Containers = containers.Count,
            ContainersRunning = running,
            ContainersPaused = paused,
            ContainersStopped = containers.Count - running - paused,
            Images = images.Select(i => i.Id).Distinct(StringComparer.Ordinal).Count(),
            DriverStatus = [["Backing Filesystem", BackingFilesystem(svc.Options.DataRoot)], ["Supports d_type", "true"]],
            Plugins = new InfoPlugins
            {
                Volume = [],
                // Docker's names for Gocker's network modes: a bridge network, the host's, none.
                Network = ["bridge", "host", "null"],
                Log = [LoggingDriver],
            },
            // The resource options create accepts and writes to the container's cgroup.
            MemoryLimit = true, CpuCfsPeriod = true, CpuCfsQuota = true, CPUShares = true, CPUSet = true, PidsLimit = true,
            IPv4Forwarding = ReadTrimmed("/proc/sys/net/ipv4/ip_forward") == "1",
            BridgeNfIptables = ReadTrimmed("/proc/sys/net/bridge/bridge-nf-call-iptables") == "1",
            NFd = CountEntries("/proc/self/fd"),
            SystemTime = DateTimeOffset.Now.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffffzzz", CultureInfo.InvariantCulture),
            LoggingDriver = LoggingDriver,
            CgroupVersion = svc.Cgroups.Mode == Gocker.Syscalls.Cgroups.CgroupMode.V2 ? "2" : "1",
            KernelVersion = ReadTrimmed("/proc/sys/kernel/osrelease") ?? Environment.OSVersion.Version.ToString(),
            OperatingSystem = os.GetValueOrDefault("PRETTY_NAME") ?? "Linux",
            OSVersion = os.GetValueOrDefault("VERSION_ID") ?? "",
            Architecture = Machine(),
            NCPU = Environment.ProcessorCount,
            MemTotal = MemTotal(),
            DockerRootDir = svc.Options.DataRoot,
            HttpProxy = NonEmpty(Environment.GetEnvironmentVariable("HTTP_PROXY") ?? Environment.GetEnvironmentVariable("http_proxy")),
            HttpsProxy = NonEmpty(Environment.GetEnvironmentVariable("HTTPS_PROXY") ?? Environment.GetEnvironmentVariable("https_proxy")),
            NoProxy = NonEmpty(Environment.GetEnvironmentVariable("NO_PROXY") ?? Environment.GetEnvironmentVariable("no_proxy")),
            Name = ReadTrimmed("/proc/sys/kernel/hostname") ?? Environment.MachineName,
            ServerVersion = ServerVersion,
            Runtimes = new() { [Runtime] = new InfoRuntime { Path = svc.SealedInit?.HostPath ?? svc.InitPath } },
            DefaultRuntime = Runtime,
            // Containers outlive a daemon restart and are taken back (ARCHITECTURE: the terminal keeper).
            LiveRestoreEnabled = true,
            SecurityOptions = ["name=seccomp,profile=builtin"],
        };
        return Results.Json(info, SystemJson.Default.SystemInfo);
    });

    const string Runtime = "gocker-init";

    /// <summary>What Gocker's logging is, in Docker's names: each container's output kept in files
    /// under its data dir and read back through the API (`logs`), as json-file's is; clients such as
    /// docker-compose only read logs through the API from drivers they know to keep them.</summary>
    const string LoggingDriver = "json-file";

    internal static string ServerVersion => typeof(ApiRoutes).Assembly.GetName().Version?.ToString(3) ?? "0.1.0";

    static string? NonEmpty(string? s) => string.IsNullOrEmpty(s) ? null : s;

    static readonly object IdLock = new();
    static string? _engineId;

    /// <summary>Made once per data root and kept (DataRoot/engine-id), so clients see the same daemon
    /// across restarts, as Docker's engine ID.</summary>
    static string EngineId(string dataRoot)
    {
        lock (IdLock)
        {
            if (_engineId is not null) return _engineId;
            var path = Path.Combine(dataRoot, "engine-id");
            if (ReadTrimmed(path) is { Length: > 0 } kept && Guid.TryParse(kept, out _)) return _engineId = kept;
            var id = Guid.NewGuid().ToString();
            var tmp = path + ".tmp";
            File.WriteAllText(tmp, id + "\n");
            File.Move(tmp, path, overwrite: true);
            return _engineId = id;
        }
    }

    static string? ReadTrimmed(string path)
    {
        try { return File.ReadAllText(path).Trim(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    static int CountEntries(string dir)
    {
        try { return Directory.EnumerateFileSystemEntries(dir).Count(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return 0; }
    }

    static Dictionary<string, string> OsRelease()
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var file in new[] { "/etc/os-release", "/usr/lib/os-release" })
        {
            if (!File.Exists(file)) continue;
            foreach (var line in File.ReadLines(file))
            {
                var eq = line.IndexOf('=');
                if (eq <= 0) continue;
                result[line[..eq]] = line[(eq + 1)..].Trim().Trim('"');
            }
            break;
        }
        return result;
    }

    /// <summary>uname -m, as Docker reports it.</summary>
    static string Machine() => RuntimeInformation.OSArchitecture switch
    {
        Architecture.X64 => "x86_64",
        Architecture.Arm64 => "aarch64",
        Architecture.X86 => "i686",
        Architecture.Arm => "armv7l",
        var other => other.ToString().ToLowerInvariant(),
    };

    internal static long MemTotal()
    {
        foreach (var line in File.ReadLines("/proc/meminfo"))
            if (line.StartsWith("MemTotal:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        return 0;
    }

    /// <summary>The filesystem type of the mount holding the data root (the longest mount point that
    /// is a prefix of it), in Docker's words ("extfs" for ext2/3/4).</summary>
    static string BackingFilesystem(string dataRoot)
    {
        string best = "", type = "unknown";
        var full = Path.GetFullPath(dataRoot).TrimEnd('/') + "/";
        foreach (var line in File.ReadLines("/proc/self/mountinfo"))
        {
            var halves = line.Split(" - ", 2);
            if (halves.Length != 2) continue;
            var fields = halves[0].Split(' ');
            if (fields.Length < 5) continue;
            var mountPoint = Unescape(fields[4]);
            var prefix = mountPoint.TrimEnd('/') + "/";
            if (full.StartsWith(prefix, StringComparison.Ordinal) && prefix.Length >= best.Length)
                (best, type) = (prefix, halves[1].Split(' ')[0]);
        }
        return type is "ext2" or "ext3" or "ext4" ? "extfs" : type;
    }

    /// <summary>mountinfo escapes space, tab, newline and backslash as \ooo.</summary>
    static string Unescape(string s)
    {
        if (!s.Contains('\\')) return s;
        var sb = new System.Text.StringBuilder();
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == '\\' && i + 3 < s.Length && s.AsSpan(i + 1, 3).ToString() is var oct && oct.All(c => c is >= '0' and <= '7'))
            {
                sb.Append((char)Convert.ToInt32(oct, 8));
                i += 3;
            }
            else sb.Append(s[i]);
        }
        return sb.ToString();
    }

    // ---- /system/df ------------------------------------------------------------------------------

    static Task<IResult> DiskUsage(HttpContext ctx, EngineServices svc) => Guard(async () =>
    {
        var containers = await AllContainers(ctx, svc);
        var now = svc.Clock.GetUtcNow();
        var usage = await Task.Run(() =>
        {
            var images = svc.Images.List().GroupBy(i => i.Id, StringComparer.Ordinal).ToList();
            var layerSizes = new Dictionary<string, long>(StringComparer.Ordinal);
            long LayerSize(string id)
            {
                if (!layerSizes.TryGetValue(id, out var size)) layerSizes[id] = size = svc.Images.LayerSize(id);
                return size;
            }
            // How many images use each layer: a layer of two or more is shared.
            var users = images.SelectMany(g => g.First().LayerIds.Distinct()).GroupBy(l => l).ToDictionary(g => g.Key, g => g.Count());
            var perImage = containers.GroupBy(r => r.Spec.ImageId).ToDictionary(g => g.Key, g => g.Count());
            var result = new DiskUsage
            {
                LayersSize = users.Keys.Sum(l => Math.Max(0, LayerSize(l))),
                Images = images.Select(g =>
                {
                    var i = g.First();
                    var layers = i.LayerIds.Distinct().ToList();
                    var shared = layers.Any(l => LayerSize(l) < 0) ? -1 : layers.Where(l => users[l] > 1).Sum(LayerSize);
                    return new DiskUsageImage
                    {
                        Id = i.Id, ParentId = i.Parent ?? "",
                        RepoTags = g.Select(x => x.Name).Where(n => n != Gocker.Images.ImageStore.DanglingName).ToList(),
                        Created = i.Created.ToUnixTimeSeconds(), Size = i.SizeBytes, VirtualSize = i.SizeBytes, SharedSize = shared,
                        Containers = perImage.GetValueOrDefault(i.Id),
                    };
                }).ToList(),
            };
            var imageSize = images.ToDictionary(g => g.Key, g => g.First().SizeBytes, StringComparer.Ordinal);
            result.Containers = containers.Select(r =>
            {
                var rw = TreeSize(ContainerFiles.UpperDir(svc, r.Spec.Id));
                return new ContainerSummary
                {
                    Id = r.Spec.Id, Names = ["/" + r.Spec.Name], Image = r.Spec.Image, Command = string.Join(' ', r.Spec.Args),
                    Created = r.Spec.Created.ToUnixTimeSeconds(), State = r.Status.DockerName(), Status = StatusText.Of(r, now),
                    Labels = r.Spec.Labels, SizeRw = rw, SizeRootFs = rw + imageSize.GetValueOrDefault(r.Spec.ImageId),
                };
            }).ToList();
            result.Volumes = svc.Volumes.List().Select(v =>
            {
                var api = VolumeRoutes.ToApi(v, svc.Volumes);
                api.UsageData = new VolumeUsageData { Size = svc.Volumes.Size(v.Name), RefCount = svc.Volumes.UsersOf(v.Name).Count };
                return api;
            }).ToList();
            return result;
        });
        return Results.Json(usage, SystemJson.Default.DiskUsage);
    });

    /// <summary>Bytes of the files under dir, without following symlinks: the container's upper dir
    /// is the container's to fill, so nothing in it may lead the walk out. (Hard links count once per name.)</summary>
    internal static long TreeSize(string dir)
    {
        if (!Directory.Exists(dir)) return 0;
        var options = new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = 0 };
        // The enumerator recurses into real directories only; a symlink (ReparsePoint) is skipped, never followed.
        var files = new System.IO.Enumeration.FileSystemEnumerable<long>(dir, (ref System.IO.Enumeration.FileSystemEntry e) => e.Length, options)
        {
            ShouldIncludePredicate = (ref System.IO.Enumeration.FileSystemEntry e) => !e.IsDirectory && (e.Attributes & FileAttributes.ReparsePoint) == 0,
        };
        long total = 0;
        foreach (var size in files) total += size;
        return total;
    }
}
