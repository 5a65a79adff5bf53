using System.Text.Json;

namespace Gocker.Actors.Containers;

/// <summary>Container records on disk: DataRoot/containers/ID/state.json, written like runc writes
/// state.json — temp file, fsync, rename — so a crash leaves the old or the new record, never half.</summary>
public static class StateStore
{
    public static void Save(string containerDir, ContainerRecord record)
    {
        var path = Path.Combine(containerDir, "state.json");
        var tmp = path + ".tmp";
        using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 4096, FileOptions.None))
        {
            JsonSerializer.Serialize(fs, record, StateJson.Default.ContainerRecord);
            fs.Flush(flushToDisk: true);
        }
        File.Move(tmp, path, overwrite: true);
    }

    public static ContainerRecord? Load(string containerDir)
    {
        var path = Path.Combine(containerDir, "state.json");
        if (!File.Exists(path)) return null;
        using var fs = File.OpenRead(path);
        return JsonSerializer.Deserialize(fs, StateJson.Default.ContainerRecord);
    }
}
