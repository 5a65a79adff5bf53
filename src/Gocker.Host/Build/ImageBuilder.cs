using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Akka.Actor;
using Gocker.Actors.Containers;
using Gocker.Actors.Engine;
using Gocker.Api;
using Gocker.Images;
using Gocker.Images.Build;
using Gocker.Images.ContainerFs;
using Gocker.Syscalls.Mounts;
using Gocker.Syscalls.Native;

namespace Gocker.Host.Build;

/// <summary>What a build was asked for (POST /build's query, `gocker build`'s flags).</summary>
public sealed class BuildRequest
{
    public List<string> Tags { get; } = [];
    public string Dockerfile { get; set; } = "Dockerfile";
    public Dictionary<string, string?> BuildArgs { get; } = new(StringComparer.Ordinal);
    public string? Target { get; set; }
    public bool NoCache { get; set; }
    public Dictionary<string, string> Labels { get; } = new(StringComparer.Ordinal);
    /// <summary>RUN containers' network: none, host, default/bridge or a network's name.</summary>
    public string NetworkMode { get; set; } = "default";
    /// <summary>Remove a RUN's container after a successful step (rm, default true); forcerm: after a
    /// failed one too. A failed step's container is removed anyway unless rm=false and forcerm=false.</summary>
    public bool Rm { get; set; } = true;
    public bool ForceRm { get; set; }
}

/// <summary>A build that stopped: the message is what the client shows (errorDetail).</summary>
public sealed class BuildFailedException(string message) : Exception(message);

/// <summary>
/// Docker's classic builder on Gocker's engine. Each RUN is a real container made from the current
/// layers through the supervisor's create/start path (the same as `run`), its upper dir committed as
/// one layer (the commit code: whiteouts, opaque dirs) and the container removed; COPY/ADD unpack into
/// a detached overlay of the current layers with the archive API's in-root resolution
/// (ContainerArchive.Extract), its upper dir the layer; other instructions change the config only.
/// Every layer step becomes a (dangling) image whose BuildCacheKey is a digest of the chain of steps
/// that led to it (the base image id, every instruction as expanded, the build args it saw, and for
/// COPY/ADD the content and metadata of the files it copies): a later build with the same chain
/// reuses it ("Using cache").
/// </summary>
public sealed class ImageBuilder
{
    readonly EngineServices _svc;
    readonly ImageStore _store;
    readonly IActorRef _supervisor;
    readonly BuildOutput _out;
    readonly BuildRequest _req;
    readonly CancellationToken _ct;
    readonly string _work;
    readonly string _context;
    int _step, _steps, _scratchSeq;
    Dockerfile _file = null!;
    readonly Dictionary<string, string?> _metaArgs = new(StringComparer.Ordinal);
    readonly HashSet<string> _usedArgs = new(StringComparer.Ordinal);
    readonly List<(DockerfileStage Stage, ImageRecord? Image)> _done = [];

    static readonly string HostPlatform = "linux/" + (System.Runtime.InteropServices.RuntimeInformation.OSArchitecture == System.Runtime.InteropServices.Architecture.Arm64 ? "arm64" : "amd64");

    /// <param name="work">A private dir of the build (<see cref="ImageStore.NewBuildDir"/>), whose
    /// "context" subdirectory holds the unpacked context.</param>
    public ImageBuilder(EngineServices svc, ImageStore store, IActorRef supervisor, BuildOutput output, BuildRequest req, string work, CancellationToken ct)
    {
        _svc = svc;
        _store = store;
        _supervisor = supervisor;
        _out = output;
        _req = req;
        _work = work;
        _context = Path.Combine(work, "context");
        _ct = ct;
    }

    sealed class Stage
    {
        public ImageRecord? Image;
        public BuildImageConfig Config = new();
        public List<BuildHistory> History = [];
        public string Chain = "";
        public bool Dirty;
        public bool CmdSet;
        public readonly Dictionary<string, string?> Args = new(StringComparer.Ordinal);
    }

    public async Task<ImageRecord> BuildAsync()
    {
        var text = ReadDockerfile();
        ApplyDockerIgnore();
        try { _file = Dockerfile.Parse(text); }
        catch (DockerfileParseException ex) { throw new BuildFailedException(ex.Message); }
        foreach (var a in _file.GlobalArgs)
            foreach (var (k, v) in Kv(a, n => _metaArgs.TryGetValue(n, out var x) ? x : null, valueOptional: true))
                _metaArgs[k] = _req.BuildArgs.TryGetValue(k, out var given) && given is not null ? Used(k, given) : v;
        List<DockerfileStage> stages;
        try { stages = Needed(_file.StagesFor(_req.Target)); }
        catch (DockerfileParseException ex) { throw new BuildFailedException(ex.Message); }
        _steps = stages.Sum(s => 1 + s.Instructions.Count);
        ImageRecord? last = null;
        foreach (var st in stages)
        {
            last = await RunStage(st, isLast: st == stages[^1]);
            _done.Add((st, last));
        }
        var unused = _req.BuildArgs.Keys.Where(k => !_usedArgs.Contains(k)).Order(StringComparer.Ordinal).ToList();
        if (unused.Count > 0) await _out.Stream($"[Warning] One or more build-args [{string.Join(' ', unused)}] were not consumed\n");
        return last!;
    }

    string Used(string name, string value)
    {
        _usedArgs.Add(name);
        return value;
    }

