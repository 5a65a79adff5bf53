using Gocker.Actors.Containers;
using Gocker.Actors.Engine;

namespace Gocker.Host;

/// <summary>The one place the routes learn where a container's files are on the host (ContainerLayout
/// belongs to the engine). Routes read them directly, read-only, because what they do with them is
/// streaming bytes to a client (a log, a tar of the upper dir, a commit, a size), which does not go
/// through actor messages; everything that writes them goes through the container's actors.</summary>
public static class ContainerFiles
{
    /// <summary>The container's data directory (its log is under it: OutputStreamer, LogFiles).</summary>
    public static string DataDir(EngineServices svc, string id) => ContainerLayout.For(svc.Options, id).DataDir;

    /// <summary>The container's writable layer (commit, export, changes, sizes in prune and df).</summary>
    public static string UpperDir(EngineServices svc, string id) => ContainerLayout.For(svc.Options, id).UpperDir;
}
