using Gocker.Syscalls;
using Gocker.Syscalls.Native;
using Gocker.Syscalls.Security;
using Gocker.Syscalls.Spawn;
using static Gocker.Syscalls.Native.Consts;

namespace Gocker.Init;

/// <summary>
/// `gocker-init --exec SPEC`: spawned by the daemon already inside the container's IPC, UTS, net,
/// cgroup and PID namespaces (see NamespaceJoiner). Joins the mount namespace (fd 5, a pidfd of
/// the container's PID 1), resolves the user, enters the working dir, drops capabilities, waits
/// until the daemon has put it in the container's cgroup, and execs the command.
/// </summary>
static unsafe class ExecMode
{
    const int StatusFd = 3, GoFd = 4, PidFd = 5;
    const int CLONE_FS = 0x200, PR_SET_DUMPABLE = 4;
    const long SYS_setns = 308;
    const nuint TIOCSCTTY = 0x540E;

    public static int Run(string specPath)
    {
        string step = "non-dumpable";
        try
        {
            // First: while this daemon binary runs inside the container, no container process may
            // open /proc/<this pid>/exe or read its memory. Non-dumpable makes those /proc entries
            // root-owned and ptrace-denied; execve of the user's command resets it. (That reset is
            // why the daemon runs a sealed memfd copy of this binary, never the host's file: a
            // command that re-executes /proc/self/exe is dumpable again; CVE-2019-5736, SealedBinary.)
            if (Libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) throw new SyscallException("prctl PR_SET_DUMPABLE", null, Libc.Errno);

            step = "read-spec";
            var spec = ExecSpecJson.Deserialize(File.ReadAllBytes(specPath));

            // Wait for "go" (we are in the container's cgroup then) before any step that can fail on
            // the user's input (user, workdir): a failure is then always reported through Release,
            // never by an exit that races the daemon's cgroup placement of this process.
            step = "wait-go";
            if (!WaitGo()) return 125;

            step = "join-mount-namespace";
            // setns(mnt) refuses a thread that shares its fs struct (root, cwd) with other threads.
            if (Libc.unshare(CLONE_FS) != 0) throw new SyscallException("unshare CLONE_FS", null, Libc.Errno);
            if (Libc.syscall(SYS_setns, PidFd, CLONE_NEWNS, 0, 0, 0) != 0)
                throw new SyscallException("setns mnt", "the container's PID 1", Libc.Errno);
            Libc.close(PidFd);

            step = "user"; var user = Users.Resolve(spec.User);
            step = "group-add"; user = Hardening.WithGroups(user, spec.GroupAdd, Users.ReadEtc);
            step = "workdir";
            if (string.IsNullOrEmpty(spec.WorkingDir) || spec.WorkingDir[0] != '/')
                throw new InitFailure(125, $"working dir must be absolute: '{spec.WorkingDir}'");
            fixed (byte* p = Sys.Z(spec.WorkingDir))
                if (Libc.chdir(p) != 0) throw new InitFailure(126, $"chdir to {spec.WorkingDir}: {ErrnoText.Describe(Libc.Errno)}");
            if (spec.Tty)
            {
                step = "controlling-tty";
                // posix_spawn made us a session leader (POSIX_SPAWN_SETSID): take fd 0 as the terminal.
                if (Libc.ioctl(0, TIOCSCTTY, null) != 0) throw new SyscallException("ioctl TIOCSCTTY", null, Libc.Errno);
            }
            // Seccomp ordered as in Init (and runc): last with no_new_privs, else while CAP_SYS_ADMIN is held.
            if (spec.NoNewPrivileges) { step = "no-new-privileges"; SeccompFilter.SetNoNewPrivileges(); }
            else if (spec.Seccomp is { } early) { step = "seccomp"; SeccompFilter.Install(early); }
            var caps = spec.Capabilities ?? Capabilities.DockerDefault;
            step = "capabilities"; Capabilities.DropBounding(caps);
            step = "set-user"; Users.Apply(user);
            step = "capabilities"; Capabilities.SetFinal(caps, root: user.Uid == 0);

            step = "exec";
            var command = Exec.Prepare(spec.Args, Users.WithHome(spec.Env, user));
            if (spec.NoNewPrivileges && spec.Seccomp is { } late) { step = "seccomp"; SeccompFilter.Install(late); step = "exec"; }
            Exec.Execve(command);
            return 125;
        }
        catch (InitFailure e) { return Report(e.Code, step, e.Message); }
        catch (Exception e) { return Report(125, step, e.Message); }
    }

    static bool WaitGo()
    {
        byte b;
        nint n;
        do n = Libc.read(GoFd, &b, 1); while (n < 0 && Libc.Errno == EINTR);
        if (n < 0) throw new SyscallException("read go pipe", null, Libc.Errno);
        Libc.close(GoFd);
        return n == 1;
    }

    static int Report(int code, string step, string message)
    {
        Sys.WriteAll(StatusFd, System.Text.Encoding.UTF8.GetBytes($"{code} {step}: {message.Replace('\n', ' ')}\n"));
        return code;
    }
}
