using Gocker.Syscalls;
using Gocker.Syscalls.Mounts;
using Gocker.Syscalls.Native;
using Gocker.Syscalls.Security;
using Gocker.Syscalls.Spawn;
using static Gocker.Syscalls.Native.Consts;

namespace Gocker.Init;

/// <summary>The init's steps, in order. Each failure is reported as "CODE STEP: MESSAGE" on fd 3.</summary>
static class Init
{
    const int StatusFd = 3, GoFd = 4;

    public static int Run(string[] args)
    {
        string step = "read-spec";
        try
        {
            if (args.Length != 1) throw new InitFailure(125, "usage: gocker-init SPEC_PATH");
            return Run(args[0]);
        }
        catch (InitFailure e) { return Report(e.Code, step, e.Message); }
    }

    /// <param name="loopbackReady">The zygote already brought up "lo" of the namespace we run in.</param>
    public static int Run(string specPath, bool loopbackReady = false)
    {
        string step = "read-spec";
        try
        {
            var spec = InitSpecReader.Read(ReadSpec(specPath));
            Libc.umask(0); // modes below are meant literally; the command gets 022 back before exec

            // The host paths we mount from, opened now: a remapped init is about to become the
            // container's root, which may not walk them (the daemon's run dir is private to root).
            var sources = new int[spec.Volumes.Length];
            for (int i = 0; i < sources.Length; i++)
            {
                step = "volume " + spec.Volumes[i].Destination;
                sources[i] = spec.Volumes[i].Source is ['/', ..] src ? Sys.Open(src, O_PATH) : -1;
            }
            int rootTarget = -1;
            if (spec.Remapped)
            {
                rootTarget = Sys.Open(spec.RootfsDir, O_PATH | O_DIRECTORY);
                // The native constructor left us in our user namespace with the host's (unmapped)
                // credentials and every capability in it: become the mapped root before creating anything.
                step = "userns-root"; Userns.BecomeRoot();
            }

            // First, before anything is mounted: nothing we do may propagate back to the host.
            step = "mount-private";
            Sys.Mount(null, "/", null, MS_REC | MS_PRIVATE, null, "private");

            step = "mount-overlay";
            // An experiment asked for this failure (gocker debug inject-fault CONTAINER mount).
            if (spec.InjectMountFault) throw new InitFailure(125, "injected fault: mount (gocker debug inject-fault)");
            int root;
            if (spec.Remapped)
            {
                // The daemon made the overlay from idmapped layers (IdmappedOverlay): attach it.
                Userns.AttachRootfs(rootTarget, spec.RootfsDir);
                root = Userns.RootfsFd;
            }
            else
            {
                Overlay.Mount(spec.RootfsDir, spec.LowerDirs, spec.UpperDir, spec.WorkDir, spec.VolatileUpper);
                root = Sys.Open(spec.RootfsDir, O_PATH | O_DIRECTORY);
            }
            if (!Overlay.IsOverlay(root)) throw new InitFailure(125, $"{spec.RootfsDir} is not an overlay after mounting it");

            step = "mount-proc"; ContainerMounts.Proc(root);
            step = "mount-dev"; ContainerMounts.Dev(root, spec.ShmSize, bindNodes: spec.Remapped);
            if (spec.Tty)
            {
                // The spawner made us a session leader (POSIX_SPAWN_SETSID); the command we exec keeps
                // this controlling terminal, so Ctrl-C on it signals the foreground process group.
                step = "console"; ContainerMounts.Console(root);
                step = "controlling-terminal"; Gocker.Syscalls.Terminal.Pty.MakeControllingTerminal(0);
            }
            step = "mount-sys";
            if (spec.Remapped) ContainerMounts.SysfsInUserns(root);
            else ContainerMounts.Sysfs(root, writable: spec.Privileged);
            // Before /proc/sys turns read-only: the container's own namespaces' values.
            foreach (var sc in spec.Sysctls ?? [])
            {
                step = "sysctl " + sc.Key;
                ContainerMounts.Sysctl(root, sc);
            }
            step = "mask-paths"; if (!spec.UnmaskedPaths) ContainerMounts.ProtectKernelPaths(root);
            for (int i = 0; i < spec.Volumes.Length; i++)
            {
                step = "volume " + spec.Volumes[i].Destination;
                ContainerMounts.Volume(root, spec.Volumes[i], sources[i]);
                Sys.Close(sources[i]);
            }
            foreach (var t in spec.Tmpfs ?? [])
            {
                step = "tmpfs " + t.Destination;
                ContainerMounts.Tmpfs(root, t);
            }
            foreach (var d in spec.Devices ?? [])
            {
                step = "device " + d.Path;
                ContainerMounts.Device(root, d, replaceExisting: !spec.Privileged, bind: spec.Remapped);
            }
            // Last, once every mount point and node exists in the overlay.
            if (spec.ReadonlyRootfs)
            {
                // The working dir is created if missing (below, after pivot_root): not on a read-only root.
                step = "workdir"; Sys.Close(InRoot.OpenOrCreate(root, spec.WorkingDir));
                step = "readonly-rootfs"; ContainerMounts.ReadOnlyRoot(root);
            }
            // A remapped init has no rights over them in the host's user namespace: the daemon set
            // both on the process before it forked us (UsernsHandshake).
            if (!spec.Remapped)
            {
                step = "rlimits"; if (spec.Rlimits is { } rl) Hardening.ApplyRlimits(rl);
                step = "oom-score-adj"; if (spec.OomScoreAdj is { } oom) Hardening.SetOomScoreAdj(oom);
            }

            step = "hostname"; Net.SetHostname(spec.Hostname);
            step = "loopback"; if (!loopbackReady) Net.LoopbackUp();

            step = "pivot-root"; Root.Pivot(root);
            Sys.Close(root);

            step = "workdir"; Root.ChdirInside(spec.WorkingDir);
            // Resolved inside the new root: the container's /etc/passwd, never the host's.
            step = "user"; var user = Users.Resolve(spec.User);
            step = "group-add"; user = Hardening.WithGroups(user, spec.GroupAdd, Users.ReadEtc);
            // The cgroup namespace must be made once we are in the container's cgroups (its root is
            // where we are at the unshare), and the cgroup mounts inside it (their root is the
            // namespace's): so as late as possible, overlapping the daemon's placement with the steps
            // above, and before seccomp and the capabilities go (mount needs CAP_SYS_ADMIN).
            step = "mount-cgroup"; if (spec.CgroupMounts is { } skeleton) CgroupMounts.Prepare(skeleton, writable: spec.Privileged);
            if (spec.CgroupNs)
            {
                step = "wait-placed";
                if (!WaitPlaced()) return 125; // the daemon gave up
                step = "cgroup-namespace"; CgroupMounts.NewNamespace();
            }
            step = "mount-cgroup"; if (spec.CgroupMounts is { } plan) CgroupMounts.Mount(plan, writable: spec.Privileged);
            // Seccomp as runc orders it. With no_new_privs the filter goes in last, right before execve,
            // so it need not allow what the init still does. Without, installing it needs CAP_SYS_ADMIN,
            // so before the capabilities go: the profile must then allow the init's remaining calls
            // (prctl, capset, setgroups/setgid/setuid, read, close, newfstatat, rt_sigaction,
            // rt_sigprocmask, umask, close_range, execve), which Docker's does.
            if (spec.NoNewPrivileges) { step = "no-new-privileges"; SeccompFilter.SetNoNewPrivileges(); }
            else if (spec.Seccomp is { } early) { step = "seccomp"; SeccompFilter.Install(early); }
            var caps = spec.Capabilities ?? Capabilities.DockerDefault;
            step = "capabilities"; Capabilities.DropBounding(caps);
            step = "set-user"; Users.Apply(user);
            step = "capabilities"; Capabilities.SetFinal(caps, root: user.Uid == 0);

            step = "wait-go";
            if (!WaitGo()) return 125; // the daemon gave up: exit without a word, exec nothing

            step = "exec";
            var command = Exec.Prepare(spec.Args, Users.WithHome(spec.Env, user));
            if (spec.NoNewPrivileges && spec.Seccomp is { } late) { step = "seccomp"; SeccompFilter.Install(late); step = "exec"; }
            // --init: stay PID 1 (forward signals, reap), the command runs as our child.
            if (spec.Init) return Supervise.Run(command, spec.Tty);
            Exec.Execve(command); // returns only on failure (throws)
            return 125;
        }
        catch (InitFailure e) { return Report(e.Code, step, e.Message); }
        catch (Exception e) { return Report(125, step, e.Message); }
    }

