using System.Runtime.InteropServices;

namespace Gocker.Init;

/// <summary>`--init`: PID 1 stays, runs the command as its child, forwards signals and reaps orphans
/// (native/supervise.c); the process exits with the child's status and never returns here.</summary>
static unsafe partial class Supervise
{
    [DllImport("gocker-supervise", EntryPoint = "gocker_init_supervise")]
    static extern void Run(byte* path, byte** argv, byte** envp, int tty);

    public static int Run(in Exec.Prepared command, bool tty)
    {
        Run(command.Path, command.Argv, command.Envp, tty ? 1 : 0);
        return 125; // not reached: the native side _exits
    }
}
