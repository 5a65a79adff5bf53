using Akka.Configuration;
using Gocker.Actors.Engine;
using Gocker.Syscalls.Cgroups;

namespace Gocker.Host;

/// <summary>gockerd's settings: HOCON (--config FILE, /etc/gocker/gocker.hocon, or the shipped
/// gocker.hocon) with Docker's daemon flags on top.</summary>
public sealed record DaemonConfig(GockerOptions Options, string SocketPath, Config Hocon, string? ConfigFile)
{
    /// <summary>The network manager's settings (gocker.network, --bridge, --bridge-subnet, --address-pool, --netns-pool).</summary>
    public Gocker.Network.NetworkOptions Network { get; init; } = new() { StateDir = Path.Combine(Options.DataRoot, "network") };
    /// <summary>gocker.cgroups.favor-dynmods: set the host's cgroup2 favordynmods option at start.</summary>
    public bool FavorDynmods { get; init; }
    /// <summary>gocker.api.max-json-body: the largest request body of a JSON endpoint (RequestLimits).</summary>
    public long MaxJsonBody { get; init; } = RequestLimits.DefaultMaxJsonBody;
    /// <summary>gocker.storage.min-free: new work is refused while the data root has less (StorageGuard).</summary>
    public long MinFree { get; init; } = StorageGuard.DefaultMinFree;

    /// <summary>gocker.network.netns-pool when the configuration does not say (as shipped).</summary>
    public const int DefaultNetnsPool = 2;

