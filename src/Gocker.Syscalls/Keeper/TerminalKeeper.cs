using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.InteropServices;
using Gocker.Syscalls.Cgroups;
using Gocker.Syscalls.Native;
using Gocker.Syscalls.Spawn;
using static Gocker.Syscalls.Native.Consts;

namespace Gocker.Syscalls.Keeper;

/// <summary>
/// The daemon's side of the terminal keeper: one small process per exec root (`gocker-init --keeper
/// SOCKET`) that holds a copy of every running -t container's pty master, so that the terminal
/// outlives a daemon crash or restart (when the last master descriptor closes the kernel hangs the
/// terminal up and the shell dies of SIGHUP). No per-container process: one keeper for all.
///
/// - Started lazily by the first Hold: the daemon binds the listening socket itself (so the keeper
///   is reachable the moment it exists) and posix_spawns the keeper with it as fd 3 and nothing
///   else (/dev/null on 0-2), in a session of its own, in the cgroup CGROUP_PARENT/gocker-keeper
///   (outside the daemon's cgroup, like the containers: stopping the daemon's service leaves it).
/// - Hold passes the master over SCM_RIGHTS; the keeper answers the number it holds it as.
/// - A later daemon takes it back with pidfd_getfd (no cooperation of the keeper needed), after
///   checking the keeper's pid against its start time and the descriptor against the pty index.
/// - Release closes the keeper's copy (a run's teardown). The keeper exits once it holds nothing;
///   it also drops a terminal by itself when every slave is closed (the run is over).
/// Thread-safe: every exchange with the keeper is serialized.
/// </summary>
public sealed unsafe class TerminalKeeper
{
    public const string CgroupName = "gocker-keeper";
    static readonly ConcurrentDictionary<string, TerminalKeeper> byRoot = new(StringComparer.Ordinal);

    readonly string _initPath;
    readonly ICgroupManager? _cgroups;
    readonly string _cgroupParent;
    readonly object _gate = new();
    readonly byte[] _buf = new byte[KeeperSocket.MaxMessage];
    int _conn = -1;
    int _pid;
    ulong _startTime;
    /// <summary>Set when this daemon spawned the keeper (our child: the shared reaper reaps it).</summary>
    PidfdReaper.Registration? _child;

    public string SocketPath { get; }

    TerminalKeeper(string socketPath, string initPath, ICgroupManager? cgroups, string cgroupParent)
    {
        SocketPath = socketPath;
        _initPath = initPath;
        _cgroups = cgroups;
        _cgroupParent = cgroupParent;
    }

    /// <summary>The keeper of a daemon's exec root (one per exec root: test daemons never share one).</summary>
    public static TerminalKeeper For(string execRoot, string initPath, ICgroupManager? cgroups, string cgroupParent) =>
        byRoot.GetOrAdd(Path.Combine(execRoot, "keeper.sock"), p => new TerminalKeeper(p, initPath, cgroups, cgroupParent));

    /// <summary>Hands a copy of master to the keeper (starting it if none runs). Throws when that fails:
    /// the caller goes on without (the terminal then dies with the daemon, as without a keeper).</summary>
    public KeptTerminal Hold(string tag, int master)
    {
        if (!KeeperSocket.ValidTag(tag)) throw new ArgumentException($"keeper tag '{tag}' is not [A-Za-z0-9_.-]+");
        int pts = KeeperSocket.PtyIndex(master);
        if (pts < 0) throw new SyscallException("ioctl TIOCGPTN", "terminal keeper", Libc.Errno);
        lock (_gate)
        {
            string? last = null;
            // Twice: the keeper may have exited (it held nothing any more) just before this request.
            for (int attempt = 0; attempt < 2; attempt++)
            {
                if (!EnsureConnected(start: true, out last)) continue;
                var reply = Exchange($"HOLD {tag}", master);
                if (reply is null) { last = "the keeper closed the connection"; Disconnected(); continue; }
                if (reply.StartsWith("OK ", StringComparison.Ordinal) && int.TryParse(reply.AsSpan(3), NumberStyles.None, CultureInfo.InvariantCulture, out var fd))
                    return new KeptTerminal { KeeperPid = _pid, KeeperStartTime = _startTime, Fd = fd, Pts = pts };
                throw new SyscallException("terminal keeper HOLD", SocketPath, reply);
            }
            throw new SyscallException("terminal keeper", SocketPath, last ?? "unreachable");
        }
    }

