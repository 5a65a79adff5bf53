using System.CommandLine;
using Gocker.Api;

namespace Gocker.Cli;

/// <summary>The options of run and create (docker's names) and their mapping to a create request.</summary>
public sealed class RunOptions
{
    public readonly Option<bool> Rm = new("--rm") { Description = "Automatically remove the container when it exits" };
    public readonly Option<string> Pull = new("--pull") { Description = "Pull image before running (\"always\", \"missing\", \"never\")", DefaultValueFactory = _ => "missing", HelpName = "string" };
    public readonly Option<string?> Name = new("--name") { Description = "Assign a name to the container" };
    public readonly Option<string[]> Env = new("--env", "-e") { Description = "Set environment variables (K=V, or K to take the console's value)", HelpName = "list" };
    public readonly Option<string?> Workdir = new("--workdir", "-w") { Description = "Working directory inside the container" };
    public readonly Option<string?> User = new("--user", "-u") { Description = "Username or UID (format: <name|uid>[:<group|gid>])" };
    public readonly Option<string?> Hostname = new("--hostname", "-h") { Description = "Container host name" };
    public readonly Option<string?> Memory = new("--memory", "-m") { Description = "Memory limit (bytes, or with a b, k, m, g suffix)", HelpName = "bytes" };
    public readonly Option<string?> Cpus = new("--cpus") { Description = "Number of CPUs (decimal)", HelpName = "decimal" };
    public readonly Option<long?> CpuShares = new("--cpu-shares", "-c") { Description = "CPU shares (relative weight)", HelpName = "int" };
    public readonly Option<string?> CpusetCpus = new("--cpuset-cpus") { Description = "CPUs in which to allow execution (0-3, 0,1)", HelpName = "string" };
    public readonly Option<long?> PidsLimit = new("--pids-limit") { Description = "Tune container pids limit (-1 for unlimited)", HelpName = "int" };
    public readonly Option<string[]> Volume = new("--volume", "-v") { Description = "Bind mount a volume: HOST-PATH:CTR[:ro|rw], NAME:CTR[:ro|nocopy], or CTR (anonymous volume)", HelpName = "list" };
    public readonly Option<string[]> Mount = new("--mount") { Description = "Attach a filesystem mount: type=bind|volume|tmpfs,source=...,target=...[,readonly][,volume-nocopy][,tmpfs-size=..]", HelpName = "mount" };
    public readonly Option<string?> Network = new("--network", "--net") { Description = "Connect a container to a network (bridge, host, none, or a network's name)", HelpName = "network" };
    public readonly Option<bool> PublishAll = new("--publish-all", "-P") { Description = "Publish all exposed ports to random host ports" };
    public readonly Option<string[]> Expose = new("--expose") { Description = "Expose a port or a range of ports (PORT[/tcp|udp])", HelpName = "list" };
    public readonly Option<string[]> Publish = new("--publish", "-p") { Description = "Publish a container's port to the host ([IP:][HOSTPORT:]CONTAINERPORT[/tcp|udp])", HelpName = "list" };
    public readonly Option<string?> Entrypoint = new("--entrypoint") { Description = "Overwrite the default entrypoint of the image", HelpName = "string" };
    public readonly Option<bool> Interactive = new("--interactive", "-i") { Description = "Keep STDIN open and forward the console's input" };
    public readonly Option<bool> Tty = new("--tty", "-t") { Description = "Allocate a pseudo-TTY" };
    public readonly Option<string?> DetachKeysOption = new("--detach-keys") { Description = "Override the key sequence for detaching a container (default ctrl-p,ctrl-q)", HelpName = "string" };
    public readonly Option<bool> SigProxy = new("--sig-proxy") { Description = "Proxy received signals to the process (non-TTY only)", DefaultValueFactory = _ => true };
    public readonly Option<string?> Restart = new("--restart") { Description = "Restart policy when the container exits (no, on-failure[:max-retries], always, unless-stopped)", HelpName = "policy" };
    public readonly Option<string?> RestartDelay = new("--restart-delay") { Description = "Wait before the first policy restart (e.g. 100ms, 2s; default gocker.restart.delay)", HelpName = "duration" };
    public readonly Option<string?> RestartMaxDelay = new("--restart-max-delay") { Description = "Longest wait between policy restarts (default 1m)", HelpName = "duration" };
    public readonly Option<string?> RestartMultiplier = new("--restart-multiplier") { Description = "Growth of the wait per restart (>= 1, default 2)", HelpName = "decimal" };
    public readonly Option<string?> RestartResetAfter = new("--restart-reset-after") { Description = "A run this long resets the wait to --restart-delay (default 10s)", HelpName = "duration" };
    public readonly Option<string?> RestartJitter = new("--restart-jitter") { Description = "Stretch each wait by up to this fraction (0..1, default 0)", HelpName = "decimal" };
    public readonly Option<string?> Group = new("--group") { Description = "Supervision group to join (gocker group create); the group decides restarts", HelpName = "name" };
    public readonly Option<string[]> CapAdd = new("--cap-add") { Description = "Add Linux capabilities (NET_ADMIN or CAP_NET_ADMIN, ALL)", HelpName = "list" };
    public readonly Option<string[]> CapDrop = new("--cap-drop") { Description = "Drop Linux capabilities (ALL to start from none)", HelpName = "list" };
    public readonly Option<bool> Privileged = new("--privileged") { Description = "Give extended privileges to this container (all capabilities and devices, no seccomp)" };
    public readonly Option<string[]> SecurityOpt = new("--security-opt") { Description = "Security options: no-new-privileges, seccomp=PROFILE.json|unconfined, systempaths=unconfined", HelpName = "list" };
    public readonly Option<bool> ReadOnly = new("--read-only") { Description = "Mount the container's root filesystem as read only" };
    public readonly Option<string[]> Tmpfs = new("--tmpfs") { Description = "Mount a tmpfs directory (PATH[:size=64m,mode=1777,...])", HelpName = "list" };
    public readonly Option<string[]> Device = new("--device") { Description = "Add a host device to the container (HOST[:CONTAINER[:rwm]])", HelpName = "list" };
    public readonly Option<string[]> Ulimit = new("--ulimit") { Description = "Ulimit options (NAME=SOFT[:HARD], e.g. nofile=1024:2048)", HelpName = "list" };
    public readonly Option<string[]> Sysctl = new("--sysctl") { Description = "Sysctl options (namespaced keys only, e.g. net.ipv4.ip_forward=1)", HelpName = "list" };
    public readonly Option<string?> ShmSize = new("--shm-size") { Description = "Size of /dev/shm (default 64m)", HelpName = "bytes" };
    public readonly Option<string[]> GroupAdd = new("--group-add") { Description = "Add additional groups to join", HelpName = "list" };
    public readonly Option<int?> OomScoreAdj = new("--oom-score-adj") { Description = "Tune host's OOM preferences (-1000 to 1000)", HelpName = "int" };
    public readonly Option<string?> LogDriver = new("--log-driver") { Description = "Logging driver for the container: json-file or local (Gocker's own log, rotated), none", HelpName = "string" };
    public readonly Option<string[]> LogOpt = new("--log-opt") { Description = "Log driver options: max-size=10m, max-file=3 (default: the daemon's gocker.logs)", HelpName = "list" };
    public readonly Option<string?> Userns = new("--userns") { Description = "User namespace to use (only \"host\")", HelpName = "string" };
    public readonly Option<string?> Cgroupns = new("--cgroupns") { Description = "Cgroup namespace to use (host|private); default private", HelpName = "string" };
    public readonly Option<string[]> Label = new("--label", "-l") { Description = "Set metadata on a container (KEY=VALUE, or KEY for an empty value)", HelpName = "list" };
    public readonly Option<string[]> EnvFile = new("--env-file") { Description = "Read in a file of environment variables (KEY=VALUE lines)", HelpName = "list" };
    public readonly Option<string[]> LabelFile = new("--label-file") { Description = "Read labels from a file of KEY=VALUE lines", HelpName = "list" };
    public readonly Option<string[]> NetworkAlias = new("--network-alias") { Description = "Add a network-scoped alias for the container (user networks only)", HelpName = "list" };
    public readonly Option<string?> Domainname = new("--domainname") { Description = "Container NIS domain name", HelpName = "string" };
    public readonly Option<string[]> AddHost = new("--add-host") { Description = "Add a custom host-to-IP mapping (host:ip, ip may be host-gateway)", HelpName = "list" };
    public readonly Option<string[]> Dns = new("--dns") { Description = "Set custom DNS servers", HelpName = "list" };
    public readonly Option<string[]> DnsSearch = new("--dns-search") { Description = "Set custom DNS search domains", HelpName = "list" };
    public readonly Option<string[]> DnsOption = new("--dns-option") { Description = "Set DNS options", HelpName = "list" };
    public readonly Option<bool> Init = new("--init") { Description = "Run an init inside the container that forwards signals and reaps processes" };
    public readonly Option<string?> StopSignal = new("--stop-signal") { Description = "Signal to stop the container (default SIGTERM, or the image's)", HelpName = "string" };
    public readonly Option<int?> StopTimeout = new("--stop-timeout") { Description = "Timeout (in seconds) to stop a container (-1: wait forever)", HelpName = "int" };
    public readonly Option<bool> Detach = new("--detach", "-d") { Description = "Run container in background and print container ID" };
    public readonly Argument<string> Image = new("IMAGE") { Description = "Image to run" };
    public readonly Argument<string[]> Command = new("COMMAND") { Description = "Command and arguments, passed to the container as is", Arity = ArgumentArity.ZeroOrMore };