    /// <summary>The stages the last one needs (FROM and COPY --from, transitively); others are skipped.</summary>
    List<DockerfileStage> Needed(IReadOnlyList<DockerfileStage> stages)
    {
        var need = new HashSet<int> { stages.Count - 1 };
        for (int i = stages.Count - 1; i >= 0; i--)
        {
            if (!need.Contains(i)) continue;
            var refs = new List<string> { stages[i].From.Rest.Split(' ', StringSplitOptions.RemoveEmptyEntries)[0] };
            refs.AddRange(stages[i].Instructions.Select(x => x.Flag("from")).OfType<string>());
            foreach (var r in refs)
            {
                int j = int.TryParse(r, out var n) ? n : stages.ToList().FindIndex(s => string.Equals(s.Name, r, StringComparison.OrdinalIgnoreCase));
                if (j >= 0 && j < i) need.Add(j);
            }
        }
        return stages.Where(s => need.Contains(s.Index)).ToList();
    }

    // ---- context ----

    string ReadDockerfile()
    {
        var rel = InContext(_req.Dockerfile, "the Dockerfile");
        var path = ResolveInContext(rel) ?? throw new BuildFailedException($"Cannot locate specified Dockerfile: {_req.Dockerfile}");
        var info = new FileInfo(path);
        if (!info.Exists) throw new BuildFailedException($"Cannot locate specified Dockerfile: {_req.Dockerfile}");
        if (info.Length > 4 << 20) throw new BuildFailedException($"{_req.Dockerfile}: larger than 4 MiB");
        return File.ReadAllText(path);
    }

    void ApplyDockerIgnore()
    {
        var path = Path.Combine(_context, ".dockerignore");
        if (!File.Exists(path) || new FileInfo(path).LinkTarget is not null) return;
        var ignore = new DockerIgnore(File.ReadAllText(path));
        if (ignore.IsEmpty) return;
        Walk(_context, "");

        void Walk(string dir, string rel)
        {
            foreach (var e in Directory.EnumerateFileSystemEntries(dir).ToList())
            {
                var r = rel.Length == 0 ? Path.GetFileName(e) : rel + "/" + Path.GetFileName(e);
                bool isDir = new FileInfo(e).LinkTarget is null && Directory.Exists(e);
                if (ignore.Ignores(r))
                {
                    // An ignored directory may still hold re-included ("!") paths: then walk it.
                    if (isDir && ignore.HasExclusions) { Walk(e, r); if (!Directory.EnumerateFileSystemEntries(e).Any()) Directory.Delete(e); }
                    else if (isDir) ImageStore.RemoveBuildDir(e);
                    else File.Delete(e);
                }
                else if (isDir) Walk(e, r);
            }
        }
    }

    /// <summary>A source path of the context, cleaned and relative; "..", climbing out, is refused
    /// (Docker: "forbidden path outside the build context").</summary>
    static string InContext(string path, string what)
    {
        var parts = new List<string>();
        foreach (var s in path.Replace('\\', '/').Split('/'))
        {
            if (s is "" or ".") continue;
            if (s == "..")
            {
                if (parts.Count == 0) throw new BuildFailedException($"forbidden path outside the build context: {path} ({what})");
                parts.RemoveAt(parts.Count - 1);
                continue;
            }
            parts.Add(s);
        }
        return string.Join('/', parts);
    }

    /// <summary>The host path of a context path with every symlink resolved inside the context
    /// (openat2 RESOLVE_IN_ROOT: a link to "/etc" or "../.." stays in the context, never leads out);
    /// null if it does not exist.</summary>
    string? ResolveInContext(string rel)
    {
        int root = Sys.Open(_context, Consts.O_PATH | Consts.O_DIRECTORY | Consts.O_CLOEXEC);
        try
        {
            if (rel.Length == 0) return _context;
            int fd = Sys.OpenAt2(root, rel, Consts.O_PATH | Consts.O_CLOEXEC, Consts.RESOLVE_IN_ROOT | Consts.RESOLVE_NO_MAGICLINKS);
            if (fd < 0) return null;
            try
            {
                var real = new FileInfo($"/proc/self/fd/{fd}").LinkTarget ?? throw new IOException($"{rel}: cannot read its resolved path");
                // The kernel kept it inside; checked again because everything after builds host paths from it.
                if (real != _context && !real.StartsWith(_context + "/", StringComparison.Ordinal))
                    throw new BuildFailedException($"forbidden path outside the build context: {rel}");
                return real;
            }
            finally { Sys.Close(fd); }
        }
        finally { Sys.Close(root); }
    }

    // ---- stages and steps ----

    async Task<ImageRecord?> RunStage(DockerfileStage st, bool isLast)
    {
        var s = new Stage();
        await FromStep(s, st);
        foreach (var ins in st.Instructions) await RunInstruction(s, ins, trigger: false);
        if (isLast && _req.Labels.Count > 0)
        {
            foreach (var (k, v) in _req.Labels) s.Config.Labels[k] = v;
            Meta(s, "LABEL " + string.Join(' ', _req.Labels.Select(kv => $"{kv.Key}={kv.Value}")));
        }
        if (!s.Dirty && s.Image is not null) return s.Image;
        // Metadata after the last layer (or none at all): one more image, without a layer.
        var key = Key(s.Chain, "END");
        if (!_req.NoCache && _store.FindBuildCache(key) is { } cached) return cached;
        return await Task.Run(() => _store.CommitBuildStep(new BuildCommit
        {
            ParentId = s.Image?.Id, Config = s.Config, History = s.History, CacheKey = key,
        }), _ct);
    }

