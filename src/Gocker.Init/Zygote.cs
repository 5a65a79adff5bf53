using Gocker.Syscalls.Keeper;
using Gocker.Syscalls.Mounts;
using Gocker.Syscalls.Spawn;
using Gocker.Syscalls.Native;
using static Gocker.Syscalls.Native.Consts;

namespace Gocker.Init;

/// <summary>
/// `gocker-init --zygote`: an init started ahead of its container (ZygoteSpawner). Fresh UTS, IPC,
/// PID and net namespaces already; still the host's mount namespace; fds 0-2 on /dev/null, fd 3 the
/// exec-status pipe, fd 4 a SOCK_SEQPACKET socket to the daemon. It waits for one message,
/// `CLAIM SPEC_PATH` with three descriptors (the container's stdin, stdout, stderr; a fourth is a
/// network namespace to join), and from then
/// on is exactly a freshly spawned init (Init.Run). EOF instead of a claim: the daemon let it go or
/// died; exit quietly.
/// </summary>
static class Zygote
{
    const int ControlFd = 4;

    public static unsafe int Run()
    {
        // Before the claim, i.e. off the start's path: what every init would otherwise do first.
        bool loopbackUp = Prepare();
        var buf = new byte[4096];
        var text = KeeperSocket.Receive(ControlFd, buf, out var fds);
        if (text is null) return 0;
        try
        {
            if (!text.StartsWith("CLAIM /", StringComparison.Ordinal) || fds.Count is not (3 or 4))
                throw new InitFailure(125, $"zygote: unexpected claim ({fds.Count} descriptors)");
            // dup3 clears CLOEXEC on 0-2 (the received copies have it); the originals are closed so
            // that only 0, 1, 2 (and the CLOEXEC fd 3, 4) are open when the command is exec'd.
            for (int i = 0; i < 3; i++)
                if (Libc.dup3(fds[i], i, 0) < 0) throw new InitFailure(125, $"zygote: dup3 onto fd {i}: errno {Libc.Errno}");
            // A fourth descriptor: a network namespace made (and attached) beforehand to join instead
            // of the empty one we were spawned with. setns moves this thread, the one that execs.
            if (fds.Count == 4 && Libc.setns(fds[3], CLONE_NEWNET) != 0)
                throw new InitFailure(125, $"zygote: setns net: errno {Libc.Errno}");
            // Our own mount namespace, copied from the host's table as it is now. unshare applies to
            // this thread only (the runtime's other threads stay behind, in the host's namespace, and
            // vanish at execve); every mount, the pivot_root and the execve happen on this thread.
            if (Libc.unshare(CLONE_NEWNS) != 0) throw new InitFailure(125, $"zygote: unshare mount namespace: errno {Libc.Errno}");
        }
        catch (InitFailure e) { return Init.Report(e.Code, "zygote", e.Message); }
        finally
        {
            foreach (var fd in fds) if (fd > 2) Sys.Close(fd);
        }
        // A joined namespace (fds[3]) has its own "lo" to bring up: the init does it as usual.
        return Init.Run(text["CLAIM ".Length..], loopbackReady: loopbackUp && fds.Count == 3);
    }

    /// <summary>
    /// Brings up "lo" of the network namespace we were spawned with (kept unless the claim brings
    /// another one), and runs once the code a claim runs first (the spec reader, the overlay options,
    /// the class constructors of the mount helpers): first calls in a fresh process fault their code
    /// and data in and run static constructors, which a waiting zygote can do instead of the start.
    /// True when "lo" is up. Any failure here is left for the init to meet and report.
    /// </summary>
    static bool Prepare()
    {
        try
        {
            _ = InitSpecReader.TryFast(WarmSpec);
            _ = Overlay.Options(["/l"], "/u", "/w", volatileUpper: true);
            System.Runtime.CompilerServices.RuntimeHelpers.RunClassConstructor(typeof(ContainerMounts).TypeHandle);
        }
        catch (Exception) { /* a warm-up only */ }
        try
        {
            Net.LoopbackUp();
            return true;
        }
        catch (Exception) { return false; }
    }

    static ReadOnlySpan<byte> WarmSpec => """
        {"Version":1,"RootfsDir":"/r","LowerDirs":["/l"],"UpperDir":"/u","WorkDir":"/w","Hostname":"h","Args":["true"],
        "Env":["PATH=/bin"],"WorkingDir":"/","Volumes":[{"Source":"/s","Destination":"/d","ReadOnly":true}],"User":"","Tty":false,"VolatileUpper":true}
        """u8;
}
