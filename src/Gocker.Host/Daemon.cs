using System.Net.Sockets;
using Akka.Hosting;
using Gocker.Actors.Engine;
using Gocker.Api;
using Gocker.Syscalls.Cgroups;

namespace Gocker.Host;

public class DaemonStartupException(string message) : Exception(message);

public static class Daemon
{
    public static async Task<int> RunAsync(DaemonConfig cfg, CancellationToken ct)
    {
        if (Environment.UserName != "root" && Tmds.Linux.LibC.geteuid() != 0)
            throw new DaemonStartupException("must run as root (it creates namespaces, mounts and cgroups)");
        PrepareSocket(cfg.SocketPath);
        Directory.CreateDirectory(cfg.Options.DataRoot);
        Directory.CreateDirectory(cfg.Options.ExecRoot);
        var engine = RealEngine.Create(cfg.Options, cfg.Network);
        var favorNote = cfg.FavorDynmods ? EnableFavorDynmods() : null;
        // A terminal keeper that exited while no daemon ran (it held nothing more) leaves its cgroup.
        Gocker.Syscalls.Keeper.TerminalKeeper.For(cfg.Options.ExecRoot, engine.InitPath, engine.Cgroups, cfg.Options.CgroupParent).CleanupIfIdle();

        var builder = WebApplication.CreateSlimBuilder();
        // Type=notify under systemd: READY=1 once the socket answers, STOPPING=1 on shutdown, logs
        // without ANSI colours. Outside systemd (no NOTIFY_SOCKET, PID 1 not systemd) this does nothing.
        builder.Host.UseSystemd();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Logging.AddFilter("Gocker", LogLevel.Information);
        builder.WebHost.ConfigureKestrel(k =>
        {
            // A client's half-close (docker's stdin EOF on attach/exec) must not end the output: see HalfCloseConnection.
            k.ListenUnixSocket(cfg.SocketPath, l => l.Use(HalfCloseConnection.Middleware).Use(UpgradeBodyConnection.Middleware));
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = null; // image imports stream big tarballs
            k.AllowSynchronousIO = true;         // the tar unpacker reads the body synchronously on its own thread
        });
        builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.TypeInfoResolverChain.Insert(0, GockerJson.Default));
        builder.Services.AddSingleton(engine);
        builder.Services.AddSingleton(new RequestLimits(cfg.MaxJsonBody));
        builder.Services.AddSingleton(new StorageGuard(cfg.Options.DataRoot, cfg.MinFree));
        builder.Services.AddSingleton(RegistryService.From(cfg.Hocon));
        // A route parameter that does not bind throws, so RequestLimits answers it with a JSON 400
        // (the default is a 400 with an empty body).
        builder.Services.Configure<Microsoft.AspNetCore.Routing.RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        builder.Services.AddHostedService(_ => new SocketMode(cfg.SocketPath));
        builder.Services.AddSingleton<Gocker.Network.INetworkManager>(engine.Network!);
        builder.Services.AddAkka("gocker", b =>
        {
            b.AddHocon(cfg.Hocon, HoconAddMode.Prepend);
            b.WithGocker(engine);
        });

        var app = builder.Build();
        var pools = engine.Network as Gocker.Network.NetworkManager;
        if (pools is not null) pools.Log = m => app.Logger.LogWarning("network: {Message}", m);
        ApiRoutes.Map(app);
        await app.StartAsync(ct); // the socket's mode is set before "started" (SocketMode)
        app.Logger.LogInformation("gockerd listening on unix://{Socket} (data-root {Data}, exec-root {Exec}, cgroup-parent {Cg}, cgroups {Mode}, config {Config})",
            cfg.SocketPath, cfg.Options.DataRoot, cfg.Options.ExecRoot, cfg.Options.CgroupParent, engine.Cgroups.Mode, cfg.ConfigFile ?? "built-in");
        if (favorNote is not null) app.Logger.LogInformation("gocker.cgroups.favor-dynmods: {Note}", favorNote);
        _ = Task.Run(() =>
        {
            try { Gocker.Actors.Containers.ContainerSecurity.Prewarm(); }
            catch (Exception ex) { app.Logger.LogWarning("seccomp: the default profile does not compile (containers will not start): {Error}", ex.Message); }
        });
        if (engine.SealedInit is { } si)
            app.Logger.LogInformation("gocker-init: {Host} runs from its sealed copy {Exec} ({Bytes} bytes, made in {Ms:F2} ms)",
                si.HostPath, si.ExecPath, si.Length, engine.SealedInitCopyTime.TotalMilliseconds);
        await app.WaitForShutdownAsync(ct);
        // The netns pools' veths and IPs go with a graceful stop (after kill -9, the next start's
        // CleanupStale DELs them from their records).
        try { pools?.DrainPools(); }
        catch (Exception ex) { Console.Error.WriteLine($"gockerd: network pools: {ex.Message}"); }
        // Then the host rules and bridges of networks no container uses (see NetworkRules): a clean
        // stop leaves nothing on the host (after kill -9 they stay, and the next start finds them).
        try { pools?.ReleaseIdleHostState(); }
        catch (Exception ex) { Console.Error.WriteLine($"gockerd: network host rules: {ex.Message}"); }
        (engine.Spawner as IDisposable)?.Dispose(); // waiting zygotes exit (EOF on their socket)
        // An idle keeper (it stays while its daemon runs) goes with a graceful stop, and its cgroup too.
        try { Gocker.Syscalls.Keeper.TerminalKeeper.For(cfg.Options.ExecRoot, engine.InitPath, engine.Cgroups, cfg.Options.CgroupParent).DaemonStopping(); }
        catch (Exception ex) { Console.Error.WriteLine($"gockerd: keeper: {ex.Message}"); }
        try { File.Delete(cfg.SocketPath); } catch { }
        return 0;
    }

    /// <summary>A performance option: a failure (pure v1, a kernel before 6.1) is reported, not fatal.</summary>
    static string EnableFavorDynmods()
    {
        try
        {
            var mp = FavorDynmods.MountPointOnThisHost();
            if (mp is null) return "not available (no cgroup2 mount on this host)";
            return FavorDynmods.Set(mp, true) ? $"enabled on {mp}" : $"already on at {mp}";
        }
        catch (Exception ex) { return $"not enabled: {ex.Message}"; }
    }

    /// <summary>Removes a stale socket left by a crashed daemon, but never steals a live one.</summary>
    static void PrepareSocket(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        if (!File.Exists(path) && !Directory.Exists(path)) return;
        if (Directory.Exists(path)) throw new DaemonStartupException($"-H unix://{path}: is a directory");
        try
        {
            using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            s.Connect(new UnixDomainSocketEndPoint(path));
            throw new DaemonStartupException($"another daemon is already serving unix://{path}");
        }
        catch (SocketException)
        {
            File.Delete(path);
        }
    }
}