    bool _isRun;

    public void AddTo(Command command, bool isRun)
    {
        _isRun = isRun;
        foreach (var o in new Option[] { Rm, Name, Env, Workdir, User, Hostname, Memory, Cpus, CpuShares, CpusetCpus, PidsLimit, Volume, Mount, Network, Publish, PublishAll, Expose, Entrypoint, Interactive, Tty,
                     Restart, RestartDelay, RestartMaxDelay, RestartMultiplier, RestartResetAfter, RestartJitter, Group,
                     CapAdd, CapDrop, Privileged, SecurityOpt, ReadOnly, Tmpfs, Device, Ulimit, Sysctl, ShmSize, GroupAdd, OomScoreAdj, Userns, Cgroupns, Label, LabelFile, EnvFile, LogDriver, LogOpt,
                     NetworkAlias, Domainname, AddHost, Dns, DnsSearch, DnsOption, Init, StopSignal, StopTimeout, Pull })
            command.Add(o);
        if (isRun) { command.Add(Detach); command.Add(DetachKeysOption); command.Add(SigProxy); }
        command.Add(Image);
        // Only for the help text: the pre-split hands the command over directly.
        command.Add(Command);
    }

    /// <summary>Every spelling of the options of <paramref name="command"/> (only those that take a
    /// value when <paramref name="valuesOnly"/>).</summary>
    public static HashSet<string> OptionSpellings(Command command, bool valuesOnly)
    {
        var set = new HashSet<string>(StringComparer.Ordinal);
        foreach (var o in command.Options)
        {
            if (valuesOnly && (o.ValueType == typeof(bool) || o.Arity.MaximumNumberOfValues == 0)) continue;
            set.Add(o.Name);
            foreach (var a in o.Aliases) set.Add(a);
        }
        return set;
    }

