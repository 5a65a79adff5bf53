using System.Text.Json;
using System.Text.Json.Serialization;

namespace Gocker.Api;

/// <summary>String maps (Labels, Options, Sysctls, LogConfig.Config...) written with their keys in
/// ordinal order, as Go's encoding/json writes every map: Docker's answers list labels sorted, and
/// clients that compare or print them (compose's config hash, `inspect -f '{{json .Config.Labels}}'`)
/// see the same text for the same labels whatever order they were given in. Read as usual; a null
/// value reads as "" (Go's zero value).</summary>
public sealed class GoMapConverter : JsonConverter<Dictionary<string, string>>
{
    public override Dictionary<string, string>? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.Null) return null;
        if (reader.TokenType != JsonTokenType.StartObject) throw new JsonException("expected an object of strings");
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            var key = reader.GetString()!;
            reader.Read();
            map[key] = reader.TokenType switch
            {
                JsonTokenType.Null => "",
                JsonTokenType.String => reader.GetString()!,
                _ => throw new JsonException($"the value of \"{key}\" must be a string"),
            };
        }
        return map;
    }

    public override void Write(Utf8JsonWriter writer, Dictionary<string, string> value, JsonSerializerOptions options)
    {
        writer.WriteStartObject();
        foreach (var (k, v) in value.OrderBy(p => p.Key, StringComparer.Ordinal)) writer.WriteString(k, v);
        writer.WriteEndObject();
    }
}
