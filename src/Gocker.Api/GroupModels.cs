using System.Text.Json.Serialization;

namespace Gocker.Api;

/// <summary>POST /groups/create (Gocker extension: supervision groups).</summary>
public sealed class GroupCreateRequest
{
    public string Name { get; set; } = "";
    /// <summary>"one-for-one" (default), "one-for-all" or "rest-for-one".</summary>
    public string? Strategy { get; set; }
    /// <summary>More restarts than this within WithinMs and the group gives up.</summary>
    public int MaxRestarts { get; set; } = 3;
    public long WithinMs { get; set; } = 60_000;
}

/// <summary>GET /groups/{name} and the items of GET /groups.</summary>
public sealed class GroupInfo
{
    public string Name { get; set; } = "";
    public string Strategy { get; set; } = "";
    public int MaxRestarts { get; set; }
    public long WithinMs { get; set; }
    public string Created { get; set; } = "";
    /// <summary>Member container ids in join (first start) order.</summary>
    public List<string> Members { get; set; } = [];
    public int Restarts { get; set; }
    public bool GivenUp { get; set; }
    public string? GiveUpReason { get; set; }
    public string? GaveUpAt { get; set; }
}

[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, PropertyNameCaseInsensitive = true)]
[JsonSerializable(typeof(GroupCreateRequest))]
[JsonSerializable(typeof(GroupInfo))]
[JsonSerializable(typeof(List<GroupInfo>))]
public partial class GockerGroupJson : JsonSerializerContext;
