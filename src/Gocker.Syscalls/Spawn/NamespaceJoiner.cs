using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Gocker.Syscalls.Native;
using static Gocker.Syscalls.Native.Consts;

namespace Gocker.Syscalls.Spawn;

/// <summary>
/// Starts `gocker-init --exec SPEC` inside a running container (what `gocker exec` runs).
/// Protocol with the init, as for a run (see <see cref="ISpawner"/>), plus:
///   fd 0/1/2  the exec's stdio (pipes or a pty slave), given by the caller
///   fd 3      exec-status pipe; fd 4 go pipe (the daemon places the init in the container's
///             cgroup, then releases it: nothing of the user's runs outside the cgroup)
///   fd 5      a pidfd of the container's PID 1: the init joins its mount namespace with it
/// </summary>
public interface IExecSpawner
{
    IInitProcess SpawnInto(ExecSpawnRequest request);
}

/// <param name="TargetPid">The container's PID 1 (host pid); trusted only with its start time.</param>
/// <param name="StdinFd">Descriptors in the daemon for the exec's stdio; the caller keeps ownership.</param>
public sealed record ExecSpawnRequest(
    string InitPath, string SpecPath, int TargetPid, ulong TargetStartTime, int StdinFd, int StdoutFd, int StderrFd);

/// <summary>
/// On a fresh thread: setns(pidfd, IPC|UTS|NET|PID[|CGROUP]) into the container's PID 1 (by
/// pidfd: one call, atomic, and it cannot land in a process that reused the pid), then posix_spawn.
/// setns(PID) affects only the children, so the spawned init is a member of the container's PID
/// namespace. The mount namespace is joined last, by the init itself (unshare(CLONE_FS) + setns of
/// the pidfd on fd 5): that way the init binary is exec'd by a host path (the daemon's sealed memfd
/// copy, /proc/DAEMON_PID/fd/N: SealedBinary), never looked up inside the container, and the
/// container never sees a host path. The thread exits right after
/// (it is in the container's network/UTS/IPC namespaces and cannot create threads any more).
/// </summary>
public sealed unsafe class NamespaceJoiner : IExecSpawner
{
    const int CLONE_NEWCGROUP = 0x02000000;
    const int OpaqueSize = 512;
    const string ChildPath = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";

    readonly PidfdReaper reaper;

    public NamespaceJoiner(PidfdReaper reaper) => this.reaper = reaper;

    public static NamespaceJoiner Create()
    {
        var j = new NamespaceJoiner(PidfdReaper.Shared);
        RuntimeHelpers.RunClassConstructor(typeof(JoinJob).TypeHandle);
        RuntimeHelpers.PrepareMethod(typeof(JoinJob).GetMethod(nameof(JoinJob.Run))!.MethodHandle);
        return j;
    }

