using Gocker.Syscalls.Spawn;

namespace Gocker.Tests.Spawn;

/// <summary>One container's dirs (rootfs, upper, work, logs, spec) in its own temp dir; removed on Dispose.</summary>
public sealed class TestContainer : IDisposable
{
    static readonly Lazy<NamespaceSpawner> spawner = new(NamespaceSpawner.Create);
    public static NamespaceSpawner Spawner => spawner.Value;

    public string Dir { get; }
    public string Rootfs => Path.Combine(Dir, "rootfs");
    public string Upper => Path.Combine(Dir, "upper");
    public string Work => Path.Combine(Dir, "work");
    public string StdoutPath => Path.Combine(Dir, "stdout.log");
    public string StderrPath => Path.Combine(Dir, "stderr.log");
    public string SpecPath => Path.Combine(Dir, "spec.json");
    public InitSpec Spec { get; set; }
    /// <summary>The spawner this container uses (default: the shared NamespaceSpawner).</summary>
    public ISpawner With { get; init; } = Spawner;
    /// <summary>The gocker-init to execute (default: the published binary; a SealedBinary's ExecPath).</summary>
    public string InitPath { get; init; } = InitBinary.Path;
    IInitProcess? process;

    public TestContainer(BusyboxImage image, params string[] args)
    {
        Dir = Path.Combine(Path.GetTempPath(), "gocker-ct-" + Guid.NewGuid().ToString("N")[..12]);
        foreach (var d in new[] { Rootfs, Upper, Work }) Directory.CreateDirectory(d);
        Spec = new InitSpec
        {
            RootfsDir = Rootfs, LowerDirs = [image.Dir], UpperDir = Upper, WorkDir = Work,
            Hostname = "ct-" + Guid.NewGuid().ToString("N")[..8], Args = args,
            Env = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"],
        };
    }

    public IInitProcess Spawn() => Spawn(null);

    /// <param name="adjust">Changes to the request (e.g. NetnsPath) before the spawn.</param>
    public IInitProcess Spawn(Func<SpawnRequest, SpawnRequest>? adjust)
    {
        File.WriteAllBytes(SpecPath, InitSpecJson.Serialize(Spec));
        var request = new SpawnRequest(InitPath, SpecPath, StdoutPath, StderrPath);
        process = With.Spawn(adjust is null ? request : adjust(request));
        return process;
    }

    public Task<(ExecResult Exec, ExitStatus Exit, string Stdout, string Stderr)> RunAsync() => RunAsync(null);

    public async Task<(ExecResult Exec, ExitStatus Exit, string Stdout, string Stderr)> RunAsync(Func<SpawnRequest, SpawnRequest>? adjust)
    {
        var p = Spawn(adjust);
        var exec = p.Release();
        var exit = await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return (exec, exit, Read(StdoutPath), Read(StderrPath));
    }

    static string Read(string path) => File.Exists(path) ? File.ReadAllText(path) : "";

    public void Dispose()
    {
        if (process != null)
        {
            // A test that failed half-way must not leave a container running.
            var exit = process.WaitForExitAsync();
            if (!exit.IsCompleted)
            {
                try { process.Signal(9); exit.Wait(TimeSpan.FromSeconds(10)); } catch (Exception) { }
            }
            process.Dispose();
        }
        TestDirs.Delete(Dir);
    }
}