    public static DaemonConfig Load(string? configFile, string? dataRoot, string? execRoot, string? host, string? cgroupParent,
        string? bridge = null, string? bridgeSubnet = null, string? addressPool = null, string? defaultNetwork = null, int? netnsPool = null,
        string? usernsRemap = null)
    {
        var file = configFile ?? new[]
        {
            "/etc/gocker/gocker.hocon",
            Path.Combine(AppContext.BaseDirectory, "gocker.hocon"),
        }.FirstOrDefault(File.Exists);
        if (configFile is not null && !File.Exists(configFile))
            throw new ArgumentException($"--config {configFile}: no such file");
        var hocon = file is null ? ConfigurationFactory.Empty : ConfigurationFactory.ParseString(File.ReadAllText(file));
        var g = hocon.GetConfig("gocker") ?? ConfigurationFactory.Empty;

        string Str(string key, string def) => g.HasPath(key) && !string.IsNullOrEmpty(g.GetString(key)) ? g.GetString(key) : def;
        long Long(string key) => g.HasPath(key) ? g.GetLong(key) : 0;

        var cpus = g.HasPath("default-limits.cpus") ? g.GetDouble("default-limits.cpus") : 0;
        var limits = new CgroupLimits
        {
            MemoryBytes = Long("default-limits.memory") is > 0 and var m ? m : null,
            CpuQuotaMicros = cpus > 0 ? (long)(cpus * 100_000) : null,
            CpuShares = Long("default-limits.cpu-shares") is > 0 and var s ? s : null,
            PidsMax = Long("default-limits.pids-limit") is > 0 and var p ? p : null,
            CpusetCpus = Str("default-limits.cpuset-cpus", "") is { Length: > 0 } c ? c : null,
        };
        var options = new GockerOptions
        {
            DataRoot = Absolute("--data-root", dataRoot ?? Str("data-root", "/var/lib/gocker")),
            ExecRoot = Absolute("--exec-root", execRoot ?? Str("exec-root", "/run/gocker")),
            CgroupParent = ValidateCgroupParent(cgroupParent ?? Str("cgroup-parent", "gocker")),
            InitPath = Str("init-path", "") is { Length: > 0 } ip ? ip : null,
            BusyboxPath = Str("busybox-path", "/bin/busybox"),
            Zygotes = g.HasPath("spawn.zygotes") ? g.GetInt("spawn.zygotes") is >= 0 and <= 16 and var z ? z
                : throw new ArgumentException($"gocker.spawn.zygotes = {g.GetString("spawn.zygotes")}: use 0 (off) to 16") : 2,
            ZygoteRefillDelay = g.HasPath("spawn.zygote-refill-delay") ? g.GetTimeSpan("spawn.zygote-refill-delay") is var rd && rd >= TimeSpan.Zero && rd <= TimeSpan.FromSeconds(10) ? rd
                : throw new ArgumentException($"gocker.spawn.zygote-refill-delay = {g.GetString("spawn.zygote-refill-delay")}: use 0 to 10s") : TimeSpan.FromMilliseconds(10),
            DefaultLimits = limits,
            DefaultStopTimeout = g.HasPath("stop-timeout") ? g.GetTimeSpan("stop-timeout") : TimeSpan.FromSeconds(10),
            DefaultNetwork = defaultNetwork ?? Str("network.default", "bridge"),
            RestartBackoff = RestartBackoffOf(g),
            ContainerThreadNice = g.HasPath("dispatchers.container.nice") ? Math.Clamp(g.GetInt("dispatchers.container.nice"), 0, 19) : 0,
            // Resolved now (and "default" given its range): a bad setting stops the daemon at start.
            UsernsRemap = (usernsRemap ?? Str("userns-remap", "")) is { Length: > 0 } remap
                ? Gocker.Syscalls.Security.SubIds.Resolve(remap) : null,
        };
        options = options with { Events = EventSettings(g, options.DataRoot), Logs = LogSettingsOf(g) };
        if (options.DefaultNetwork == "host")
            throw new ArgumentException("gocker.network.default = host is not allowed: give --network host to the containers that need it");
        var pool = netnsPool ?? (g.HasPath("network.netns-pool") ? g.GetInt("network.netns-pool") : DefaultNetnsPool);
        if (pool is < 0 or > 64) throw new ArgumentException($"gocker.network.netns-pool = {pool}: use 0 (off) to 64");
        var network = new Gocker.Network.NetworkOptions
        {
            NetnsPool = pool,
            StateDir = Path.Combine(options.DataRoot, "network"),
            CniPath = Str("network.cni-path", "/usr/lib/cni"),
            DefaultBridge = bridge ?? Str("network.bridge", "gocker0"),
            DefaultSubnet = bridgeSubnet ?? Str("network.subnet", "172.28.0.0/16"),
            SubnetPool = addressPool ?? Str("network.address-pool", "172.29.0.0/16"),
            UseFirewallPlugin = Str("network.firewall-plugin", "auto") switch
            {
                "auto" => null, "on" or "true" => true, "off" or "false" => false,
                var v => throw new ArgumentException($"gocker.network.firewall-plugin = {v}: use auto, on or off"),
            },
        };
        var favor = Str("cgroups.favor-dynmods", "off") switch
        {
            "on" or "true" => true, "off" or "false" => false,
            var v => throw new ArgumentException($"gocker.cgroups.favor-dynmods = {v}: use on or off"),
        };
        var socket = ParseHost(host ?? Str("host", "unix:///run/gocker.sock"));
        return new DaemonConfig(options, socket, hocon, file) { Network = network, FavorDynmods = favor, MaxJsonBody = MaxJsonBodyOf(g), MinFree = MinFreeOf(g) };
    }

    /// <summary>gocker.restart { delay, max-delay, multiplier, reset-after, jitter }, checked like the
    /// per-container values.</summary>
    static Gocker.Actors.Restart.BackoffSettings RestartBackoffOf(Config g)
    {
        var d = Gocker.Actors.Restart.BackoffSettings.Docker;
        long? Ms(string key) => g.HasPath(key) ? (long)g.GetTimeSpan(key).TotalMilliseconds : null;
        double? Num(string key) => g.HasPath(key) ? g.GetDouble(key) : null;
        try
        {
            return Gocker.Actors.Restart.RestartSpecFactory.BuildBackoff(new Gocker.Api.RestartBackoff
            {
                DelayMs = Ms("restart.delay"), MaxDelayMs = Ms("restart.max-delay"), Multiplier = Num("restart.multiplier"),
                ResetAfterMs = Ms("restart.reset-after"), Jitter = Num("restart.jitter"),
            }, d);
        }
        catch (Gocker.Actors.Containers.BadRequestException ex)
        {
            throw new ArgumentException("gocker.restart: " + ex.Message.Replace("HostConfig.GockerRestartBackoff.", "", StringComparison.Ordinal));
        }
    }