    /// <summary>The spec file, read with plain open/read: File.ReadAllBytes adds fstat and the flock
    /// pair of FileStream's sharing emulation, on the start's path.</summary>
    static byte[] ReadSpec(string path)
    {
        int fd = Sys.Open(path, O_RDONLY);
        try { return Sys.ReadToEnd(fd, max: 64 << 20); }
        finally { Sys.Close(fd); }
    }

    /// <summary>The daemon's "placed" byte (2): we are in every cgroup of the container. EOF: it gave up.</summary>
    static unsafe bool WaitPlaced()
    {
        byte b;
        nint n;
        do n = Libc.read(GoFd, &b, 1); while (n < 0 && Libc.Errno == EINTR);
        if (n < 0) throw new SyscallException("read go pipe", null, Libc.Errno);
        if (n == 1 && b != 2) throw new InitFailure(125, $"expected the placed byte on the go pipe, got {b}");
        return n == 1;
    }

    static unsafe bool WaitGo()
    {
        byte b;
        nint n;
        do n = Libc.read(GoFd, &b, 1); while (n < 0 && Libc.Errno == EINTR);
        if (n < 0) throw new SyscallException("read go pipe", null, Libc.Errno);
        Libc.close(GoFd);
        return n == 1;
    }

    internal static int Report(int code, string step, string message)
    {
        var line = $"{code} {step}: {message.Replace('\n', ' ')}\n";
        Sys.WriteAll(StatusFd, System.Text.Encoding.UTF8.GetBytes(line));
        return code;
    }
}
