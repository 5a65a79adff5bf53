using System.Collections;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Gocker.Api;
using Gocker.Cli;

namespace Gocker.Tests.Cli;

/// <summary>The console writes the create request by hand (CreateRequestWriter); the daemon reads it
/// with the API's generated context. These pin the two to the same JSON.</summary>
public class CreateRequestWriterTests
{
    const string Awkward = "a \"quoted\" \\ back\tslash\n\u0001 ü € 😀 </script> &";

    static JsonNode Serializer(ContainerCreateRequest r) =>
        JsonNode.Parse(JsonSerializer.Serialize(r, GockerJson.Default.ContainerCreateRequest))!;

    static JsonNode Writer(ContainerCreateRequest r) => JsonNode.Parse(CreateRequestWriter.Write(r))!;

    [Fact]
    public void A_request_with_every_property_set_is_written_as_the_serializer_writes_it()
    {
        var r = (ContainerCreateRequest)Populate(typeof(ContainerCreateRequest), "r");
        var expected = Serializer(r);
        var actual = Writer(r);
        Assert.True(JsonNode.DeepEquals(expected, actual), $"expected {expected.ToJsonString()}\nwritten  {actual.ToJsonString()}");
        // Every property of the model made it into the JSON (a populator that skipped one would make
        // the comparison above pass vacuously).
        Assert.Equal(Names(typeof(ContainerCreateRequest)), ((JsonObject)actual).Select(p => p.Key).Order());
        Assert.Equal(Names(typeof(HostConfig)), ((JsonObject)actual["HostConfig"]!).Select(p => p.Key).Order());
    }

    [Fact]
    public void A_bare_request_leaves_out_what_is_null_as_the_serializer_does()
    {
        var r = new ContainerCreateRequest { Image = "busybox", HostConfig = new HostConfig { PortBindings = new() { ["80/tcp"] = null } } };
        Assert.True(JsonNode.DeepEquals(Serializer(r), Writer(r)), Encoding.UTF8.GetString(CreateRequestWriter.Write(r)));
        var empty = new ContainerCreateRequest();
        Assert.True(JsonNode.DeepEquals(Serializer(empty), Writer(empty)));
    }

    [Fact]
    public void Awkward_strings_come_back_unchanged_through_the_daemons_reader()
    {
        var r = new ContainerCreateRequest { Image = Awkward, Cmd = ["sh", "-c", Awkward, ""], Env = ["K=" + Awkward] };
        var bytes = CreateRequestWriter.Write(r);
        Assert.All(bytes, b => Assert.True(b is >= 0x20 and < 0x7F, $"byte 0x{b:X2} written unescaped"));
        var back = JsonSerializer.Deserialize(bytes, GockerJson.Default.ContainerCreateRequest)!;
        Assert.Equal(Awkward, back.Image);
        Assert.Equal(r.Cmd, back.Cmd);
        Assert.Equal(r.Env, back.Env);
    }

    static IEnumerable<string> Names(Type t) =>
        t.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => !IsExtensionData(p)).Select(p => p.Name).Order();

    static bool IsExtensionData(PropertyInfo p) => p.GetCustomAttribute<System.Text.Json.Serialization.JsonExtensionDataAttribute>() is not null;

    /// <summary>An instance with every settable property given a non-default value, recursively.
    /// A property of a type not handled here fails the test: extend it with the model.</summary>
    static object Populate(Type t, string path)
    {
        var o = Activator.CreateInstance(t)!;
        int n = 0;
        foreach (var p in t.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            // What the daemon collects of unknown fields (to refuse them) is never written.
            if (IsExtensionData(p)) continue;
            n++;
            p.SetValue(o, Value(p.PropertyType, path + "." + p.Name, n));
        }
        return o;
    }

    static object Value(Type t, string path, int n)
    {
        var u = Nullable.GetUnderlyingType(t) ?? t;
        if (u == typeof(string)) return path + " " + Awkward;
        if (u == typeof(bool)) return true;
        if (u == typeof(int)) return 40 + n;
        if (u == typeof(long)) return 1L << 40 | (long)n;
        if (u == typeof(double)) return 0.25 + n;
        if (u == typeof(EmptyObject)) return new EmptyObject();
        if (u == typeof(List<string>)) return new List<string> { path, Awkward, "" };
        if (u == typeof(List<int>)) return new List<int> { n, n + 1 };
        if (u == typeof(List<Ulimit>)) return new List<Ulimit> { (Ulimit)Populate(typeof(Ulimit), path + "[0]") };
        if (u == typeof(List<DeviceMapping>)) return new List<DeviceMapping> { (DeviceMapping)Populate(typeof(DeviceMapping), path + "[0]") };
        if (u == typeof(uint)) return 0x1000u + (uint)n;
        if (u == typeof(List<MountRequest>)) return new List<MountRequest> { (MountRequest)Populate(typeof(MountRequest), path + "[0]") };
        if (u == typeof(List<PortBinding>)) return new List<PortBinding> { (PortBinding)Populate(typeof(PortBinding), path + "[0]") };
        if (u.IsGenericType && u.GetGenericTypeDefinition() == typeof(Dictionary<,>))
        {
            var d = (IDictionary)Activator.CreateInstance(u)!;
            var valueType = u.GetGenericArguments()[1];
            d["80/tcp"] = Value(valueType, path + "[80]", n);
            d["53/udp " + Awkward] = Value(valueType, path + "[53]", n + 1);
            return d;
        }
        if (u.IsClass && u.Namespace == typeof(ContainerCreateRequest).Namespace) return Populate(u, path);
        throw new NotSupportedException($"{path}: no test value for {t}; extend Populate with the model");
    }
}
