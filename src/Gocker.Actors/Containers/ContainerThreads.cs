using Gocker.Actors.Engine;
using Gocker.Syscalls.Spawn;

namespace Gocker.Actors.Containers;

/// <summary>
/// Deprioritises the container dispatcher's threads (GockerOptions.ContainerThreadNice): called by
/// the ContainerActor before each message, it renices the thread it runs on once. Only threads of
/// the container dispatcher itself (by their name, which Akka gives from the dispatcher id) are
/// touched: an actor run elsewhere (a test's CallingThreadDispatcher, the thread pool) never renices
/// the API's threads. Threads started from a reniced thread inherit its value; the spawn and exec
/// threads reset theirs (NamespaceSpawner, NamespaceJoiner), so containers run at the daemon's.
/// </summary>
static class ContainerThreads
{
    [ThreadStatic] static bool t_seen;

    public static void Enter(GockerOptions options)
    {
        if (t_seen) return;
        t_seen = true;
        if (options.ContainerThreadNice <= 0) return;
        if (Thread.CurrentThread.Name is { } name && name.StartsWith(options.ContainerDispatcher, StringComparison.Ordinal))
            ThreadNice.LowerCurrentThread(options.ContainerThreadNice);
    }
}