    async Task FromStep(Stage s, DockerfileStage st)
    {
        var ins = st.From;
        await Header(ins);
        string? Meta(string n) => _metaArgs.TryGetValue(n, out var v) ? v : Auto(n);
        var words = ShellWords.Split(ins.Rest, _file.Escape);
        var name = Expand(ins, words[0], Meta);
        if (ins.Flag("platform") is { } p)
        {
            var platform = Expand(ins, p, Meta);
            if (platform.Length > 0 && platform != HostPlatform && platform + "/" != HostPlatform + "/")
                throw new BuildFailedException($"step {_step}/{_steps}: FROM --platform={platform}: only the host's platform ({HostPlatform}) can be built here");
        }
        ImageRecord? image;
        if (name.Equals("scratch", StringComparison.OrdinalIgnoreCase)) image = null;
        else if (_done.FirstOrDefault(d => string.Equals(d.Stage.Name, name, StringComparison.OrdinalIgnoreCase)) is { Stage: not null } prior)
            image = prior.Image;
        else
        {
            try { image = await Task.Run(() => _store.Resolve(name), _ct); }
            catch (ImageNotFoundException)
            {
                throw new BuildFailedException($"step {_step}/{_steps}: FROM {name}: no such image here (pull is not available: `gocker load` or `gocker image import` it first)");
            }
        }
        if (image is not null)
        {
            s.Image = image;
            s.Config = _store.BuildConfigOf(image);
            s.History = _store.BuildHistoryOf(image);
            s.Chain = "FROM " + image.Id;
            await _out.Stream($" ---> {Short(image.Id)}\n");
        }
        else s.Chain = "FROM scratch";
        var triggers = s.Config.OnBuild.ToList();
        s.Config.OnBuild = [];
        if (triggers.Count > 0)
        {
            await _out.Stream($"# Executing {triggers.Count} build trigger{(triggers.Count == 1 ? "" : "s")}\n");
            foreach (var t in triggers)
            {
                DockerfileInstruction trig;
                try { trig = Dockerfile.ParseInstruction(ins.Line, t, _file.Escape); }
                catch (DockerfileParseException ex) { throw new BuildFailedException($"ONBUILD trigger of {name}: {ex.Message}"); }
                await RunInstruction(s, trig, trigger: true);
            }
        }
    }

    async Task Header(DockerfileInstruction ins)
    {
        _step++;
        await _out.Stream($"Step {_step}/{_steps} : {ins.Original}\n");
    }

    string? Lookup(Stage s, string name) => s.Config.GetEnv(name) ?? (s.Args.TryGetValue(name, out var v) ? v : null);

    string Expand(DockerfileInstruction ins, string word, Func<string, string?> env)
    {
        try { return ShellWords.Expand(word, env, _file.Escape); }
        catch (FormatException ex) { throw new BuildFailedException($"Dockerfile line {ins.Line}: {ex.Message}"); }
    }

    List<KeyValuePair<string, string>> Kv(DockerfileInstruction ins, Func<string, string?> env, bool legacy = false, bool valueOptional = false)
    {
        try { return ShellWords.KeyValues(ins.Rest, env, _file.Escape, legacy, valueOptional); }
        catch (FormatException ex) { throw new BuildFailedException($"Dockerfile line {ins.Line}: {ins.Keyword}: {ex.Message}"); }
    }

    /// <summary>The automatic platform args (BUILDPLATFORM, TARGETPLATFORM, TARGETOS, TARGETARCH).</summary>
    static string? Auto(string name) => name switch
    {
        "BUILDPLATFORM" or "TARGETPLATFORM" => HostPlatform,
        "BUILDOS" or "TARGETOS" => "linux",
        "BUILDARCH" or "TARGETARCH" => HostPlatform[6..],
        _ => null,
    };

    async Task RunInstruction(Stage s, DockerfileInstruction ins, bool trigger)
    {
        if (!trigger) await Header(ins);
        else await _out.Stream($" ---> {ins.Original}\n");
        Func<string, string?> env = n => Lookup(s, n);
        var c = s.Config;
        switch (ins.Keyword)
        {
            case "RUN": await RunStep(s, ins); return;
            case "COPY": case "ADD": await CopyStep(s, ins); return;
            case "ENV":
            {
                // Expanded once, with the env as it was before this line (Docker's rule).
                var pairs = Kv(ins, env, legacy: true);
                foreach (var (k, v) in pairs) c.SetEnv(k, v);
                Meta(s, "ENV " + string.Join(' ', pairs.Select(kv => $"{kv.Key}={kv.Value}")));
                return;
            }
            case "ARG":
                foreach (var (k, v) in Kv(ins, env, valueOptional: true))
                {
                    string? value = v;
                    if (_req.BuildArgs.TryGetValue(k, out var given) && given is not null) value = Used(k, given);
                    else if (value is null && _metaArgs.TryGetValue(k, out var meta)) value = meta;
                    value ??= Auto(k);
                    s.Args[k] = value;
                    Meta(s, value is null ? $"ARG {k}" : $"ARG {k}={value}");
                }
                return;
            case "WORKDIR":
            {
                var dir = Expand(ins, ins.Rest.Trim(), env);
                c.WorkingDir = ContainerArchive.Clean(dir.StartsWith('/') ? dir : (c.WorkingDir.Length > 0 ? c.WorkingDir : "/") + "/" + dir);
                Meta(s, "WORKDIR " + c.WorkingDir);
                return;
            }
            case "USER": c.User = Expand(ins, ins.Rest.Trim(), env); Meta(s, "USER " + c.User); return;
            case "CMD": c.Cmd = Command(s, ins); s.CmdSet = true; Meta(s, "CMD " + Json(c.Cmd)); return;
            case "ENTRYPOINT":
                c.Entrypoint = ins.Rest.Length == 0 ? null : Command(s, ins);
                // Docker: an ENTRYPOINT drops the CMD inherited from the base image (not one set in this stage).
                if (!s.CmdSet) c.Cmd = null;
                Meta(s, "ENTRYPOINT " + Json(c.Entrypoint ?? []));
                return;
            case "EXPOSE":
                foreach (var p in ShellWords.ExpandWords(ins.Rest, env, _file.Escape))
                {
                    var (port, proto) = p.Split('/') is [var a, var b] ? (a, b.ToLowerInvariant()) : (p, "tcp");
                    if (!ushort.TryParse(port.Split('-')[0], out _) || proto is not ("tcp" or "udp" or "sctp"))
                        throw new BuildFailedException($"Dockerfile line {ins.Line}: EXPOSE: invalid port {p}");
                    c.ExposedPorts.Add($"{port}/{proto}");
                }
                Meta(s, "EXPOSE " + string.Join(' ', c.ExposedPorts));
                return;
            case "LABEL":
            {
                var pairs = Kv(ins, env, legacy: true);
                foreach (var (k, v) in pairs) c.Labels[k] = v;
                Meta(s, "LABEL " + string.Join(' ', pairs.Select(kv => $"{kv.Key}={kv.Value}")));
                return;
            }
            case "MAINTAINER": Meta(s, "MAINTAINER " + ins.Rest); return;
            case "VOLUME":
            {
                var paths = ins.Json?.Select(w => Expand(ins, w, env)).ToList() ?? ShellWords.ExpandWords(ins.Rest, env, _file.Escape);
                foreach (var p in paths)
                {
                    if (p.Length == 0) throw new BuildFailedException($"Dockerfile line {ins.Line}: VOLUME specified can not be an empty string");
                    c.Volumes.Add(p);
                }
                Meta(s, "VOLUME " + Json(paths));
                return;
            }
            case "STOPSIGNAL": c.StopSignal = Expand(ins, ins.Rest.Trim(), env); Meta(s, "STOPSIGNAL " + c.StopSignal); return;
            case "SHELL": c.Shell = ins.Json!.ToList(); Meta(s, "SHELL " + Json(c.Shell)); return;
            case "HEALTHCHECK": c.Healthcheck = Health(s, ins); Meta(s, "HEALTHCHECK " + ins.Rest); return;
            case "ONBUILD":
                c.OnBuild.Add(ins.Rest);
                Meta(s, "ONBUILD " + ins.Rest);
                return;
            default: throw new BuildFailedException($"Dockerfile line {ins.Line}: {ins.Keyword} is not supported");
        }
    }

