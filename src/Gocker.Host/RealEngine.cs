using Gocker.Actors.Engine;
using Gocker.Images;
using Gocker.Syscalls.Cgroups;
using Gocker.Syscalls.Spawn;

namespace Gocker.Host;

/// <summary>Builds the engine from the real syscall-backed parts.</summary>
public static class RealEngine
{
    public static EngineServices Create(GockerOptions options, Gocker.Network.NetworkOptions? network = null)
    {
        var hostInit = InitLocator.Find(options.InitPath);
        // Every spawn executes a sealed in-memory copy, never the host's file: a container must not
        // be able to reach (and overwrite) the binary the daemon runs as root (CVE-2019-5736, see
        // SealedBinary). Made before the zygotes, which run it too.
        SealedBinary sealedInit;
        var copyTime = System.Diagnostics.Stopwatch.StartNew();
        try { sealedInit = SealedBinary.Create(hostInit); }
        catch (Exception ex) when (ex is Gocker.Syscalls.SyscallException or IOException or UnauthorizedAccessException)
        {
            throw new DaemonStartupException($"gocker-init {hostInit}: cannot make its sealed copy: {ex.Message}");
        }
        copyTime.Stop();
        var init = sealedInit.ExecPath;
        ICgroupManager cgroups;
        try { cgroups = CgroupManagerFactory.Detect(); }
        catch (Exception ex) { throw new DaemonStartupException($"cgroups: {ex.Message}"); }
        var images = new ImageStore(options.ImagesDir, new ImageStoreOptions { BusyboxPath = options.BusyboxPath });
        // Once at startup: the reaper thread and the runtime's lazy parts are ready before the first spawn.
        var fresh = NamespaceSpawner.Create();
        ISpawner spawner = options.Zygotes > 0 ? new ZygoteSpawner(fresh, init, options.Zygotes, options.ZygoteRefillDelay) : fresh;
        Gocker.Network.INetworkManager? net = null;
        if (network is not null)
        {
            try { net = new Gocker.Network.NetworkManager(network); }
            catch (Exception ex) { throw new DaemonStartupException($"networking: {ex.Message}"); }
            if (options.DefaultNetwork != "none")
            {
                try { net.Inspect(options.DefaultNetwork); }
                catch (Gocker.Network.NetworkNotFoundException) { throw new DaemonStartupException($"gocker.network.default: network {options.DefaultNetwork} not found"); }
            }
        }
        Gocker.Actors.Containers.TrashBin trash;
        try { trash = new Gocker.Actors.Containers.TrashBin(options.TrashDirs, m => Console.Error.WriteLine("gockerd: " + m)); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { throw new DaemonStartupException($"trash dirs: {ex.Message}"); }
        return new EngineServices(options, spawner, cgroups, images, init, TimeProvider.System)
        {
            Network = net, Execs = NamespaceJoiner.Create(), Trash = trash,
            SealedInit = sealedInit, SealedInitCopyTime = copyTime.Elapsed,
        };
    }
}
public static class InitLocator
{
    /// <summary>gocker-init: configured path, next to gockerd (following the symlink in
    /// artifacts/bin), artifacts/bin when gockerd runs from artifacts/lib/gockerd, then PATH.</summary>
    public static string Find(string? configured)
    {
        if (!string.IsNullOrEmpty(configured))
            return File.Exists(configured) ? Path.GetFullPath(configured)
                : throw new DaemonStartupException($"gocker.init-path {configured}: no such file");
        var candidates = new List<string>();
        var exe = Environment.ProcessPath;
        if (exe is not null)
        {
            candidates.Add(Path.Combine(Path.GetDirectoryName(exe)!, "gocker-init"));
            var real = new FileInfo(exe).ResolveLinkTarget(true)?.FullName ?? exe;
            candidates.Add(Path.Combine(Path.GetDirectoryName(real)!, "gocker-init"));
            candidates.Add(Path.GetFullPath(Path.Combine(Path.GetDirectoryName(real)!, "../../bin/gocker-init")));
        }
        candidates.Add(Path.Combine(AppContext.BaseDirectory, "gocker-init"));
        candidates.Add(Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../bin/gocker-init")));
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
            candidates.Add(Path.Combine(dir, "gocker-init"));
        return candidates.FirstOrDefault(File.Exists)
               ?? throw new DaemonStartupException("gocker-init not found (looked next to gockerd and in PATH); build it with ./build.sh or set gocker.init-path");
    }
}