    /// <summary>
    /// Hands copies of a non-tty run's stdout and stderr pipe read ends to the keeper (starting it if
    /// none runs), in one message (held as TAG.1 and TAG.2), so that the pipes keep a reader (no SIGPIPE) while no daemon
    /// runs and a later daemon can take them back. Throws when that fails (what was held is released).
    /// </summary>
    public KeptPipes HoldPipes(string tag, int stdoutRead, int stderrRead)
    {
        if (!KeeperSocket.ValidTag(tag + ".1")) throw new ArgumentException($"keeper tag '{tag}' is not [A-Za-z0-9_.-]+");
        ulong outIno = PipeInode(stdoutRead), errIno = PipeInode(stderrRead);
        lock (_gate)
        {
            string? last = null;
            // Twice: the keeper may have exited (it held nothing any more) just before this request.
            for (int attempt = 0; attempt < 2; attempt++)
            {
                if (!EnsureConnected(start: true, out last)) continue;
                if (!KeeperSocket.Send(_conn, $"HOLDPIPES {tag}", [stdoutRead, stderrRead])) { last = "the keeper closed the connection"; Disconnected(); continue; }
                string? reply = null;
                if (KeeperSocket.WaitReadable(_conn, 5000)) reply = KeeperSocket.Receive(_conn, _buf, out var fds) is { } r ? CloseAll(fds, r) : null;
                if (reply is null) { last = "the keeper closed the connection"; Disconnected(); continue; }
                var parts = reply.Split(' ');
                if (parts is ["OK", var o, var e]
                    && int.TryParse(o, NumberStyles.None, CultureInfo.InvariantCulture, out var outFd)
                    && int.TryParse(e, NumberStyles.None, CultureInfo.InvariantCulture, out var errFd))
                    return new KeptPipes
                    {
                        KeeperPid = _pid, KeeperStartTime = _startTime,
                        StdoutFd = outFd, StderrFd = errFd, StdoutInode = outIno, StderrInode = errIno,
                    };
                throw new SyscallException("keeper HOLDPIPES", SocketPath, reply);
            }
            throw new SyscallException("keeper", SocketPath, last ?? "unreachable");
        }
    }

    /// <summary>
    /// After a daemon restart, for a run whose record does not say where its pipes are (the daemon
    /// died between the hand-off and the record's write): the running keeper's descriptors held under
    /// TAG.1 and TAG.2, if any (inodes unknown: TakeBackPipe then checks only that each is a pipe).
    /// </summary>
    public KeptPipes? FindPipes(string tag)
    {
        var held = List();
        int o = -1, e = -1;
        foreach (var (fd, t) in held)
        {
            if (t == tag + ".1") o = fd;
            else if (t == tag + ".2") e = fd;
        }
        if (o < 0 || e < 0) return null;
        lock (_gate) return _pid > 0 ? new KeptPipes { KeeperPid = _pid, KeeperStartTime = _startTime, StdoutFd = o, StderrFd = e } : null;
    }

    /// <summary>Tells the keeper to close its copies of a run's pipes (TAG.1, TAG.2). Best effort, as Release.</summary>
    public string? ReleasePipes(KeptPipes kept, string tag)
    {
        var first = ReleaseFd(kept.KeeperPid, kept.KeeperStartTime, kept.StdoutFd, tag + ".1");
        return ReleaseFd(kept.KeeperPid, kept.KeeperStartTime, kept.StderrFd, tag + ".2") ?? first;
    }

    /// <summary>
    /// After a daemon restart: the recorded stdout (stderr: false) pipe read end, taken from the keeper
    /// with pidfd_getfd (CLOEXEC), checked to be that pipe by its inode (0: any pipe, see FindPipes).
    /// -1 with the reason otherwise.
    /// </summary>
    public static int TakeBackPipe(KeptPipes kept, bool stdout, out string why)
    {
        int fd = GetFd(kept.KeeperPid, kept.KeeperStartTime, stdout ? kept.StdoutFd : kept.StderrFd, out why);
        if (fd < 0) return -1;
        var expected = stdout ? kept.StdoutInode : kept.StderrInode;
        if (!Sys.TryStat(fd, "", out _, out var ino, out var mode) || (mode & 0xF000) != 0x1000 || (expected != 0 && ino != expected))
        {
            Sys.Close(fd);
            why = $"fd {(stdout ? kept.StdoutFd : kept.StderrFd)} of the keeper (pid {kept.KeeperPid}) is no longer pipe:[{expected}]";
            return -1;
        }
        return fd;
    }