    List<string> Command(Stage s, DockerfileInstruction ins) =>
        ins.Json?.ToList() ?? [.. s.Config.Shell ?? ["/bin/sh", "-c"], ins.Rest];

    HealthConfig? Health(Stage s, DockerfileInstruction ins)
    {
        var rest = ins.Rest.Trim();
        if (rest.Equals("NONE", StringComparison.OrdinalIgnoreCase)) return new HealthConfig { Test = ["NONE"] };
        if (!rest.StartsWith("CMD", StringComparison.OrdinalIgnoreCase) || rest.Length > 3 && !char.IsWhiteSpace(rest[3]))
            throw new BuildFailedException($"Dockerfile line {ins.Line}: HEALTHCHECK takes NONE or [OPTIONS] CMD command");
        var cmd = Dockerfile.ParseInstruction(ins.Line, rest, _file.Escape);
        var h = new HealthConfig { Test = cmd.Json is { } j ? ["CMD", .. j] : ["CMD-SHELL", cmd.Rest] };
        foreach (var (k, v) in ins.Flags)
        {
            if (k == "retries")
            {
                if (!int.TryParse(v, out var r) || r < 0) throw new BuildFailedException($"Dockerfile line {ins.Line}: HEALTHCHECK --retries={v}: not a number");
                h.Retries = r;
                continue;
            }
            var ns = Duration(v) ?? throw new BuildFailedException($"Dockerfile line {ins.Line}: HEALTHCHECK --{k}={v}: not a duration");
            switch (k)
            {
                case "interval": h.Interval = ns; break;
                case "timeout": h.Timeout = ns; break;
                case "start-period": h.StartPeriod = ns; break;
                case "start-interval": h.StartInterval = ns; break;
            }
        }
        return h;
    }

