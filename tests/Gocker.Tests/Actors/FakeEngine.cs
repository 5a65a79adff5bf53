using System.Collections.Concurrent;
using Gocker.Actors.Engine;
using Gocker.Images;
using Gocker.Syscalls.Cgroups;
using Gocker.Syscalls.Spawn;

namespace Gocker.Tests.Actors;

/// <summary>Recording fakes of the syscall-facing interfaces, for actor specs.</summary>
public sealed class FakeEngine : IDisposable
{
    public readonly ConcurrentQueue<string> Log = new();
    public readonly FakeSpawner Spawner;
    public readonly FakeCgroupManager Cgroups;
    public readonly FakeAdopter Adopter = new();
    public readonly string Root = Path.Combine(Path.GetTempPath(), "gocker-actor-spec-" + Guid.NewGuid().ToString("N")[..8]);
    public EngineServices Services { get; }

    public FakeEngine()
    {
        Spawner = new FakeSpawner(Log);
        Cgroups = new FakeCgroupManager(Log);
        var options = new GockerOptions
        {
            DataRoot = Path.Combine(Root, "data"),
            ExecRoot = Path.Combine(Root, "run"),
            CgroupParent = "spec",
        };
        Services = new EngineServices(options, Spawner, Cgroups, new FakeImages(), "/fake/gocker-init", TimeProvider.System)
        {
            Adopter = Adopter,
        };
    }

    public static ImageRecord Image => new() { Name = "busybox:latest", Id = "sha256:" + new string('a', 64), Layers = ["/fake/layer"] };

    public void Dispose()
    {
        if (Directory.Exists(Root)) Directory.Delete(Root, true);
    }

    sealed class FakeImages : IImageStore
    {
        public ImageRecord Resolve(string reference) => reference == "busybox" ? Image : throw new ImageNotFoundException(reference);
        public ImageRecord Import(Stream tar, string name) => throw new NotSupportedException();
        public IReadOnlyList<ImageRecord> List() => [Image];
        public void Remove(string reference) { }
    }
}

public sealed class FakeSpawner(ConcurrentQueue<string> log) : ISpawner
{
    int _nextPid = 1000;
    public readonly ConcurrentDictionary<int, FakeInitProcess> Processes = new();
    /// <summary>What Release answers; default: exec succeeded.</summary>
    public Func<SpawnRequest, ExecResult> ReleaseResult { get; set; } = _ => ExecResult.Success;
    public Func<SpawnRequest, bool> Fails { get; set; } = _ => false;
    public bool IgnoreSigterm { get; set; }

    public IInitProcess Spawn(SpawnRequest request)
    {
        if (Fails(request)) throw new InvalidOperationException("spawn failed on purpose");
        var p = new FakeInitProcess(Interlocked.Increment(ref _nextPid), request, this, log);
        Processes[p.Pid] = p;
        log.Enqueue($"spawn {p.Pid}");
        return p;
    }

    public FakeInitProcess ForSpec(string containerId) =>
        Processes.Values.Last(p => p.Request.SpecPath.Contains(containerId));
}

public sealed class FakeInitProcess(int pid, SpawnRequest request, FakeSpawner owner, ConcurrentQueue<string> log) : IInitProcess
{
    readonly TaskCompletionSource<ExitStatus> _exit = new(TaskCreationOptions.RunContinuationsAsynchronously);
    public int Pid { get; } = pid;
    public SpawnRequest Request { get; } = request;
    public readonly ConcurrentQueue<int> Signals = new();
    public bool Disposed { get; private set; }

    public ExecResult Release()
    {
        log.Enqueue($"release {Pid}");
        var result = owner.ReleaseResult(Request);
        if (!result.Ok) _exit.TrySetResult(ExitStatus.Exited(result.ExitCode));
        return result;
    }

    public Task<ExitStatus> WaitForExitAsync(CancellationToken ct = default) => _exit.Task;

    public void Signal(int signal)
    {
        log.Enqueue($"signal {Pid} {signal}");
        Signals.Enqueue(signal);
        if (signal == 9 || (signal == 15 && !owner.IgnoreSigterm)) _exit.TrySetResult(ExitStatus.Killed(signal));
    }

    public void Exit(int code) => _exit.TrySetResult(ExitStatus.Exited(code));
    /// <summary>The exit watch itself fails (as a pidfd poll error would).</summary>
    public void FailWait(Exception error) => _exit.TrySetException(error);
    public void Dispose() => Disposed = true;
}

