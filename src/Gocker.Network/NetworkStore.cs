using Gocker.Syscalls.IO;
using System.Text.Json;

namespace Gocker.Network;

/// <summary>Network and endpoint records on disk (one JSON file each, written atomically).</summary>
internal sealed class NetworkStore(NetworkOptions options)
{
    public void EnsureDirs()
    {
        foreach (var d in new[] { options.StateDir, options.NetworksDir, options.EndpointsDir, options.IpamDir })
            Directory.CreateDirectory(d, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    public List<NetworkRecord> LoadNetworks() => Load(options.NetworksDir, NetworkStateJson.Default.NetworkRecord);
    public List<ContainerNetworkRecord> LoadEndpoints() => Load(options.EndpointsDir, NetworkStateJson.Default.ContainerNetworkRecord);

    public void Save(NetworkRecord n) =>
        AtomicFile.Write(Path.Combine(options.NetworksDir, n.Id + ".json"), JsonSerializer.SerializeToUtf8Bytes(n, NetworkStateJson.Default.NetworkRecord));

    public void Delete(NetworkRecord n) => DeleteFile(Path.Combine(options.NetworksDir, n.Id + ".json"), options.NetworksDir);

    /// <summary>Endpoint records are on the start and removal paths: the file is synced (never torn),
    /// the directory is not. What a power loss can undo (a rename, an unlink) concerns containers
    /// that did not survive it either: CleanupStale at the next start DELs whatever record is
    /// there (DEL is idempotent) and drops the IP allocations no record owns.</summary>
    public void Save(ContainerNetworkRecord c) =>
        AtomicFile.Write(Path.Combine(options.EndpointsDir, c.ContainerId + ".json"), JsonSerializer.SerializeToUtf8Bytes(c, NetworkStateJson.Default.ContainerNetworkRecord),
            syncDirectory: false);

    public void Delete(ContainerNetworkRecord c) => DeleteFile(Path.Combine(options.EndpointsDir, c.ContainerId + ".json"), null);

    static void DeleteFile(string path, string? syncDir)
    {
        if (!File.Exists(path)) return;
        File.Delete(path);
        if (syncDir is not null) AtomicFile.SyncDirectory(syncDir);
    }

    static List<T> Load<T>(string dir, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type)
    {
        var list = new List<T>();
        if (!Directory.Exists(dir)) return list;
        foreach (var f in Directory.EnumerateFiles(dir, "*.json"))
        {
            try
            {
                if (JsonSerializer.Deserialize(File.ReadAllBytes(f), type) is { } v) list.Add(v);
            }
            catch (JsonException ex)
            {
                throw new InvalidDataException($"{f}: corrupt network state: {ex.Message}");
            }
        }
        return list;
    }
}
