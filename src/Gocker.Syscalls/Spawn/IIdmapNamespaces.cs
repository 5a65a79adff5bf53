namespace Gocker.Syscalls.Spawn;

/// <summary>The daemon's user namespaces for idmapped mounts, one per id map (see
/// NamespaceSpawner.IdmapNamespace): also used to mount a stopped remapped container's rootfs for
/// the archive API, so its layers show the same owners as when it runs.</summary>
public interface IIdmapNamespaces
{
    /// <summary>An nsfs descriptor (kept by the spawner for the daemon's life: never close it).</summary>
    int IdmapNamespace(Security.IdMap map, string initPath);
}
