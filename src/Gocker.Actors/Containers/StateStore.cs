using Gocker.Syscalls.IO;
using System.Text.Json;

namespace Gocker.Actors.Containers;

/// <summary>Container records on disk: DataRoot/containers/ID/state.json, written like runc writes
/// state.json — temp file, fsync, rename — so a crash leaves the old or the new record, never half.</summary>
public static class StateStore
{
    public static void Save(string containerDir, ContainerRecord record) =>
        AtomicFile.Write(Path.Combine(containerDir, "state.json"),
            JsonSerializer.SerializeToUtf8Bytes(record, StateJson.Default.ContainerRecord), syncDirectory: false);

    public static ContainerRecord? Load(string containerDir)
    {
        var path = Path.Combine(containerDir, "state.json");
        if (!File.Exists(path)) return null;
        using var fs = File.OpenRead(path);
        return JsonSerializer.Deserialize(fs, StateJson.Default.ContainerRecord);
    }
}