    /// <summary>The inode of a pipe (what /proc/PID/fd shows as pipe:[INODE]).</summary>
    public static ulong PipeInode(int fd) =>
        Sys.TryStat(fd, "", out _, out var ino, out var mode) && (mode & 0xF000) == 0x1000 ? ino
            : throw new SyscallException("fstat", $"fd {fd}", "not a pipe");

    /// <summary>Tells the keeper to close its copy (the run is over). Best effort: a keeper that is gone
    /// or is another process than the recorded one holds nothing of this run. Returns an error or null.</summary>
    public string? Release(KeptTerminal kept, string tag) => ReleaseFd(kept.KeeperPid, kept.KeeperStartTime, kept.Fd, tag);

    string? ReleaseFd(int keeperPid, ulong keeperStartTime, int keptFd, string tag)
    {
        lock (_gate)
        {
            if (!EnsureConnected(start: false, out var why)) { RemoveCgroupIfIdle(); return null; }
            if (keeperPid != _pid || keeperStartTime != _startTime) return null;
            var reply = Exchange(string.Create(CultureInfo.InvariantCulture, $"CLOSE {keptFd} {tag}"), -1);
            if (reply is null)
            {
                // Gone (it exits once it holds nothing and no daemon is connected).
                AwaitKeeperExit();
                return null;
            }
            // "OK 0": it holds nothing now, and stays for this daemon's next runs while we are connected.
            return reply.StartsWith("OK ", StringComparison.Ordinal) ? null : reply;
        }
    }

    /// <summary>What the running keeper holds (fd, tag); empty when none runs. For checks and tests.</summary>
    public IReadOnlyList<(int Fd, string Tag)> List()
    {
        lock (_gate)
        {
            if (!EnsureConnected(start: false, out _)) return [];
            var reply = Exchange("LIST", -1);
            if (reply is null || !reply.StartsWith("OK ", StringComparison.Ordinal)) return [];
            var list = new List<(int, string)>();
            foreach (var line in reply.Split('\n').Skip(1))
            {
                var parts = line.Split(' ');
                if (parts.Length == 2 && int.TryParse(parts[0], CultureInfo.InvariantCulture, out var fd)) list.Add((fd, parts[1]));
            }
            return list;
        }
    }

    /// <summary>
    /// After a daemon restart: a descriptor of the recorded pty master, taken from the keeper with
    /// pidfd_getfd (CLOEXEC). -1 with the reason when the keeper is gone, is another process (a reused
    /// pid), or no longer holds that terminal.
    /// </summary>
    public static int TakeBack(KeptTerminal kept, out string why)
    {
        int fd = GetFd(kept.KeeperPid, kept.KeeperStartTime, kept.Fd, out why);
        if (fd < 0) return -1;
        if (KeeperSocket.PtyIndex(fd) != kept.Pts)
        {
            Sys.Close(fd);
            why = $"fd {kept.Fd} of the terminal keeper (pid {kept.KeeperPid}) is no longer /dev/pts/{kept.Pts}'s master";
            return -1;
        }
        return fd;
    }

    /// <summary>pidfd_getfd of keptFd in the recorded keeper, once its pid is checked against its start time.</summary>
    static int GetFd(int keeperPid, ulong keeperStartTime, int keptFd, out string why)
    {
        var p = keeperPid.ToString(CultureInfo.InvariantCulture);
        if (keeperPid <= 0) { why = "no keeper recorded"; return -1; }
        long pidfd = Libc.syscall(SYS_pidfd_open, keeperPid, 0, 0, 0, 0);
        if (pidfd < 0) { why = $"the keeper (pid {p}) is gone"; return -1; }
        try
        {
            // pidfd first, then the start time: if it matches now, the pidfd is that keeper.
            if (ProcStat.Read(keeperPid) is not { } st || st.StartTime != keeperStartTime)
            {
                why = $"the keeper (pid {p}) is gone: that pid is another process now";
                return -1;
            }
            long fd = Libc.syscall(KeeperNative.SYS_pidfd_getfd, (nint)pidfd, keptFd, 0, 0, 0);
            if (fd < 0) { why = new SyscallException("pidfd_getfd", $"fd {keptFd} of keeper {p}", Libc.Errno).Message; return -1; }
            why = "";
            return (int)fd;
        }
        finally { Sys.Close((int)pidfd); }
    }

