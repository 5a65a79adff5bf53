using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Gocker.Syscalls.Mounts;
using Gocker.Syscalls.Native;
using Gocker.Syscalls.Security;
using static Gocker.Syscalls.Native.Consts;

namespace Gocker.Syscalls.Spawn;

/// <summary>
/// Spawns gocker-init as PID 1 of fresh UTS, IPC, net, PID and mount namespaces.
///
/// Why a fresh thread per spawn: unshare() applies to the calling thread only (the rest of the .NET
/// runtime stays in the host namespaces); a thread's new PID namespace is single-use (after its PID 1
/// exits, the next fork fails ENOMEM), and a thread left behind in the new mount namespace would have
/// its root moved by the init's pivot_root. So the thread unshares, posix_spawns, and exits.
///
/// Why posix_spawn and not Process.Start: we need the exact descriptor layout of the protocol
/// (0..4, everything else closed even while other .NET threads open fds concurrently: closefrom(5)),
/// default signal dispositions (.NET ignores SIGPIPE; a container must not inherit that), a new
/// session, and we reap our own children by pidfd.
///
/// Construct once at daemon start (<see cref="Create"/>); Spawn may be called concurrently.
/// </summary>
public sealed unsafe class NamespaceSpawner : ISpawner, IIdmapNamespaces
{
    const int Namespaces = CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWNS;
    const int OpaqueSize = 512; // posix_spawn_file_actions_t / posix_spawnattr_t are far smaller in glibc
    const string ChildPath = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";

    readonly PidfdReaper reaper;

    public NamespaceSpawner(PidfdReaper reaper) => this.reaper = reaper;

    /// <summary>The spawner the daemon uses: shared reaper, warmed up.</summary>
    public static NamespaceSpawner Create()
    {
        var s = new NamespaceSpawner(PidfdReaper.Shared);
        s.Warmup();
        return s;
    }

    /// <summary>
    /// Resolves the libc entry points and JIT-compiles the spawn thread's body ahead of time: after
    /// unshare(CLONE_NEWPID) that thread can no longer create threads, so nothing lazy (JIT, tiering,
    /// library loading) may happen there. Idempotent; Create() calls it.
    /// </summary>
    public void Warmup()
    {
        RuntimeHelpers.RunClassConstructor(typeof(SpawnJob).TypeHandle);
        RuntimeHelpers.PrepareMethod(typeof(SpawnJob).GetMethod(nameof(SpawnJob.Run))!.MethodHandle);
    }

    public IInitProcess Spawn(SpawnRequest request)
    {
        Validate(request);
        return SpawnCore(request, zygote: false).Init!;
    }

    /// <summary>One user namespace per id map, held open by the daemon: the idmapped layers of every
    /// remapped container are mounted through it (a container's own user namespace, with the same
    /// maps, is made by its init; see UsernsSpawn).</summary>
    readonly ConcurrentDictionary<IdMap, Lazy<int>> idmapNamespaces = new();

    /// <summary>The user namespace (an nsfs descriptor, kept for the daemon's life) for idmapped mounts with this map.</summary>
    public int IdmapNamespace(IdMap map, string initPath) =>
        idmapNamespaces.GetOrAdd(map, m => new Lazy<int>(() =>
        {
            var request = new SpawnRequest(initPath, "--userns-hold", "/dev/null", "/dev/null", "/dev/null")
            {
                Userns = new UsernsSpawn(m, [], "/", "/", false),
            };
            return SpawnCore(request, zygote: false, hold: true).UsernsFd;
        })).Value;

    /// <summary>A zygote (see <see cref="ZygoteSpawner"/>): `gocker-init --zygote` in fresh UTS, IPC, PID
    /// and net namespaces but still in the host's mount namespace, stdio on
    /// /dev/null, fd 4 a SOCK_SEQPACKET socket (the returned process's go channel) on which it waits
    /// for its claim.</summary>
    internal InitProcess SpawnZygote(string initPath)
    {
        var request = new SpawnRequest(initPath, "--zygote", "/dev/null", "/dev/null", "/dev/null");
        Validate(request with { SpecPath = "/" });
        return SpawnCore(request, zygote: true).Init!;
    }

    internal static void Validate(SpawnRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        Absolute("InitPath", request.InitPath);
        Absolute("SpecPath", request.SpecPath);
        Absolute("StdoutPath", request.StdoutPath);
        Absolute("StderrPath", request.StderrPath);
        if (request.StdinPath is not null) Absolute("StdinPath", request.StdinPath);
        if (request.NetnsPath is not null)
        {
            Absolute("NetnsPath", request.NetnsPath);
            if (request.HostNetwork) throw new ArgumentException("spawn: NetnsPath and HostNetwork exclude each other");
        }
        if (request.Userns is not null && request.HostNetwork)
            throw new ArgumentException("spawn: a remapped container cannot share the host's network namespace");
    }

