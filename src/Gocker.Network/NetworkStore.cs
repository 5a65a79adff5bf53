using Gocker.Syscalls.IO;
using System.Text.Json;

namespace Gocker.Network;

/// <summary>Network and endpoint records on disk (one JSON file each, written atomically).</summary>
internal sealed class NetworkStore(NetworkOptions options)
{
    public void EnsureDirs()
    {
        foreach (var d in new[] { options.StateDir, options.NetworksDir, options.EndpointsDir, options.IpamDir, options.PoolDir })
            Directory.CreateDirectory(d, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    public List<NetworkRecord> LoadNetworks() => Load(options.NetworksDir, NetworkStateJson.Default.NetworkRecord);
    /// <summary>A torn endpoint record (only a power loss can leave one, see Save) is dropped: its
    /// container did not survive either, and CleanupStale drops the IP allocations no record owns.</summary>
    public List<ContainerNetworkRecord> LoadEndpoints() =>
        Load(options.EndpointsDir, NetworkStateJson.Default.ContainerNetworkRecord, dropCorrupt: true);

    public void Save(NetworkRecord n) =>
        AtomicFile.Write(Path.Combine(options.NetworksDir, n.Id + ".json"), JsonSerializer.SerializeToUtf8Bytes(n, NetworkStateJson.Default.NetworkRecord));

    public void Delete(NetworkRecord n) => DeleteFile(Path.Combine(options.NetworksDir, n.Id + ".json"), options.NetworksDir);

    /// <summary>Endpoint records are written twice per start (before and after the ADD) and deleted
    /// at removal, all on the path `run` waits for: temp file and rename (a daemon crash leaves the
    /// old or the new record), but no fsync (1-6 ms each while other work loads the disk). Only a
    /// power loss can lose or tear one, and then its container, netns and veth are gone too (as are
    /// the kernel's rules): the next start drops a torn record (LoadEndpoints), DELs whatever
    /// record is there (DEL is idempotent) and drops the IP allocations no record owns
    /// (CleanupStale). host-local does not fsync its allocation files either.</summary>
    public void Save(ContainerNetworkRecord c)
    {
        var path = Path.Combine(options.EndpointsDir, c.ContainerId + ".json");
        var tmp = Path.Combine(options.EndpointsDir, $".{c.ContainerId}.json.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            File.WriteAllBytes(tmp, JsonSerializer.SerializeToUtf8Bytes(c, NetworkStateJson.Default.ContainerNetworkRecord));
            File.Move(tmp, path, overwrite: true);
        }
        catch
        {
            File.Delete(tmp);
            throw;
        }
    }

    /// <summary>Pool slot records: like endpoint records (no fsync; a torn one is dropped and the
    /// IP allocation it leaves is released by CleanupStale, which drops what no record owns).</summary>
    public List<PoolSlotRecord> LoadSlots() => Load(options.PoolDir, NetworkStateJson.Default.PoolSlotRecord, dropCorrupt: true);

    public void Save(PoolSlotRecord s) =>
        WriteNoSync(options.PoolDir, s.SlotId, JsonSerializer.SerializeToUtf8Bytes(s, NetworkStateJson.Default.PoolSlotRecord));

    public void Delete(PoolSlotRecord s) => DeleteFile(Path.Combine(options.PoolDir, s.SlotId + ".json"), null);

    static void WriteNoSync(string dir, string id, byte[] bytes)
    {
        var path = Path.Combine(dir, id + ".json");
        var tmp = Path.Combine(dir, $".{id}.json.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            File.WriteAllBytes(tmp, bytes);
            File.Move(tmp, path, overwrite: true);
        }
        catch
        {
            File.Delete(tmp);
            throw;
        }
    }

    public void Delete(ContainerNetworkRecord c) => DeleteFile(Path.Combine(options.EndpointsDir, c.ContainerId + ".json"), null);

    static void DeleteFile(string path, string? syncDir)
    {
        if (!File.Exists(path)) return;
        File.Delete(path);
        if (syncDir is not null) AtomicFile.SyncDirectory(syncDir);
    }

    static List<T> Load<T>(string dir, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, bool dropCorrupt = false)
    {
        var list = new List<T>();
        if (!Directory.Exists(dir)) return list;
        foreach (var f in Directory.EnumerateFiles(dir, "*.json"))
        {
            try
            {
                if (JsonSerializer.Deserialize(File.ReadAllBytes(f), type) is { } v) list.Add(v);
                else if (dropCorrupt) File.Delete(f);
            }
            catch (JsonException) when (dropCorrupt) { File.Delete(f); }
            catch (JsonException ex)
            {
                throw new InvalidDataException($"{f}: corrupt network state: {ex.Message}");
            }
        }
        return list;
    }
}
