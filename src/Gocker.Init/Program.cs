// gocker-init: PID 1 of a new container until it execs the user's command.
// Protocol (see ISpawner): fd 3 = exec-status pipe (EOF on successful exec, else "CODE STEP: MESSAGE"),
// fd 4 = go pipe (one byte = go; EOF = the daemon gave up). argv[1] = InitSpec JSON path.
using Gocker.Init;

// The daemon executes its sealed copy of this binary by path (/proc/DAEMON_PID/fd/N, SealedBinary) and
// the kernel names the task after that path's last component, a number: name it, for ps -e, top,
// pgrep and the OOM killer's messages. One prctl, no failure worth reporting.
unsafe
{
    fixed (byte* comm = "gocker-init\0"u8)
        Gocker.Syscalls.Native.Libc.prctl(15 /* PR_SET_NAME */, (nuint)comm, 0, 0, 0);
}

// `gocker-init --exec SPEC_PATH`: a process for `gocker exec` (see ExecMode, NamespaceJoiner).
// `gocker-init --keeper SOCKET`: the daemon's terminal keeper (see KeeperMode, TerminalKeeper).
// `gocker-init --zygote`: an init started ahead of time, waiting for its container (see Zygote, ZygoteSpawner).
return args switch
{
    ["--exec", var spec] => ExecMode.Run(spec),
    ["--keeper", var socket] => KeeperMode.Run(socket),
    ["--zygote"] => Zygote.Run(),
    _ => Init.Run(args),
};