    /// <summary>Closes this daemon's connection: a keeper that holds nothing then exits (what a daemon's
    /// exit does anyway; for a daemon that stays but is done with it, and tests).</summary>
    public void Disconnect()
    {
        lock (_gate) if (_conn >= 0) Disconnected();
    }

    /// <summary>At a graceful daemon stop: a keeper that holds nothing is let go, waited for (bounded)
    /// and its cgroup removed, so a stopped daemon leaves no keeper cgroup behind. One that holds
    /// running containers' terminals or pipes stays for the next daemon.</summary>
    public void DaemonStopping()
    {
        lock (_gate)
        {
            if (!EnsureConnected(start: false, out _)) { RemoveCgroupIfIdle(); return; }
            var held = Exchange("LIST", -1);
            if (held == "OK 0") AwaitKeeperExit();
            else Disconnected();
        }
    }

    /// <summary>At daemon start: a keeper cgroup left by a keeper that exited while no daemon ran is removed.</summary>
    public void CleanupIfIdle()
    {
        lock (_gate)
            if (!EnsureConnected(start: false, out _)) RemoveCgroupIfIdle();
    }

    // ---- connection -------------------------------------------------------------------------

    bool EnsureConnected(bool start, out string? why)
    {
        why = null;
        if (_conn >= 0) return true;
        int c = KeeperSocket.Connect(SocketPath);
        if (c < 0 && start)
        {
            try { Spawn(); }
            catch (Exception ex) { why = ex.Message; return false; }
            c = KeeperSocket.Connect(SocketPath);
        }
        if (c < 0) { why = new SyscallException("connect", SocketPath, -c).Message; return false; }
        // Its pid comes from the keeper itself: SO_PEERCRED would name whoever called listen(), and
        // that is the daemon that started it. Only root can reach the socket (0600, in the exec root).
        _conn = c;
        var reply = Exchange("PID", -1);
        if (reply is null || !reply.StartsWith("OK ", StringComparison.Ordinal)
            || !int.TryParse(reply.AsSpan(3), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
            || ProcStat.Read(pid) is not { } stat)
        {
            Disconnected();
            why = "the keeper did not say its pid";
            return false;
        }
        _pid = pid;
        _startTime = stat.StartTime;
        return true;
    }

    string? Exchange(string request, int passFd)
    {
        if (!KeeperSocket.Send(_conn, request, passFd)) return null;
        // Bounded: the keeper answers at once; a stuck one must not hang a container's start.
        if (!KeeperSocket.WaitReadable(_conn, 5000)) { Disconnected(); return null; }
        return KeeperSocket.Receive(_conn, _buf, out var fds) is { } reply ? CloseAll(fds, reply) : null;
    }

    static string CloseAll(List<int> fds, string reply)
    {
        foreach (var fd in fds) Sys.Close(fd);
        return reply;
    }

    void Disconnected()
    {
        Sys.Close(_conn);
        _conn = -1;
    }

    /// <summary>The keeper said it holds nothing (it exits) or went away: wait for it (bounded), then
    /// remove its cgroup, so that no trace of it is left when no -t container runs.</summary>
    void AwaitKeeperExit()
    {
        Disconnected();
        if (_child is { } child)
        {
            child.Task.Wait(TimeSpan.FromSeconds(2));
            // Its pidfd is closed once it is reaped (a keeper per burst of runs: it must not pile up).
            PidfdReaper.Shared.Detach(child);
        }
        else if (_pid > 0)
        {
            long pidfd = Libc.syscall(SYS_pidfd_open, _pid, 0, 0, 0, 0);
            if (pidfd >= 0)
            {
                if (ProcStat.Read(_pid) is { } st && st.StartTime == _startTime) KeeperSocket.WaitReadable((int)pidfd, 2000);
                Sys.Close((int)pidfd);
            }
        }
        _child = null;
        _pid = 0;
        _startTime = 0;
        RemoveCgroupIfIdle();
    }

    void RemoveCgroupIfIdle()
    {
        if (_cgroups is null || !_cgroups.Exists(_cgroupParent, CgroupName)) return;
        try
        {
            var cg = _cgroups.Open(_cgroupParent, CgroupName);
            if (cg.Processes().Count == 0) cg.Remove();
        }
        catch (Exception) { /* a keeper is still in it: it stays */ }
    }

    void Spawn()
    {
        int listen = KeeperSocket.Listen(SocketPath);
        void* fa = NativeMemory.AllocZeroed(512), attr = NativeMemory.AllocZeroed(512);
        var pins = new List<GCHandle>();
        bool faInit = false, attrInit = false;
        try
        {
            byte* Pin(string s)
            {
                var h = GCHandle.Alloc(Sys.Z(s), GCHandleType.Pinned);
                pins.Add(h);
                return (byte*)h.AddrOfPinnedObject();
            }
            listen = Sys.MoveAbove(listen, 10); // so the dup2 onto 3 cannot clobber it
            Check(Libc.posix_spawn_file_actions_init(fa), "posix_spawn_file_actions_init"); faInit = true;
            Check(Libc.posix_spawnattr_init(attr), "posix_spawnattr_init"); attrInit = true;
            var devnull = Pin("/dev/null");
            Check(Libc.posix_spawn_file_actions_addopen(fa, 0, devnull, O_RDONLY | O_NOCTTY, 0), "addopen stdin");
            Check(Libc.posix_spawn_file_actions_addopen(fa, 1, devnull, O_WRONLY | O_NOCTTY, 0), "addopen stdout");
            Check(Libc.posix_spawn_file_actions_addopen(fa, 2, devnull, O_WRONLY | O_NOCTTY, 0), "addopen stderr");
            Check(Libc.posix_spawn_file_actions_adddup2(fa, listen, 3), "adddup2 listen");
            // Nothing else of the daemon's: no other container's terminal, no API socket.
            Check(Libc.posix_spawn_file_actions_addclosefrom_np(fa, 4), "addclosefrom_np");
            byte* set = stackalloc byte[128];
            Libc.sigemptyset(set);
            Check(Libc.posix_spawnattr_setsigmask(attr, set), "setsigmask");
            Libc.sigfillset(set);
            Check(Libc.posix_spawnattr_setsigdefault(attr, set), "setsigdefault");
            Check(Libc.posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSID), "setflags");
            byte** argv = stackalloc byte*[4];
            argv[0] = Pin(InitArgv.Zero); argv[1] = Pin("--keeper"); argv[2] = Pin(SocketPath); argv[3] = null;
            byte** envp = stackalloc byte*[3];
            // A small heap: the keeper allocates almost nothing (its RSS is its memory cost).
            envp[0] = Pin("PATH=/usr/sbin:/usr/bin:/sbin:/bin"); envp[1] = Pin("DOTNET_GCgen0size=0x40000"); envp[2] = null;
            int pid;
            // The daemon's sealed copy of gocker-init (SealedBinary): the keeper outlives the daemon,
            // and it must not pin (or expose through its /proc/PID/exe) the host's file.
            int err = Libc.posix_spawn(&pid, Pin(_initPath), fa, attr, argv, envp);
            if (err != 0) throw new SyscallException("posix_spawn", SealedBinary.Describe(_initPath) + " --keeper", err);
            // A keeper that exited by itself (its runs were over) before this one was needed.
            if (_child is { } previous) PidfdReaper.Shared.Detach(previous);
            _child = PidfdReaper.Shared.Register(Sys.PidfdOpen(pid));
            // Out of the daemon's cgroup, like the containers: a service stop never takes it along.
            if (_cgroups is not null)
            {
                try
                {
                    var cg = _cgroups.Exists(_cgroupParent, CgroupName) ? _cgroups.Open(_cgroupParent, CgroupName)
                        : _cgroups.Create(_cgroupParent, CgroupName, CgroupLimits.None);
                    cg.AddProcess(pid);
                }
                catch (Exception) { /* it still works from the daemon's cgroup */ }
            }
        }
        finally
        {
            foreach (var h in pins) h.Free();
            if (faInit) Libc.posix_spawn_file_actions_destroy(fa);
            if (attrInit) Libc.posix_spawnattr_destroy(attr);
            NativeMemory.Free(fa);
            NativeMemory.Free(attr);
            Sys.Close(listen);
        }
    }

    static void Check(int err, string what)
    {
        if (err != 0) throw new SyscallException(what, null, err);
    }
}
