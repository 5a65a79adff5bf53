using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Gocker.Actors.Containers;
using Gocker.Actors.Restart;
using Gocker.Syscalls.IO;

namespace Gocker.Actors.Groups;

/// <summary>A supervision group as persisted (DataRoot/groups/NAME.json): its settings, its members
/// in the order they joined (first start), the times of its recent restarts (the intensity window
/// survives a daemon restart) and whether it gave up.</summary>
public sealed record GroupState
{
    public required string Name { get; init; }
    public GroupStrategy Strategy { get; init; }
    public int MaxRestarts { get; init; }
    public TimeSpan Within { get; init; }
    public DateTimeOffset Created { get; init; }
    /// <summary>Container ids in join (first start) order: rest-for-one's "started after".</summary>
    public string[] Members { get; init; } = [];
    public DateTimeOffset[] RestartLog { get; init; } = [];
    /// <summary>Group restarts carried out since the group was created.</summary>
    public int Restarts { get; init; }
    public bool GivenUp { get; init; }
    public string? GiveUpReason { get; init; }
    public DateTimeOffset? GaveUpAt { get; init; }

    [JsonIgnore]
    public GroupSettings Settings => new(Strategy, MaxRestarts, Within);
}

public sealed class GroupNotFoundException(string name) : Exception($"No such group: {name}");

public static partial class GroupStore
{
    public static string PathOf(string dir, string name) => Path.Combine(dir, name + ".json");

    public static void Save(string dir, GroupState state) =>
        AtomicFile.Write(PathOf(dir, state.Name), JsonSerializer.SerializeToUtf8Bytes(state, GroupJson.Default.GroupState));

    public static GroupState Load(string path)
    {
        using var fs = File.OpenRead(path);
        return JsonSerializer.Deserialize(fs, GroupJson.Default.GroupState) ?? throw new InvalidDataException($"{path}: empty group record");
    }

    public static void Delete(string dir, string name)
    {
        File.Delete(PathOf(dir, name));
        AtomicFile.SyncDirectory(dir);
    }

    /// <summary>Names become file names: the container-name alphabet, no '/' or "..", ever.</summary>
    public static void ValidateName(string name)
    {
        if (name.Length is 0 or > 64 || !NameRegex().IsMatch(name))
            throw new BadRequestException($"Invalid group name \"{name}\": use [a-zA-Z0-9][a-zA-Z0-9_.-]* (max 64)");
    }

    [GeneratedRegex("^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")]
    private static partial Regex NameRegex();
}

/// <summary>Group names that exist, shared by the GroupsManager (writer) and the
/// ContainerSupervisor (create refuses an unknown group without a round trip).</summary>
public sealed class GroupDirectory
{
    readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> _names = new(StringComparer.Ordinal);
    public bool Exists(string name) => _names.ContainsKey(name);
    public void Add(string name) => _names[name] = 0;
    public bool Remove(string name) => _names.TryRemove(name, out _);
}

[JsonSourceGenerationOptions(WriteIndented = true, UseStringEnumConverter = true)]
[JsonSerializable(typeof(GroupState))]
public partial class GroupJson : JsonSerializerContext;