    /// <param name="hold">Only a user namespace with request.Userns.Map (IdmapNamespace): its descriptor is returned, the process is gone.</param>
    (InitProcess? Init, int UsernsFd) SpawnCore(SpawnRequest request, bool zygote, bool hold = false)
    {
        int statusR = -1, statusW = -1, goR = -1, goW = -1, pidfd = -1, netnsFd = -1;
        int usernsSock = -1, usernsChild = -1, rootfsFd = -1;
        var userns = request.Userns;
        int[] given = [-1, -1, -1];
        var pins = new List<GCHandle>();
        void* fa = null, attr = null;
        bool faInit = false, attrInit = false;
        try
        {
            if (request.NetnsPath is not null)
            {
                // CLOEXEC (Sys.Open), and closefrom(5) in the child anyway: the init never holds it.
                netnsFd = Sys.Open(request.NetnsPath, O_RDONLY);
            }
            (statusR, statusW) = Sys.Pipe();
            // A zygote's go channel is a socket: its claim carries descriptors (SCM_RIGHTS).
            if (zygote) (goW, goR) = Keeper.KeeperSocket.Pair();
            else (goR, goW) = Sys.Pipe();
            // Above 10, so that dup2 onto 3 and 4 can never clobber one of our own pipe ends.
            statusR = Sys.MoveAbove(statusR, 10); statusW = Sys.MoveAbove(statusW, 10);
            goR = Sys.MoveAbove(goR, 10); goW = Sys.MoveAbove(goW, 10);

            byte* Pin(string s)
            {
                var h = GCHandle.Alloc(Sys.Z(s), GCHandleType.Pinned);
                pins.Add(h);
                return (byte*)h.AddrOfPinnedObject();
            }

            fa = NativeMemory.AllocZeroed(OpaqueSize);
            attr = NativeMemory.AllocZeroed(OpaqueSize);
            Check(Libc.posix_spawn_file_actions_init(fa), "posix_spawn_file_actions_init"); faInit = true;
            Check(Libc.posix_spawnattr_init(attr), "posix_spawnattr_init"); attrInit = true;

            // Caller's descriptors: private CLOEXEC copies above 10 (so no dup2 below can clobber one
            // before it is used, whatever number the caller's fd had); dup2 clears CLOEXEC in the child.
            int[] wanted = [request.StdinFd, request.StdoutFd, request.StderrFd];
            for (int i = 0; i < 3; i++)
                if (wanted[i] >= 0)
                {
                    given[i] = Libc.fcntl(wanted[i], F_DUPFD_CLOEXEC, 10);
                    if (given[i] < 0) throw new SyscallException("fcntl F_DUPFD_CLOEXEC", $"stdio fd {wanted[i]}", Libc.Errno);
                }
            if (given[0] >= 0) Check(Libc.posix_spawn_file_actions_adddup2(fa, given[0], 0), "adddup2 stdin");
            else Check(Libc.posix_spawn_file_actions_addopen(fa, 0, Pin(request.StdinPath ?? "/dev/null"), O_RDONLY | O_NOCTTY, 0), "addopen stdin");
            if (given[1] >= 0) Check(Libc.posix_spawn_file_actions_adddup2(fa, given[1], 1), "adddup2 stdout");
            else Check(Libc.posix_spawn_file_actions_addopen(fa, 1, Pin(request.StdoutPath), O_WRONLY | O_CREAT | O_APPEND | O_NOCTTY, 0x1a0 /*0640*/), "addopen stdout");
            if (given[2] >= 0) Check(Libc.posix_spawn_file_actions_adddup2(fa, given[2], 2), "adddup2 stderr");
            else Check(Libc.posix_spawn_file_actions_addopen(fa, 2, Pin(request.StderrPath), O_WRONLY | O_CREAT | O_APPEND | O_NOCTTY, 0x1a0), "addopen stderr");
            Check(Libc.posix_spawn_file_actions_adddup2(fa, statusW, 3), "adddup2 status");
            Check(Libc.posix_spawn_file_actions_adddup2(fa, goR, 4), "adddup2 go");
            if (userns is not null)
            {
                // fd 5: the handshake with the init's native constructor; fd 6: its root filesystem.
                (usernsSock, usernsChild) = Keeper.KeeperSocket.Pair();
                usernsSock = Sys.MoveAbove(usernsSock, 10); usernsChild = Sys.MoveAbove(usernsChild, 10);
                Check(Libc.posix_spawn_file_actions_adddup2(fa, usernsChild, UsernsHandshake.ChildFd), "adddup2 userns");
                if (!hold)
                {
                    rootfsFd = Sys.MoveAbove(IdmappedOverlay.Create(userns.LowerDirs, userns.UpperDir, userns.WorkDir,
                        IdmapNamespace(userns.Map, request.InitPath), userns.VolatileUpper), 10);
                    Check(Libc.posix_spawn_file_actions_adddup2(fa, rootfsFd, UsernsHandshake.RootfsFd), "adddup2 rootfs");
                }
            }
            Check(Libc.posix_spawn_file_actions_addclosefrom_np(fa, userns is null ? 5 : 7), "addclosefrom_np");

            byte* set = stackalloc byte[128];
            Libc.sigemptyset(set);
            Check(Libc.posix_spawnattr_setsigmask(attr, set), "setsigmask");
            Libc.sigfillset(set);
            Check(Libc.posix_spawnattr_setsigdefault(attr, set), "setsigdefault");
            Check(Libc.posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSID), "setflags");

            byte** argv = stackalloc byte*[3];
            // The path executed is the daemon's sealed copy (/proc/PID/fd/N, SealedBinary); argv[0]
            // stays the program's name, as ps shows it.
            argv[0] = Pin(InitArgv.Zero); argv[1] = Pin(request.SpecPath); argv[2] = null;
            byte** envp = stackalloc byte*[3];
            envp[0] = Pin(ChildPath); envp[1] = null; envp[2] = null;

            int namespaces = request.HostNetwork ? Namespaces & ~CLONE_NEWNET : Namespaces;
            // A zygote unshares its mount namespace when claimed: a copy taken now would miss every
            // mount the host makes while it waits (a volume's source mounted later, say).
            if (zygote) namespaces &= ~CLONE_NEWNS;
            if (userns is not null)
            {
                // The init's constructor makes them, after its user namespace (so that it owns them):
                // this thread unshares nothing (it only joins a given network namespace).
                int theirs = netnsFd >= 0 ? namespaces & ~CLONE_NEWNET : namespaces;
                envp[1] = Pin(hold ? "_GOCKER_USERNS=hold" : $"_GOCKER_USERNS=new:{theirs:x}");
                namespaces = 0;
            }
            var job = new SpawnJob
            {
                Namespaces = netnsFd >= 0 ? namespaces & ~CLONE_NEWNET : namespaces, NetnsFd = netnsFd,
                Path = (nint)Pin(request.InitPath), FileActions = (nint)fa, Attr = (nint)attr,
                Argv = (nint)argv, Envp = (nint)envp, Nice = ThreadNice.Base,
            };
            var thread = new Thread(job.Run, 256 * 1024) { IsBackground = true, Name = "gocker-spawn" };
            thread.Start();
            thread.Join();
            if (job.SetnsErrno != 0) throw new SyscallException("setns net", request.NetnsPath, job.SetnsErrno);
            if (job.UnshareErrno != 0) throw new SyscallException("unshare namespaces", null, job.UnshareErrno);
            if (job.SpawnErrno != 0) throw SpawnFailure(request, job.SpawnErrno);

            // The child holds its own copies now.
            Sys.Close(statusW); statusW = -1;
            Sys.Close(goR); goR = -1;

            int initPid = job.Pid;
            if (userns is not null)
            {
                Sys.Close(usernsChild); usernsChild = -1;
                Sys.Close(rootfsFd); rootfsFd = -1;
                try
                {
                    UsernsHandshake.MapAndGo(job.Pid, usernsSock, statusR, userns.Map, hold ? null : userns);
                    if (hold)
                    {
                        int nsfd = Sys.Open($"/proc/{job.Pid}/ns/user", O_RDONLY);
                        Sys.Close(usernsSock); usernsSock = -1; // EOF: the holder exits
                        return (null, nsfd);
                    }
                    // The intermediate forked the init (PID 1 of the new PID namespace, our child).
                    initPid = UsernsHandshake.ReadInitPid(usernsSock, statusR);
                }
                finally
                {
                    Sys.Close(usernsSock); usernsSock = -1;
                    if (job.Pid > 0) UsernsHandshake.Reap(job.Pid);
                }
            }

            // Safe by pid: it is our unreaped child, so the pid cannot have been reused yet.
            pidfd = Sys.PidfdOpen(initPid);
            var reg = reaper.Register(pidfd);
            pidfd = -1;
            var proc = new InitProcess(initPid, reaper, reg, statusR, goW);
            statusR = goW = -1;
            return (proc, -1);
        }
        finally
        {
            foreach (var h in pins) h.Free();
            if (faInit) Libc.posix_spawn_file_actions_destroy(fa);
            if (attrInit) Libc.posix_spawnattr_destroy(attr);
            NativeMemory.Free(fa);
            NativeMemory.Free(attr);
            Sys.Close(statusR); Sys.Close(statusW); Sys.Close(goR); Sys.Close(goW); Sys.Close(pidfd); Sys.Close(netnsFd);
            Sys.Close(usernsSock); Sys.Close(usernsChild); Sys.Close(rootfsFd);
            foreach (var fd in given) Sys.Close(fd);
        }
    }

    /// <summary>posix_spawn reports one errno for the exec and all file actions: name the likely culprit.</summary>
    static SyscallException SpawnFailure(SpawnRequest r, int errno)
    {
        if (!File.Exists(r.InitPath)) return new SyscallException("posix_spawn", SealedBinary.Describe(r.InitPath), errno);
        foreach (var path in new[] { r.StdoutPath, r.StderrPath })
            if (!Directory.Exists(Path.GetDirectoryName(path)))
                return new SyscallException("posix_spawn: open output", path, errno);
        if (r.StdinPath is not null && !File.Exists(r.StdinPath))
            return new SyscallException("posix_spawn: open input", r.StdinPath, errno);
        return new SyscallException("posix_spawn", SealedBinary.Describe(r.InitPath) + " (or its stdin/stdout/stderr files)", errno);
    }

    static void Absolute(string name, string path)
    {
        if (string.IsNullOrEmpty(path) || path[0] != '/')
            throw new ArgumentException($"spawn: {name} must be an absolute path: '{path}'");
    }

    static void Check(int err, string what)
    {
        if (err != 0) throw new SyscallException(what, null, err);
    }

    /// <summary>
    /// Runs on the throwaway thread. Only raw unmanaged calls through function pointers: no managed
    /// callee that could be JIT-compiled or tiered up there (the tiering worker thread could be created
    /// from this thread, which cannot create threads any more after unshare(CLONE_NEWPID)).
    /// </summary>
    sealed class SpawnJob
    {
        static readonly delegate* unmanaged<int, int> unshare;
        static readonly delegate* unmanaged<int, int, int> setns;
        static readonly delegate* unmanaged<int*, byte*, void*, void*, byte**, byte**, int> posixSpawn;
        static readonly delegate* unmanaged<int*> errnoLocation;
        static readonly delegate* unmanaged<int, int, int, int> setPriority;

        static SpawnJob()
        {
            var libc = NativeLibrary.Load("libc.so.6");
            unshare = (delegate* unmanaged<int, int>)NativeLibrary.GetExport(libc, "unshare");
            setns = (delegate* unmanaged<int, int, int>)NativeLibrary.GetExport(libc, "setns");
            posixSpawn = (delegate* unmanaged<int*, byte*, void*, void*, byte**, byte**, int>)NativeLibrary.GetExport(libc, "posix_spawn");
            errnoLocation = (delegate* unmanaged<int*>)NativeLibrary.GetExport(libc, "__errno_location");
            setPriority = (delegate* unmanaged<int, int, int, int>)NativeLibrary.GetExport(libc, "setpriority");
        }

        public int Namespaces, Nice;
        /// <summary>-1, or a network namespace to join before the other namespaces are unshared
        /// (the thread is discarded afterwards, so its netns change dies with it).</summary>
        public int NetnsFd = -1;
        public nint Path, FileActions, Attr, Argv, Envp;
        public int Pid, SetnsErrno, UnshareErrno, SpawnErrno;

        [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
        public void Run()
        {
            // This thread inherited the nice value of the (possibly deprioritised) container
            // dispatcher thread that made it; the init and the container's processes inherit this
            // thread's: set it back to the daemon's own (ThreadNice). PRIO_PROCESS, who 0 = this
            // thread only. A failure leaves it as it was (a priority, not a correctness matter).
            setPriority(0, 0, Nice);
            if (NetnsFd >= 0 && setns(NetnsFd, CLONE_NEWNET) != 0) { SetnsErrno = *errnoLocation(); return; }
            if (unshare(Namespaces) != 0) { UnshareErrno = *errnoLocation(); return; }
            int pid;
            SpawnErrno = posixSpawn(&pid, (byte*)Path, (void*)FileActions, (void*)Attr, (byte**)Argv, (byte**)Envp);
            Pid = pid;
        }
    }
}
