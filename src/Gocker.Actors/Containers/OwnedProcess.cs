using Gocker.Syscalls.Spawn;

namespace Gocker.Actors.Containers;

/// <summary>The end of the process a NamespaceActor (a run's init) or an ExecActor (an exec) owns,
/// when that actor stops.</summary>
internal static class OwnedProcess
{
    /// <summary>A process never released (a half-started init or exec: its setup or cgroup placement
    /// failed, or the container went away meanwhile) must not outlive its actor, nor run anything:
    /// killed and reaped (bounded). A released one is the user's and keeps running (a container
    /// outlives the daemon, which re-adopts it); only the handle goes.</summary>
    public static void Finish(IInitProcess? process, bool exited, bool released)
    {
        if (process is null) return;
        if (!exited && !released)
        {
            try
            {
                process.Signal(9);
                process.WaitForExitAsync().Wait(TimeSpan.FromSeconds(5));
            }
            catch { /* already gone */ }
        }
        process.Dispose();
    }
}