public sealed class FakeCgroupManager(ConcurrentQueue<string> log) : ICgroupManager
{
    public readonly ConcurrentDictionary<string, FakeCgroup> Live = new();
    public Func<string, string, bool> FailAddProcess { get; set; } = (_, _) => false;
    /// <summary>How long each write takes (to expose overlapping writes).</summary>
    public TimeSpan WriteDelay { get; set; } = TimeSpan.Zero;
    public readonly ConcurrentDictionary<string, int> InFlight = new();
    public readonly ConcurrentDictionary<string, int> MaxInFlight = new();
    public long OomKills { get; set; }

    public CgroupMode Mode => CgroupMode.V1;

    public ICgroup Create(string parent, string name, CgroupLimits limits)
    {
        var key = $"{parent}/{name}";
        using (Write(key, "create"))
        {
            var cg = new FakeCgroup(this, key, name, limits);
            if (!Live.TryAdd(key, cg)) throw new InvalidOperationException($"cgroup {key} exists");
            return cg;
        }
    }

    public ICgroup Open(string parent, string name) => Live[$"{parent}/{name}"];
    public bool Exists(string parent, string name) => Live.ContainsKey($"{parent}/{name}");

    internal IDisposable Write(string key, string op)
    {
        var now = InFlight.AddOrUpdate(key, 1, (_, v) => v + 1);
        MaxInFlight.AddOrUpdate(key, now, (_, v) => Math.Max(v, now));
        log.Enqueue($"cgroup {op} {key}");
        if (WriteDelay > TimeSpan.Zero) Thread.Sleep(WriteDelay);
        return new Done(() => InFlight.AddOrUpdate(key, 0, (_, v) => v - 1));
    }

    sealed class Done(Action a) : IDisposable { public void Dispose() => a(); }
}

public sealed class FakeCgroup(FakeCgroupManager owner, string key, string name, CgroupLimits limits) : ICgroup
{
    /// <summary>What Create was given (device rules included), for tests of what the actors pass.</summary>
    public CgroupLimits Limits => limits;
    public string RelativePath => key;
    public IReadOnlyList<string> Directories => [key];
    public readonly List<int> Pids = [];

    public void AddProcess(int pid)
    {
        using (owner.Write(key, $"add {pid}"))
        {
            if (owner.FailAddProcess(key, name)) throw new IOException($"write {key}/cgroup.procs: injected failure");
            Pids.Add(pid);
        }
    }

    public IReadOnlyList<int> Processes() => Pids;
    public long OomKillCount() => owner.OomKills;
    public CgroupStats Stats() => new(0, 0, 0, Pids.Count);
    public void Freeze() { }
    public void Thaw() { }
    public void KillAll() { using (owner.Write(key, "kill")) { } }
    public void Remove()
    {
        using (owner.Write(key, "remove")) owner.Live.TryRemove(key, out _);
    }
}

/// <summary>Fake pids have start time pid*10; Adopt succeeds for the pids listed in Alive.</summary>
public sealed class FakeAdopter : IProcessAdopter
{
    public readonly ConcurrentDictionary<int, FakeAdoptedProcess> Alive = new();
    public ulong StartTime(int pid) => (ulong)pid * 10;

    public IInitProcess? Adopt(int pid, ulong startTime, out string why)
    {
        if (Alive.TryGetValue(pid, out var p) && startTime == StartTime(pid)) { why = ""; return p; }
        why = Alive.ContainsKey(pid) ? $"pid {pid} now belongs to another process" : $"process {pid} is gone";
        return null;
    }
}

public sealed class FakeAdoptedProcess(int pid) : IInitProcess
{
    readonly TaskCompletionSource<ExitStatus> _exit = new(TaskCreationOptions.RunContinuationsAsynchronously);
    public readonly ConcurrentQueue<int> Signals = new();
    public int Pid { get; } = pid;
    public ExecResult Release() => throw new InvalidOperationException("adopted");
    public Task<ExitStatus> WaitForExitAsync(CancellationToken ct = default) => _exit.Task;
    public void Signal(int signal)
    {
        Signals.Enqueue(signal);
        if (signal is 9 or 15) _exit.TrySetResult(ExitStatus.Killed(signal));
    }
    public void Dispose() { }
}