    /// <summary>Go durations ("30s", "1m30s", "500ms") in nanoseconds.</summary>
    static long? Duration(string v)
    {
        var m = System.Text.RegularExpressions.Regex.Matches(v, @"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)");
        if (m.Count == 0 || string.Concat(m.Select(x => x.Value)) != v) return null;
        double total = 0;
        foreach (System.Text.RegularExpressions.Match x in m)
        {
            var n = double.Parse(x.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            total += n * x.Groups[2].Value switch { "ns" => 1, "us" or "µs" => 1e3, "ms" => 1e6, "s" => 1e9, "m" => 60e9, _ => 3600e9 };
        }
        return (long)total;
    }

    /// <summary>A metadata step: the config changed, no layer; its history entry is empty.</summary>
    void Meta(Stage s, string text)
    {
        s.Chain = Key(s.Chain, text);
        s.History.Add(new BuildHistory(DateTimeOffset.UtcNow, "/bin/sh -c #(nop)  " + text, EmptyLayer: true));
        s.Dirty = true;
    }

    static string Key(string chain, string step) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(chain + "\0" + step)));

    static string Json(IEnumerable<string> a)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartArray();
            foreach (var x in a) w.WriteStringValue(x);
            w.WriteEndArray();
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    static string Short(string id) => ImageReference.HexOf(id)[..12];

    async Task<bool> TryCache(Stage s, string key)
    {
        if (_req.NoCache || _store.FindBuildCache(key) is not { } cached) return false;
        await _out.Stream($" ---> Using cache\n ---> {Short(cached.Id)}\n");
        s.Image = cached;
        s.Chain = key;
        s.Dirty = false;
        return true;
    }

    async Task Committed(Stage s, ImageRecord image, string key, string createdBy)
    {
        s.Image = image;
        s.Chain = key;
        s.Dirty = false;
        await _out.Stream($" ---> {Short(image.Id)}\n");
    }

    // ---- RUN ----

    async Task RunStep(Stage s, DockerfileInstruction ins)
    {
        var cmd = Command(s, ins);
        if (cmd.Count == 0 || cmd[0].Length == 0) throw new BuildFailedException($"step {_step}/{_steps}: RUN: no command");
        // The build args in force (declared in this stage, with a value) go into the RUN's environment
        // unless an ENV of the same name overrides them, and into its cache key.
        var args = s.Args.Where(a => a.Value is not null && s.Config.GetEnv(a.Key) is null).OrderBy(a => a.Key, StringComparer.Ordinal)
            .Select(a => $"{a.Key}={a.Value}").ToList();
        var createdBy = (args.Count > 0 ? $"|{args.Count} {string.Join(' ', args)} " : "") + string.Join(' ', cmd);
        var key = Key(s.Chain, "RUN " + Json(cmd) + " " + Json(args));
        if (await TryCache(s, key)) return;
        var image = s.Image ?? throw new BuildFailedException($"step {_step}/{_steps}: RUN on an empty (scratch) stage: there is nothing to run (no shell, no files)");
        var history = s.History.Append(new BuildHistory(DateTimeOffset.UtcNow, createdBy, EmptyLayer: false)).ToList();
        var req = new ContainerCreateRequest
        {
            Image = image.Id,
            Cmd = cmd,
            Env = [.. s.Config.Env, .. args],
            WorkingDir = s.Config.WorkingDir.Length > 0 ? s.Config.WorkingDir : "/",
            User = s.Config.User,
            HostConfig = new HostConfig { NetworkMode = _req.NetworkMode },
        };
        // The RUN's process is exactly the command: no image entrypoint, cmd or env of the image's own
        // (the stage's config, which may be newer than the image's, is in the request).
        var runImage = image with { Entrypoint = null, Cmd = [], Env = [], Volumes = [], StopSignal = null };
        var created = await Ask<ContainerSupervisor.CreatedContainer>(new ContainerSupervisor.Create(req, "", runImage));
        var cid = created.Id;
        bool ok = false;
        try
        {
            await _out.Stream($" ---> Running in {cid[..12]}\n");
            var info = await Ask<ContainerActor.AttachInfo>(new ContainerSupervisor.ToContainer(cid, new ContainerActor.Attach()));
            var wait = _supervisor.Ask<object>(new ContainerSupervisor.ToContainer(cid, new ContainerActor.Wait(ContainerActor.WaitCondition.NextExit)),
                Timeout.InfiniteTimeSpan, _ct);
            await using var demux = _out.RunOutput();
            var follow = OutputStreamer.FollowAsync(demux, info.Logs, info.DataDir, info.Position, true, true, info.Exited, raw: false, _ct);
            int code;
            try
            {
                await Ask<object>(new ContainerSupervisor.ToContainer(cid, new ContainerActor.Start()));
                await follow;
                var result = await wait;
                code = result switch
                {
                    ContainerActor.WaitResult w => w.ExitCode,
                    Status.Failure f => throw f.Cause,
                    _ => throw new InvalidOperationException($"unexpected wait reply {result.GetType().Name}"),
                };
            }
            catch (Exception ex) when (ex is not OperationCanceledException and not BuildFailedException)
            {
                var cause = ex is AggregateException { InnerException: { } inner } ? inner : ex;
                if (cause is not StartFailedException sf) throw new BuildFailedException($"step {_step}/{_steps}: RUN {ins.Rest}: {cause.Message}");
                await Task.WhenAny(follow, Task.Delay(TimeSpan.FromSeconds(10), _ct));
                code = sf.ExitCode;
                await _out.Stream(cause.Message + "\n");
            }
            if (code != 0)
                throw new BuildFailedException($"The command '{string.Join(' ', cmd)}' returned a non-zero code: {code} (step {_step}/{_steps})");
            var record = await Ask<ContainerRecord>(new ContainerSupervisor.ToContainer(cid, new ContainerActor.Inspect()));
            var upper = ContainerLayout.For(_svc.Options, cid).UpperDir;
            DropMountPoints(upper);
            var committed = await Task.Run(() => _store.CommitBuildStep(new BuildCommit
            {
                ParentId = image.Id, UpperDir = upper, Userns = record.Spec.Userns, Config = s.Config.Copy(), History = history, CacheKey = key,
            }), _ct);
            ok = true;
            s.History = history;
            if (_req.Rm || _req.ForceRm) await _out.Stream($"Removing intermediate container {cid[..12]}\n");
            await Committed(s, committed, key, createdBy);
        }
        finally
        {
            if (_req.ForceRm || _req.Rm || !ok)
            {
                // Whatever happened, the build's container goes (with its anonymous volumes): a
                // failed step leaves nothing behind. Not with the request's token: a client that
                // went away must not leave it either.
                try
                {
                    var reply = await _supervisor.Ask<object>(new ContainerSupervisor.ToContainer(cid, new ContainerActor.Remove(true, true)), TimeSpan.FromSeconds(60));
                    if (reply is Status.Failure f && f.Cause is not ContainerNotFoundException) throw f.Cause;
                }
                catch (Exception ex) when (ex is not ContainerNotFoundException)
                {
                    await _out.StreamAlways($"warning: the build container {cid[..12]} was not removed: {ex.Message}\n");
                }
            }
        }
    }

    /// <summary>The empty files the runtime makes in the upper dir as mount points of the generated
    /// /etc/hostname, /etc/hosts and /etc/resolv.conf (what the RUN wrote there went to the mounted
    /// files): they are no part of the step's changes, as in Docker's builds.</summary>
    static void DropMountPoints(string upper)
    {
        var etc = Path.Combine(upper, "etc");
        if (new FileInfo(etc).LinkTarget is not null || !Directory.Exists(etc)) return;
        foreach (var n in new[] { "hostname", "hosts", "resolv.conf" })
        {
            var f = new FileInfo(Path.Combine(etc, n));
            if (f.Exists && f.LinkTarget is null && f.Length == 0 && IsDirOrRegular(f.FullName)) f.Delete();
        }
    }

    async Task<T> Ask<T>(object message)
    {
        var reply = await _supervisor.Ask<object>(message, TimeSpan.FromSeconds(60), _ct);
        return reply switch
        {
            Status.Failure f => throw f.Cause,
            T t => t,
            _ => throw new InvalidOperationException($"unexpected reply {reply.GetType().Name}"),
        };
    }

    // ---- COPY / ADD ----

    sealed record Source(string Named, string? HostPath, bool Unpack);

    async Task CopyStep(Stage s, DockerfileInstruction ins)
    {
        bool add = ins.Keyword == "ADD";
        foreach (var f in new[] { "link", "parents", "exclude", "checksum", "keep-git-dir" })
            if (ins.Flag(f) is not null) throw new BuildFailedException($"Dockerfile line {ins.Line}: {ins.Keyword} --{f} is BuildKit's: not supported by the classic builder");
        Func<string, string?> env = n => Lookup(s, n);
        var words = ins.Json?.Select(w => Expand(ins, w, env)).ToList() ?? ShellWords.ExpandWords(ins.Rest, env, _file.Escape);
        if (words.Count < 2) throw new BuildFailedException($"Dockerfile line {ins.Line}: {ins.Keyword} requires at least two arguments");
        var dest = words[^1];
        var srcs = words[..^1];
        var from = ins.Flag("from") is { } fr ? Expand(ins, fr, env) : null;
        var chown = ins.Flag("chown") is { } co ? Expand(ins, co, env) : null;
        int? chmod = null;
        if (ins.Flag("chmod") is { } cm)
        {
            try { chmod = Convert.ToInt32(Expand(ins, cm, env), 8); }
            catch (FormatException) { throw new BuildFailedException($"Dockerfile line {ins.Line}: --chmod={cm}: not an octal mode"); }
            if (chmod is < 0 or > 0xFFF) throw new BuildFailedException($"Dockerfile line {ins.Line}: --chmod={cm}: out of range");
        }
        if (!dest.StartsWith('/'))
        {
            var wd = s.Config.WorkingDir.Length > 0 ? s.Config.WorkingDir : "/";
            var trailing = dest.EndsWith('/') || dest is "." || dest.EndsWith("/.");
            dest = ContainerArchive.Clean(wd + "/" + dest) + (trailing ? "/" : "");
        }
        bool destIsDirByName = dest.EndsWith('/') || srcs.Count > 1 || srcs.Any(PathPatterns.HasWildcards);

        var stepDir = Path.Combine(_work, "step-" + (++_scratchSeq));
        Directory.CreateDirectory(stepDir);
        ContainerRoot? sourceRoot = null;
        try
        {
            // The file set: (entry tar, key) per source; the key covers names, modes, links and content.
            var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var tars = new List<(string Tar, bool Unpack, bool IsDir, string Named)>();
            if (from is not null)
            {
                var image = FromImage(from, ins);
                var upper = Path.Combine(stepDir, "from-upper");
                Directory.CreateDirectory(upper);
                sourceRoot = ContainerRoot.OfStopped(LowerDirs(image, stepDir), upper, stepDir, null, -1);
                foreach (var src in srcs)
                {
                    if (PathPatterns.HasWildcards(src)) throw new BuildFailedException($"{ins.Keyword} --from={from} {src}: wildcards are not supported with --from here; name the path");
                    var abs = ContainerArchive.Clean("/" + src);
                    PathStat stat;
                    Action<Stream> write;
                    try { (stat, write) = ContainerArchive.Archive(sourceRoot, abs, from); }
                    catch (ArchivePathNotFoundException) { throw new BuildFailedException($"{ins.Keyword} failed: stat {abs}: file does not exist in {from}"); }
                    var tar = Path.Combine(stepDir, $"src-{tars.Count}.tar");
                    using (var f = File.Create(tar)) write(f);
                    HashTar(hash, tar, src);
                    tars.Add((tar, false, stat.IsDir, abs));
                }
            }
            else
            {
                foreach (var src in srcs)
                {
                    if (add && (src.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || src.StartsWith("https://", StringComparison.OrdinalIgnoreCase) || src.StartsWith("git@", StringComparison.Ordinal)))
                        throw new BuildFailedException($"ADD {src}: remote sources (URLs, git) are not supported: download it into the context and ADD or COPY that");
                    var rel = InContext(src, ins.Keyword);
                    var matches = PathPatterns.HasWildcards(rel) ? PathPatterns.Glob(_context, rel) : [rel];
                    if (matches.Count == 0) throw new BuildFailedException($"{ins.Keyword} failed: no source files were specified ({src} matches nothing)");
                    foreach (var m in matches)
                    {
                        var host = ResolveInContext(m) ?? throw new BuildFailedException(
                            $"{ins.Keyword} failed: file not found in build context or excluded by .dockerignore: stat {src}: file does not exist");
                        bool isDir = Directory.Exists(host);
                        bool unpack = add && !isDir && IsArchive(host);
                        var tar = Path.Combine(stepDir, $"src-{tars.Count}.tar");
                        using (var f = File.Create(tar)) WriteContextTar(f, host, isDir, unpack, chmod);
                        HashTar(hash, tar, m);
                        tars.Add((tar, unpack, isDir, m));
                    }
                }
            }
            destIsDirByName |= tars.Count > 1;
            var flags = $"from={from} chown={chown} chmod={chmod} dest={dest}";
            var digest = Convert.ToHexStringLower(hash.GetHashAndReset());
            var key = Key(s.Chain, $"{ins.Keyword} {flags} {digest}");
            var createdBy = $"/bin/sh -c #(nop) {ins.Keyword} {(from is null ? "" : "--from=" + from + " ")}{string.Join(' ', srcs)} in {dest} ";
            if (await TryCache(s, key)) return;

            var stageUpper = Path.Combine(stepDir, "upper");
            Directory.CreateDirectory(stageUpper);
            ImageRecord? parent = s.Image;
            await Task.Run(() =>
            {
                using var root = ContainerRoot.OfStopped(parent is null ? [EmptyLower(stepDir)] : parent.Layers, stageUpper, stepDir, null, -1);
                (uint, uint)? owner = chown is null ? null : ResolveOwner(root, chown, ins);
                bool destIsDir = destIsDirByName || tars.Any(t => t.IsDir || t.Unpack) || IsDir(root, dest);
                var destDir = destIsDir ? dest.TrimEnd('/') : ContainerArchive.Clean(dest + "/..");
                if (destDir.Length == 0) destDir = "/";
                MakeParents(root, destDir, owner);
                foreach (var t in tars)
                {
                    using var input = File.OpenRead(t.Tar);
                    var renamed = Path.Combine(stepDir, Path.GetFileName(t.Tar) + ".out");
                    using (var o = File.Create(renamed))
                    {
                        var fileName = destIsDir ? ContainerArchive.Base("/" + t.Named) : ContainerArchive.Base(dest);
                        Func<string, string?> map = t.Unpack ? n => n
                            : t.IsDir ? (from is null ? n => n : StripTop)
                            : _ => fileName;
                        Rename(input, o, map);
                    }
                    using var tarIn = File.OpenRead(renamed);
                    // COPY makes root-owned files unless --chown; an ADDed archive keeps its own ids.
                    var ids = owner ?? (t.Unpack ? null : (0u, 0u));
                    ContainerArchive.Extract(root, destDir, "build", tarIn, new ExtractOptions { Owner = ids });
                }
            }, _ct);
            var history = s.History.Append(new BuildHistory(DateTimeOffset.UtcNow, createdBy, EmptyLayer: false)).ToList();
            var committed = await Task.Run(() => _store.CommitBuildStep(new BuildCommit
            {
                ParentId = parent?.Id, UpperDir = stageUpper, Config = s.Config.Copy(), History = history, CacheKey = key,
            }), _ct);
            s.History = history;
            await Committed(s, committed, key, createdBy);
        }
        catch (Exception ex) when (ex is ArchivePathNotFoundException or ArchiveForbiddenException or UnsafeArchiveException or InvalidDataException or ArgumentException or Gocker.Syscalls.SyscallException)
        {
            throw new BuildFailedException($"step {_step}/{_steps}: {ins.Keyword} failed: {ex.Message}");
        }
        finally
        {
            sourceRoot?.Dispose();
            ImageStore.RemoveBuildDir(stepDir);
        }
    }

    ImageRecord FromImage(string from, DockerfileInstruction ins)
    {
        int idx = -1;
        if (int.TryParse(from, out var n)) idx = n;
        foreach (var (st, img) in _done)
        {
            if (st.Index == idx || string.Equals(st.Name, from, StringComparison.OrdinalIgnoreCase))
                return img ?? throw new BuildFailedException($"{ins.Keyword} --from={from}: that stage is empty (scratch, nothing added)");
        }
        if (idx >= 0) throw new BuildFailedException($"{ins.Keyword} --from={from}: no stage {idx} before this one");
        try { return _store.Resolve(from); }
        catch (ImageNotFoundException) { throw new BuildFailedException($"{ins.Keyword} --from={from}: no such stage or image here (pull is not available: load or import it first)"); }
    }

    static IReadOnlyList<string> LowerDirs(ImageRecord image, string stepDir) => image.Layers.Length > 0 ? image.Layers : [EmptyLower(stepDir)];

    static string EmptyLower(string stepDir)
    {
        var d = Path.Combine(stepDir, "empty-lower");
        Directory.CreateDirectory(d);
        return d;
    }

    static bool IsDir(ContainerRoot root, string path)
    {
        try { return ContainerArchive.Stat(root, path.TrimEnd('/') is { Length: > 0 } p ? p : "/", "build").IsDir; }
        catch (ArchivePathNotFoundException) { return false; }
    }

    (uint, uint) ResolveOwner(ContainerRoot root, string chown, DockerfileInstruction ins)
    {
        try { return ContainerArchive.ResolveUser(root, chown); }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw new BuildFailedException($"step {_step}/{_steps}: {ins.Keyword} --chown={chown}: {ex.Message}");
        }
    }

    /// <summary>Missing directories of destDir, made as Docker's copier does (0755, the --chown owner).</summary>
    static void MakeParents(ContainerRoot root, string destDir, (uint, uint)? owner)
    {
        var missing = new List<string>();
        var p = destDir;
        while (p != "/" && !IsDir(root, p))
        {
            missing.Add(p);
            p = ContainerArchive.Clean(p + "/..");
        }
        if (missing.Count == 0) return;
        missing.Reverse();
        var top = p;
        using var ms = new MemoryStream();
        using (var w = new TarWriter(ms, TarEntryFormat.Pax, leaveOpen: true))
            foreach (var m in missing)
                w.WriteEntry(new PaxTarEntry(TarEntryType.Directory, m[(top == "/" ? 1 : top.Length + 1)..] + "/")
                {
                    Mode = (UnixFileMode)0b111_101_101, ModificationTime = DateTimeOffset.UtcNow,
                });
        ms.Position = 0;
        ContainerArchive.Extract(root, top, "build", ms, new ExtractOptions { Owner = owner ?? (0, 0) });
    }

    /// <summary>A context source as a tar: a directory's contents (names relative to it), or the one
    /// file (named "f"), or an archive as it is (ADD unpacks it). Symlinks inside are copied as links.</summary>
    static void WriteContextTar(Stream output, string host, bool isDir, bool unpack, int? chmod)
    {
        if (unpack)
        {
            using var f = File.OpenRead(host);
            using Stream s = IsGzip(host) ? new System.IO.Compression.GZipStream(f, System.IO.Compression.CompressionMode.Decompress) : f;
            s.CopyTo(output);
            return;
        }
        using var w = new TarWriter(output, TarEntryFormat.Pax, leaveOpen: true);
        if (!isDir)
        {
            Add(w, host, "f", chmod);
            return;
        }
        foreach (var e in Directory.EnumerateFileSystemEntries(host, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0, IgnoreInaccessible = false }).Order(StringComparer.Ordinal))
            Add(w, e, Path.GetRelativePath(host, e), chmod);
    }

    static void Add(TarWriter w, string path, string name, int? chmod)
    {
        var info = new FileInfo(path);
        // Only directories, regular files and links are copied: a fifo in the context would block
        // the read for ever, a device is no file to copy (Docker's copier skips them too).
        if (info.LinkTarget is null && !IsDirOrRegular(path)) return;
        bool dir = info.LinkTarget is null && Directory.Exists(path);
        if (info.LinkTarget is null && !dir && !info.Exists) return;
        TarEntry entry;
        if (info.LinkTarget is { } target)
            entry = new PaxTarEntry(TarEntryType.SymbolicLink, name) { LinkName = target, Mode = (UnixFileMode)0b111_111_111 };
        else if (dir)
            entry = new PaxTarEntry(TarEntryType.Directory, name + "/") { Mode = chmod is { } m ? (UnixFileMode)m : File.GetUnixFileMode(path) };
        else if ((info.Attributes & FileAttributes.Normal) != 0 || info.Exists)
            entry = new PaxTarEntry(TarEntryType.RegularFile, name) { Mode = chmod is { } m ? (UnixFileMode)m : File.GetUnixFileMode(path), DataStream = File.OpenRead(path) };
        else return;
        entry.ModificationTime = info.LastWriteTimeUtc;
        w.WriteEntry(entry);
        entry.DataStream?.Dispose();
    }

    /// <summary>The entries of a source tar renamed for the destination (map: the new name, or null
    /// to leave the entry out).</summary>
    static void Rename(Stream input, Stream output, Func<string, string?> map)
    {
        using var r = new TarReader(input);
        using var w = new TarWriter(output, TarEntryFormat.Pax, leaveOpen: true);
        TarEntry? e;
        while ((e = r.GetNextEntry(copyData: true)) is not null)
        {
            if (e.EntryType is TarEntryType.GlobalExtendedAttributes) continue;
            var name = map(e.Name);
            if (string.IsNullOrEmpty(name) || name == "/") continue;
            var copy = new PaxTarEntry(e) { };
            copy.Name = name;
            w.WriteEntry(copy);
        }
    }

    /// <summary>A --from directory's tar names its top entry after the directory: its contents go into dest.</summary>
    static string? StripTop(string name)
    {
        var slash = name.IndexOf('/');
        return slash < 0 || slash == name.Length - 1 ? null : name[(slash + 1)..];
    }

    static void HashTar(IncrementalHash hash, string tar, string named)
    {
        hash.AppendData(Encoding.UTF8.GetBytes(named + "\0"));
        using var f = File.OpenRead(tar);
        using var r = new TarReader(f);
        TarEntry? e;
        while ((e = r.GetNextEntry()) is not null)
        {
            // Names, types, modes, links and contents; not times (Docker's cache ignores mtimes).
            hash.AppendData(Encoding.UTF8.GetBytes($"{e.Name}\0{e.EntryType}\0{(int)e.Mode}\0{e.LinkName}\0{e.Length}\0"));
            if (e.DataStream is { } d)
            {
                var buf = new byte[1 << 16];
                int n;
                while ((n = d.Read(buf)) > 0) hash.AppendData(buf, 0, n);
            }
        }
    }

    static bool IsDirOrRegular(string path)
    {
        int fd = Sys.Open(path, Consts.O_PATH | Consts.O_CLOEXEC | Consts.O_NOFOLLOW);
        try { return Sys.TryStat(fd, "", out _, out _, out var mode) && (mode & 0xF000) is 0x8000 or 0x4000; }
        finally { Sys.Close(fd); }
    }

    static bool IsGzip(string path)
    {
        using var f = File.OpenRead(path);
        return f.ReadByte() == 0x1f && f.ReadByte() == 0x8b;
    }

    /// <summary>ADD unpacks a local tar (plain or gzip'd), recognised by its content as Docker does.</summary>
    static bool IsArchive(string path)
    {
        try
        {
            using var f = File.OpenRead(path);
            using Stream s = IsGzip(path) ? new System.IO.Compression.GZipStream(f, System.IO.Compression.CompressionMode.Decompress) : f;
            var header = new byte[512];
            int read = 0, n;
            while (read < 512 && (n = s.Read(header, read, 512 - read)) > 0) read += n;
            return read == 512 && Encoding.ASCII.GetString(header, 257, 5) == "ustar";
        }
        catch (InvalidDataException) { return false; }
    }
}