    /// <summary>gocker.logs { max-size, max-file }: the log cap of containers that give none
    /// (Docker's sizes: "10m" = 10,000,000 bytes), checked like the per-container options.</summary>
    static Gocker.Actors.Logs.LogSettings LogSettingsOf(Config g)
    {
        var d = Gocker.Actors.Logs.LogSettings.Default;
        try
        {
            var sizeText = g.HasPath("logs.max-size") ? g.GetString("logs.max-size") : d.MaxSizeText;
            var size = Gocker.Actors.Logs.LogSettings.ParseMaxSize(sizeText, "gocker.logs.max-size");
            var files = g.HasPath("logs.max-file") ? Gocker.Actors.Logs.LogSettings.ParseMaxFile(g.GetString("logs.max-file"), "gocker.logs.max-file") : d.MaxFile;
            return d with { MaxSize = size, MaxSizeText = sizeText, MaxFile = files };
        }
        catch (Gocker.Actors.Containers.BadRequestException ex) { throw new ArgumentException(ex.Message); }
    }

    /// <summary>gocker.api.max-json-body: a HOCON size (4MiB, 512KiB, 1048576), 1 KiB to 1 GiB.</summary>
    static long MaxJsonBodyOf(Config g)
    {
        if (!g.HasPath("api.max-json-body")) return RequestLimits.DefaultMaxJsonBody;
        long? size;
        try { size = g.GetByteSize("api.max-json-body"); }
        catch (Exception) { size = null; } // whatever the HOCON reader throws for a value that is no size
        return size is >= 1024 and <= 1L << 30 ? size.Value
            : throw new ArgumentException($"gocker.api.max-json-body = {g.GetString("api.max-json-body")}: use a size from 1KiB to 1GiB (e.g. 4MiB)");
    }

    /// <summary>gocker.storage.min-free: a HOCON size (4MiB, 0 to turn the check off), at most 1 TiB.</summary>
    static long MinFreeOf(Config g)
    {
        if (!g.HasPath("storage.min-free")) return StorageGuard.DefaultMinFree;
        long? size;
        try { size = g.GetByteSize("storage.min-free"); }
        catch (Exception) { size = null; } // whatever the HOCON reader throws for a value that is no size
        return size is >= 0 and <= 1L << 40 ? size.Value
            : throw new ArgumentException($"gocker.storage.min-free = {g.GetString("storage.min-free")}: use a size from 0 to 1TiB (e.g. 4MiB)");
    }

    /// <summary>gocker.events { max, subscriber-buffer, persist }.</summary>
    static Gocker.Actors.Events.EventLogSettings EventSettings(Config g, string dataRoot)
    {
        int max = g.HasPath("events.max") ? g.GetInt("events.max") : 10_000;
        int buffer = g.HasPath("events.subscriber-buffer") ? g.GetInt("events.subscriber-buffer") : 1024;
        if (max < 1) throw new ArgumentException($"gocker.events.max = {max}: must be at least 1");
        if (buffer < 1) throw new ArgumentException($"gocker.events.subscriber-buffer = {buffer}: must be at least 1");
        bool persist = !g.HasPath("events.persist") || g.GetBoolean("events.persist");
        return new(max, buffer, persist ? Path.Combine(dataRoot, "events") : null);
    }

    static string Absolute(string flag, string path) =>
        Path.IsPathRooted(path) ? Path.GetFullPath(path) : throw new ArgumentException($"{flag} {path}: must be an absolute path");

    public static string ParseHost(string host)
    {
        if (host.StartsWith("unix://", StringComparison.Ordinal)) host = host["unix://".Length..];
        else if (host.Contains("://")) throw new ArgumentException($"-H {host}: only unix:// sockets are supported");
        return Absolute("-H", host);
    }

    static string ValidateCgroupParent(string parent)
    {
        var p = parent.Trim('/');
        if (p.Length == 0 || p.Split('/').Any(s => s is "" or "." or ".." || !s.All(ch => char.IsAsciiLetterOrDigit(ch) || ch is '_' or '-' or '.')))
            throw new ArgumentException($"--cgroup-parent {parent}: use names of [A-Za-z0-9_.-] separated by '/'");
        return p;
    }
}