    public IInitProcess SpawnInto(ExecSpawnRequest r)
    {
        ArgumentNullException.ThrowIfNull(r);
        if (!r.InitPath.StartsWith('/') || !r.SpecPath.StartsWith('/'))
            throw new ArgumentException("exec: InitPath and SpecPath must be absolute");
        int target = -1, statusR = -1, statusW = -1, goR = -1, goW = -1, in0 = -1, out1 = -1, err2 = -1, pidfd = -1;
        var pins = new List<GCHandle>();
        void* fa = null, attr = null;
        bool faInit = false, attrInit = false;
        try
        {
            // pidfd first, then the start time: if the pid was reused, the pidfd names the newcomer
            // and the start time gives it away; from here on the pidfd cannot change its process.
            try { target = Sys.PidfdOpen(r.TargetPid); }
            catch (SyscallException) { throw new InvalidOperationException($"the container's process {r.TargetPid} is gone"); }
            if (ProcStat.Read(r.TargetPid) is not { } st || st.StartTime != r.TargetStartTime || st.IsZombie)
                throw new InvalidOperationException($"the container's process {r.TargetPid} is gone");
            target = Sys.MoveAbove(target, 10);
            int flags = CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET | CLONE_NEWPID;
            // Joining a cgroup namespace is only meaningful when the container has its own.
            if (!SameNamespace(r.TargetPid, "cgroup")) flags |= CLONE_NEWCGROUP;

            (statusR, statusW) = Sys.Pipe();
            (goR, goW) = Sys.Pipe();
            statusR = Sys.MoveAbove(statusR, 10); statusW = Sys.MoveAbove(statusW, 10);
            goR = Sys.MoveAbove(goR, 10); goW = Sys.MoveAbove(goW, 10);
            // Private copies above 10: dup2 onto 0..5 can then never clobber a source.
            in0 = Dup(r.StdinFd); out1 = Dup(r.StdoutFd); err2 = Dup(r.StderrFd);

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
            Check(Libc.posix_spawn_file_actions_adddup2(fa, in0, 0), "adddup2 stdin");
            Check(Libc.posix_spawn_file_actions_adddup2(fa, out1, 1), "adddup2 stdout");
            Check(Libc.posix_spawn_file_actions_adddup2(fa, err2, 2), "adddup2 stderr");
            Check(Libc.posix_spawn_file_actions_adddup2(fa, statusW, 3), "adddup2 status");
            Check(Libc.posix_spawn_file_actions_adddup2(fa, goR, 4), "adddup2 go");
            Check(Libc.posix_spawn_file_actions_adddup2(fa, target, 5), "adddup2 pidfd");
            Check(Libc.posix_spawn_file_actions_addclosefrom_np(fa, 6), "addclosefrom_np");

            byte* set = stackalloc byte[128];
            Libc.sigemptyset(set);
            Check(Libc.posix_spawnattr_setsigmask(attr, set), "setsigmask");
            Libc.sigfillset(set);
            Check(Libc.posix_spawnattr_setsigdefault(attr, set), "setsigdefault");
            Check(Libc.posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSID), "setflags");

            byte** argv = stackalloc byte*[4];
            argv[0] = Pin(InitArgv.Zero); argv[1] = Pin("--exec"); argv[2] = Pin(r.SpecPath); argv[3] = null;
            byte** envp = stackalloc byte*[3];
            envp[0] = Pin(ChildPath); envp[1] = null; envp[2] = null;
            // A remapped container (userns-remap): the init's native constructor joins its user
            // namespace through the pidfd on fd 5, first, while it is still single-threaded (the
            // kernel refuses setns(CLONE_NEWUSER) to a multi-threaded process, i.e. this thread).
            if (!SameNamespace(r.TargetPid, "user")) envp[1] = Pin("_GOCKER_USERNS=join");

            var job = new JoinJob
            {
                Pidfd = target, Flags = flags, Path = (nint)Pin(r.InitPath), FileActions = (nint)fa, Attr = (nint)attr,
                Argv = (nint)argv, Envp = (nint)envp, Nice = ThreadNice.Base,
            };
            var thread = new Thread(job.Run, 256 * 1024) { IsBackground = true, Name = "gocker-exec" };
            thread.Start();
            thread.Join();
            if (job.SetnsErrno == ESRCH) throw new InvalidOperationException($"the container's process {r.TargetPid} is gone");
            if (job.SetnsErrno != 0) throw new SyscallException("setns into the container", $"/proc/{r.TargetPid}/ns", job.SetnsErrno);
            if (job.SpawnErrno != 0) throw new SyscallException("posix_spawn", SealedBinary.Describe(r.InitPath), job.SpawnErrno);

            Sys.Close(statusW); statusW = -1;
            Sys.Close(goR); goR = -1;
            pidfd = Sys.PidfdOpen(job.Pid); // our unreaped child: its pid cannot have been reused
            var reg = reaper.Register(pidfd);
            pidfd = -1;
            var proc = new InitProcess(job.Pid, reaper, reg, statusR, goW);
            statusR = goW = -1;
            return proc;
        }
        finally
        {
            foreach (var h in pins) h.Free();
            if (faInit) Libc.posix_spawn_file_actions_destroy(fa);
            if (attrInit) Libc.posix_spawnattr_destroy(attr);
            NativeMemory.Free(fa);
            NativeMemory.Free(attr);
            foreach (var fd in new[] { target, statusR, statusW, goR, goW, in0, out1, err2, pidfd }) Sys.Close(fd);
        }
    }

    static int Dup(int fd)
    {
        int n = Libc.fcntl(fd, F_DUPFD_CLOEXEC, 10);
        return n >= 0 ? n : throw new SyscallException("fcntl F_DUPFD_CLOEXEC", fd.ToString(System.Globalization.CultureInfo.InvariantCulture), Libc.Errno);
    }

    static bool SameNamespace(int pid, string ns)
    {
        try
        {
            return Sys.TryStat(AT_FDCWD, $"/proc/{pid}/ns/{ns}", out var d1, out var i1, out _, follow: true)
                   && Sys.TryStat(AT_FDCWD, $"/proc/self/ns/{ns}", out var d2, out var i2, out _, follow: true)
                   && d1 == d2 && i1 == i2;
        }
        catch (SyscallException) { return false; }
    }

    static void Check(int err, string what)
    {
        if (err != 0) throw new SyscallException(what, null, err);
    }

    /// <summary>Runs on the throwaway thread: raw unmanaged calls only (after setns(PID) the thread
    /// cannot create threads, so nothing lazy such as JIT or tiering may happen there).</summary>
    sealed class JoinJob
    {
        static readonly delegate* unmanaged<int, int, int> setns;
        static readonly delegate* unmanaged<int*, byte*, void*, void*, byte**, byte**, int> posixSpawn;
        static readonly delegate* unmanaged<int*> errnoLocation;
        static readonly delegate* unmanaged<int, int, int, int> setPriority;

        static JoinJob()
        {
            var libc = NativeLibrary.Load("libc.so.6");
            setns = (delegate* unmanaged<int, int, int>)NativeLibrary.GetExport(libc, "setns");
            posixSpawn = (delegate* unmanaged<int*, byte*, void*, void*, byte**, byte**, int>)NativeLibrary.GetExport(libc, "posix_spawn");
            errnoLocation = (delegate* unmanaged<int*>)NativeLibrary.GetExport(libc, "__errno_location");
            setPriority = (delegate* unmanaged<int, int, int, int>)NativeLibrary.GetExport(libc, "setpriority");
        }

        public int Pidfd, Flags, Nice;
        public nint Path, FileActions, Attr, Argv, Envp;
        public int Pid, SetnsErrno, SpawnErrno;

        [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
        public void Run()
        {
            // Back to the daemon's own nice value (see ThreadNice): the exec'd process must not
            // inherit a deprioritised container dispatcher thread's. This thread only; a failure
            // leaves it as it was.
            setPriority(0, 0, Nice);
            if (setns(Pidfd, Flags) != 0) { SetnsErrno = *errnoLocation(); return; }
            int pid;
            SpawnErrno = posixSpawn(&pid, (byte*)Path, (void*)FileActions, (void*)Attr, (byte**)Argv, (byte**)Envp);
            Pid = pid;
        }
    }
}
