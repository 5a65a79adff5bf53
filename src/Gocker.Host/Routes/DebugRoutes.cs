using System.Text.Json;
using Gocker.Actors.Containers;
using Gocker.Actors.Faults;
using static Gocker.Host.EngineAsk;
using static Gocker.Host.ErrorMapping;

namespace Gocker.Host;

/// <summary>Gocker's own endpoints for experiments (not in Docker's API).</summary>
public static class DebugRoutes
{
    public static void Map(WebApplication app)
    {
        // {Container, Kind: cgroup-write|spawn|mount, Count} → {Container (full id), Kind, Count (now armed)}
        // A cast to Delegate: as a RequestDelegate the returned IResult would be discarded.
        app.MapPost("/debug/faults", (Delegate)InjectFault);
    }

    static Task<IResult> InjectFault(HttpContext ctx) => Guard(async () =>
    {
        using var doc = (await RequestLimits.ReadJsonAsync(ctx, DebugJson.Default.JsonDocument))!;
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new BadRequestException("expected a JSON object {Container, Kind, Count}");
            var container = Get(doc.RootElement, "Container") is { ValueKind: JsonValueKind.String } c ? c.GetString()! : "";
            if (container.Length == 0) throw new BadRequestException("Container is required");
            var kindName = Get(doc.RootElement, "Kind") is { ValueKind: JsonValueKind.String } k ? k.GetString() : null;
            if (!FaultKinds.TryParse(kindName, out var kind))
                throw new BadRequestException($"Kind '{kindName}': use cgroup-write, spawn or mount");
            var count = 1;
            if (Get(doc.RootElement, "Count") is { } n && !(n.ValueKind == JsonValueKind.Number && n.TryGetInt32(out count)))
                throw new BadRequestException("Count must be an integer");
            var armed = await AskContainer<ContainerActor.FaultArmed>(ctx, container, new ContainerActor.ArmFault(kind, count));
            var buf = new MemoryStream();
            using (var w = new Utf8JsonWriter(buf))
            {
                w.WriteStartObject();
                w.WriteString("Container", armed.Id);
                w.WriteString("Kind", armed.Kind.Name());
                w.WriteNumber("Count", armed.Count);
                w.WriteEndObject();
            }
            return Results.Bytes(buf.ToArray(), "application/json");
        }
    });

    /// <summary>Property by name, case-insensitively (as Go's encoding/json reads).</summary>
    static JsonElement? Get(JsonElement obj, string name)
    {
        foreach (var p in obj.EnumerateObject())
            if (string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase)) return p.Value;
        return null;
    }
}

/// <summary>The fault request is read as a document (RequestLimits.ReadJsonAsync needs type info).</summary>
[System.Text.Json.Serialization.JsonSerializable(typeof(JsonDocument))]
internal sealed partial class DebugJson : System.Text.Json.Serialization.JsonSerializerContext;
