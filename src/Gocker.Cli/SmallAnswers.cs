using System.Text.Json;
using Gocker.Api;

namespace Gocker.Cli;

/// <summary>
/// The two answers every `run` reads (create, wait), read with JsonDocument rather than the
/// serializer: the serializer's first use in a process builds the options' caches and each type's
/// metadata and converters (attribute reflection, slow on first use in NativeAOT), ~15% of a
/// `run`'s console CPU (perf) for two objects of a few fields. Names match case-insensitively, as
/// Go's encoding/json (and so every docker client) reads them.
/// </summary>
public static class SmallAnswers
{
    public static ContainerCreateResponse CreateResponse(byte[] body)
    {
        using var doc = JsonDocument.Parse(body);
        var root = Object(doc);
        var answer = new ContainerCreateResponse
        {
            Id = Get(root, "Id") is { ValueKind: JsonValueKind.String } id ? id.GetString()! : "",
            GockerStarted = Get(root, "GockerStarted") is { ValueKind: JsonValueKind.True } ? true : null,
        };
        if (Get(root, "Warnings") is { ValueKind: JsonValueKind.Array } warnings)
            foreach (var w in warnings.EnumerateArray())
                if (w.ValueKind == JsonValueKind.String) answer.Warnings.Add(w.GetString()!);
        return answer;
    }

    public static WaitResponse WaitResponse(byte[] body)
    {
        using var doc = JsonDocument.Parse(body);
        var root = Object(doc);
        var answer = new WaitResponse
        {
            StatusCode = Get(root, "StatusCode") is { ValueKind: JsonValueKind.Number } code ? code.GetInt32() : 0,
            OOMKilled = Get(root, "OOMKilled") is { ValueKind: JsonValueKind.True },
            GockerStartFailed = Get(root, "GockerStartFailed") is { ValueKind: JsonValueKind.True } ? true : null,
        };
        if (Get(root, "Error") is { ValueKind: JsonValueKind.Object } error)
            answer.Error = new WaitError { Message = Get(error, "Message") is { ValueKind: JsonValueKind.String } m ? m.GetString() : null };
        return answer;
    }

    static JsonElement Object(JsonDocument doc) =>
        doc.RootElement.ValueKind == JsonValueKind.Object ? doc.RootElement
            : throw new JsonException($"expected an object, got {doc.RootElement.ValueKind}");

    static JsonElement? Get(JsonElement o, string name)
    {
        if (o.TryGetProperty(name, out var exact)) return exact;
        foreach (var p in o.EnumerateObject())
            if (string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase)) return p.Value;
        return null;
    }
}