    public ContainerCreateRequest BuildRequest(ParseResult pr, string image, string[] cmd, Func<string, string?> getEnv)
    {
        bool detach = pr.GetResult(Detach) is not null && pr.GetValue(Detach);
        bool interactive = pr.GetValue(Interactive), tty = pr.GetValue(Tty);
        // Docker's check: relaying a terminal needs one on our side (run only: `create -it` relays
        // nothing; `start -ai` checks when it attaches).
        if (_isRun && tty && interactive && !detach && !Gocker.Syscalls.Terminal.TerminalMode.IsTerminal(0))
            throw new UsageException("the input device is not a TTY");
        var host = new HostConfig
        {
            AutoRemove = pr.GetValue(Rm),
            Memory = pr.GetValue(Memory) is { } m ? RunFlags.ParseMemory(m) : 0,
            NanoCpus = pr.GetValue(Cpus) is { } c ? RunFlags.ParseCpus(c) : 0,
            CpuShares = pr.GetValue(CpuShares) ?? 0,
            CpusetCpus = pr.GetValue(CpusetCpus),
            PidsLimit = pr.GetValue(PidsLimit),
            NetworkMode = pr.GetValue(Network),
            PublishAllPorts = pr.GetValue(PublishAll),
        };
        if (host.CpuShares < 0) throw new UsageException($"invalid --cpu-shares value {host.CpuShares}: must not be negative");
        foreach (var spec in pr.GetValue(Publish) ?? [])
        {
            var (key, binding) = RunFlags.ParsePublish(spec);
            host.PortBindings ??= [];
            if (!host.PortBindings.TryGetValue(key, out var list) || list is null) host.PortBindings[key] = list = [];
            list.Add(binding);
        }
        if (pr.GetValue(Restart) is { } restart)
        {
            host.RestartPolicy = RunFlags.ParseRestart(restart);
            if (host.AutoRemove && host.RestartPolicy.Name is not ("" or "no"))
                throw new UsageException("conflicting options: cannot specify both --restart and --rm");
        }
        RestartBackoff? backoff = null;
        RestartBackoff B() => backoff ??= new RestartBackoff();
        if (pr.GetValue(RestartDelay) is { } d) B().DelayMs = RunFlags.ParseDurationMs(d, "--restart-delay");
        if (pr.GetValue(RestartMaxDelay) is { } md) B().MaxDelayMs = RunFlags.ParseDurationMs(md, "--restart-max-delay");
        if (pr.GetValue(RestartResetAfter) is { } ra) B().ResetAfterMs = RunFlags.ParseDurationMs(ra, "--restart-reset-after");
        if (pr.GetValue(RestartMultiplier) is { } mu) B().Multiplier = RunFlags.ParseFraction(mu, "--restart-multiplier", 1, 1000);
        if (pr.GetValue(RestartJitter) is { } ji) B().Jitter = RunFlags.ParseFraction(ji, "--restart-jitter", 0, 1);
        host.GockerRestartBackoff = backoff;
        if (pr.GetValue(Group) is { Length: > 0 } group) host.GockerGroup = group;
        if (pr.GetValue(CapAdd) is { Length: > 0 } capAdd) host.CapAdd = [.. capAdd];
        if (pr.GetValue(CapDrop) is { Length: > 0 } capDrop) host.CapDrop = [.. capDrop];
        host.Privileged = pr.GetValue(Privileged);
        host.ReadonlyRootfs = pr.GetValue(ReadOnly);
        if (pr.GetValue(SecurityOpt) is { Length: > 0 } secOpts) host.SecurityOpt = secOpts.Select(o => RunFlags.ResolveSecurityOpt(o, File.ReadAllText)).ToList();
        foreach (var t in pr.GetValue(Tmpfs) ?? [])
        {
            var (path, opts) = RunFlags.ParseTmpfs(t);
            (host.Tmpfs ??= [])[path] = opts;
        }
        foreach (var dev in pr.GetValue(Device) ?? []) (host.Devices ??= []).Add(RunFlags.ParseDevice(dev));
        host.LogConfig = RunFlags.ParseLogConfig(pr.GetValue(LogDriver), pr.GetValue(LogOpt));
        foreach (var u in pr.GetValue(Ulimit) ?? []) (host.Ulimits ??= []).Add(RunFlags.ParseUlimit(u));
        foreach (var sc in pr.GetValue(Sysctl) ?? [])
        {
            var eq = sc.IndexOf('=');
            if (eq <= 0) throw new UsageException($"invalid --sysctl \"{sc}\": expected KEY=VALUE");
            (host.Sysctls ??= [])[sc[..eq]] = sc[(eq + 1)..];
        }
        if (pr.GetValue(ShmSize) is { } shm) host.ShmSize = RunFlags.ParseMemory(shm);
        if (pr.GetValue(GroupAdd) is { Length: > 0 } groups) host.GroupAdd = [.. groups];
        host.OomScoreAdj = pr.GetValue(OomScoreAdj) ?? 0;
        host.UsernsMode = pr.GetValue(Userns);
        host.CgroupnsMode = pr.GetValue(Cgroupns);
        if (pr.GetValue(Init)) host.Init = true;
        var anonymous = new Dictionary<string, EmptyObject>(StringComparer.Ordinal);
        foreach (var v in pr.GetValue(Volume) ?? []) MountFlags.ApplyVolume(v, host, anonymous);
        foreach (var mount in pr.GetValue(Mount) ?? []) (host.Mounts ??= []).Add(MountFlags.ParseMount(mount));
        if (pr.GetValue(AddHost) is { Length: > 0 } addHosts) host.ExtraHosts = addHosts.Select(RunFlags.ValidateAddHost).ToList();
        if (pr.GetValue(Dns) is { Length: > 0 } dns) host.Dns = [.. dns];
        if (pr.GetValue(DnsSearch) is { Length: > 0 } dnsSearch) host.DnsSearch = [.. dnsSearch];
        if (pr.GetValue(DnsOption) is { Length: > 0 } dnsOptions) host.DnsOptions = [.. dnsOptions];

        // --env-file lines first, then -e over them (docker's order).
        var env = RunFlags.ResolveEnv([.. Gocker.Cli.EnvFile.Read(pr.GetValue(EnvFile) ?? [], getEnv, File.ReadLines), .. pr.GetValue(Env) ?? []], getEnv);
        string? entrypoint = pr.GetValue(Entrypoint);
        return new ContainerCreateRequest
        {
            Image = image,
            Cmd = cmd.Length > 0 ? [.. cmd] : null,
            Entrypoint = entrypoint is null ? null : entrypoint.Length == 0 ? [] : [entrypoint],
            Env = env.Count > 0 ? env : null,
            WorkingDir = pr.GetValue(Workdir),
            User = pr.GetValue(User),
            Hostname = pr.GetValue(Hostname),
            AttachStdout = !detach,
            AttachStderr = !detach,
            OpenStdin = interactive,
            AttachStdin = interactive && !detach,
            // docker run -i: the container's stdin ends with ours.
            StdinOnce = interactive && !detach,
            Tty = tty,
            ExposedPorts = RunFlags.ParseExpose(pr.GetValue(Expose) ?? []),
            Labels = RunFlags.ParseLabels(pr.GetValue(Label) ?? [], pr.GetValue(LabelFile) ?? [], File.ReadLines),
            Volumes = anonymous.Count > 0 ? anonymous : null,
            HostConfig = host,
            Domainname = pr.GetValue(Domainname),
            // docker's CLI: the aliases go to the endpoint of the network given with --network.
            NetworkingConfig = pr.GetValue(NetworkAlias) is { Length: > 0 } aliases
                ? new NetworkingConfig { EndpointsConfig = new() { [host.NetworkMode is { Length: > 0 } net ? net : "default"] = new EndpointConfig { Aliases = [.. aliases] } } }
                : null,
            StopSignal = pr.GetValue(StopSignal),
            StopTimeout = pr.GetValue(StopTimeout),
        };
    }
}
