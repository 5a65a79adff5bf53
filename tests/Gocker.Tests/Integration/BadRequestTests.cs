using System.Diagnostics;
using System.Formats.Tar;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Xunit.Abstractions;

namespace Gocker.Tests.Integration;

/// <summary>
/// Issue #17, "unbounded bodies" and "wrong status codes": the daemon on its socket, sent what a
/// careless user or a hostile client sends. Every refusal is a 4xx with a JSON message (Content-Type
/// exactly application/json) saying what is wrong, and nothing is created, stopped or signalled.
/// </summary>
[Trait("Needs", "root")]
public sealed class BadRequestTests(DaemonFixture daemon, ITestOutputHelper output) : IClassFixture<DaemonFixture>, IDisposable
{
    const long Limit = 4L << 20; // gocker.api.max-json-body as shipped

    public void Dispose() => daemon.AssertNoLeaks();

    static string Unique(string prefix) => prefix + Guid.NewGuid().ToString("N")[..8];

    sealed record Answer(int Status, string Head, string Body)
    {
        public string? ContentType => Head.Split("\r\n").FirstOrDefault(l => l.StartsWith("Content-Type:", StringComparison.OrdinalIgnoreCase))?["Content-Type:".Length..].Trim();

        public string Message
        {
            get
            {
                Assert.True(ContentType == "application/json", $"Content-Type of an error must be exactly application/json:\n{this}");
                using var doc = JsonDocument.Parse(Body);
                return doc.RootElement.GetProperty("message").GetString()!;
            }
        }

        public override string ToString() => Head + Body;
    }

    /// <summary>One request in one write; <paramref name="contentType"/> null = no such header.</summary>
    Answer Send(string method, string target, byte[]? body = null, string? contentType = "application/json")
    {
        using var s = RawHttp.Connect(daemon.Socket);
        body ??= [];
        s.Send([.. Encoding.ASCII.GetBytes($"{method} {target} HTTP/1.1\r\nHost: d\r\nConnection: close\r\n" +
            (contentType is null ? "" : $"Content-Type: {contentType}\r\n") + $"Content-Length: {body.Length}\r\n\r\n"), .. body]);
        var head = RawHttp.ReadHead(s);
        return new Answer(int.Parse(head[9..12]), head, Encoding.UTF8.GetString(RawHttp.ReadBody(s, head)));
    }

    Answer Send(string method, string target, string json, string? contentType = "application/json") =>
        Send(method, target, Encoding.UTF8.GetBytes(json), contentType);

    void AssertRefused(Answer a, int status, params string[] said)
    {
        Assert.True(a.Status == status, $"expected {status}:\n{a}");
        var message = a.Message;
        foreach (var s in said) Assert.True(message.Contains(s, StringComparison.Ordinal), $"message should say \"{s}\": {message}");
    }

    List<string> AllContainers()
    {
        var a = Send("GET", "/containers/json?all=1");
        Assert.Equal(200, a.Status);
        using var doc = JsonDocument.Parse(a.Body);
        return doc.RootElement.EnumerateArray().Select(c => c.GetProperty("Id").GetString()!).ToList();
    }

    string Ok(params string[] args)
    {
        var r = daemon.Gocker(args);
        Assert.True(r.ExitCode == 0, $"gocker {string.Join(' ', args)}: {r}");
        return r.Stdout.Trim();
    }

    JsonElement Inspect(string id)
    {
        var a = Send("GET", $"/containers/{id}/json");
        Assert.True(a.Status == 200, a.ToString());
        return JsonDocument.Parse(a.Body).RootElement;
    }

    static string Nested(int depth) => """{"Image":"busybox","Cmd":["true"],"GockerNested":""" + new string('[', depth) + new string(']', depth) + "}";

    public static TheoryData<string, string, string, string> BadCreateBodies => new()
    {
        // name, content type ("-" = none), body, what the message must say
        { "malformed", "application/json", """{"Image":"busybox",""", "invalid JSON" },
        { "empty", "application/json", "", "empty request body" },
        { "whitespace only", "application/json", "  \n ", "empty request body" },
        { "null", "application/json", "null", "empty request body" },
        { "array instead of object", "application/json", "[]", "invalid JSON" },
        { "wrong type of a string", "application/json", """{"Image":5}""", "$.Image" },
        { "string instead of list", "application/json", """{"Image":"busybox","Cmd":"true"}""", "$.Cmd" },
        { "string instead of number", "application/json", """{"Image":"busybox","HostConfig":{"Memory":"1g"}}""", "$.HostConfig.Memory" },
        { "Memory 2^64", "application/json", """{"Image":"busybox","Cmd":["true"],"HostConfig":{"Memory":18446744073709551616}}""", "$.HostConfig.Memory" },
        { "fraction for an integer", "application/json", """{"Image":"busybox","HostConfig":{"CpuShares":1.5}}""", "$.HostConfig.CpuShares" },
        { "nesting 10,000 deep", "application/json", Nested(10_000), "maximum configured depth" },
        { "trailing data", "application/json", """{"Image":"busybox","Cmd":["true"]} {}""", "invalid JSON" },
        { "text/plain", "text/plain", """{"Image":"busybox","Cmd":["true"]}""", "unsupported Content-Type header (text/plain): must be 'application/json'" },
        { "form", "application/x-www-form-urlencoded", "Image=busybox", "unsupported Content-Type header" },
        { "malformed content type", "application/json;;;=", """{"Image":"busybox"}""", "Content-Type header" },
    };

    [Theory]
    [MemberData(nameof(BadCreateBodies))]
    public void A_bad_create_body_is_a_400_saying_what_is_wrong_and_creates_nothing(string name, string contentType, string body, string said)
    {
        var before = AllContainers();
        var a = Send("POST", "/v1.43/containers/create?name=" + Unique("bad-"), body, contentType == "-" ? null : contentType);
        AssertRefused(a, 400, said);
        Assert.True(before.SequenceEqual(AllContainers()), $"{name}: a container was created");
    }

    [Fact]
    public void Invalid_utf8_is_a_400()
    {
        var before = AllContainers();
        byte[] body = [.. """{"Image":"busy"""u8, 0xff, 0xfe, .. """box","Cmd":["true"]}"""u8];
        AssertRefused(Send("POST", "/containers/create", body), 400, "invalid JSON: the body is not valid UTF-8 (at byte 14)");
        Assert.Equal(before, AllContainers());
    }

    [Fact]
    public void No_content_type_is_accepted_as_docker_does()
    {
        var name = Unique("noct-");
        var a = Send("POST", "/containers/create?name=" + name, """{"Image":"busybox","Cmd":["true"],"HostConfig":{"NetworkMode":"none"}}""", contentType: null);
        Assert.True(a.Status == 201, a.ToString());
        Assert.Equal("application/json", a.ContentType);
        Ok("rm", name);
    }

    /// <summary>Every route that reads a JSON body, sent the same bad bodies.</summary>
    [Theory]
    [InlineData("/containers/nosuch/exec")]
    [InlineData("/networks/create")]
    [InlineData("/networks/nosuch/connect")]
    [InlineData("/networks/nosuch/disconnect")]
    [InlineData("/groups/create")]
    [InlineData("/debug/faults")]
    public void Every_json_route_refuses_bad_bodies_with_400(string route)
    {
        AssertRefused(Send("POST", route, "{\"x\":"), 400, "invalid JSON");
        AssertRefused(Send("POST", route, ""), 400, "empty request body");
        AssertRefused(Send("POST", route, "{}", "text/plain"), 400, "unsupported Content-Type header (text/plain)");
        AssertRefused(Send("POST", route, "{\"Name\":\"n\",\"X\":" + new string('[', 10_000) + new string(']', 10_000) + "}"), 400, "depth");
        // Anywhere in the body, also in a field the route does not read.
        AssertRefused(Send("POST", route, [.. "{\"Container\":\"c\",\"Name\":\"n\",\"X\":\""u8, 0xc3, 0x28, .. "\"}"u8]), 400, "not valid UTF-8");
    }

    [Fact]
    public void Wrong_types_on_other_routes_name_the_field()
    {
        AssertRefused(Send("POST", "/containers/nosuch/exec", """{"Cmd":"ls"}"""), 400, "$.Cmd");
        AssertRefused(Send("POST", "/groups/create", """{"Name":"g","WithinMs":18446744073709551616}"""), 400, "$.WithinMs");
        AssertRefused(Send("POST", "/networks/create", """{"Name":["n"]}"""), 400, "$.Name");
        Assert.DoesNotContain(Send("GET", "/networks").Body, "\"Name\":\"n\"");
    }

    [Fact]
    public void A_declared_body_over_the_limit_is_a_413_before_anything_is_read()
    {
        var before = AllContainers();
        using var s = RawHttp.Connect(daemon.Socket);
        // The head alone: the answer must come without the body ever being sent.
        s.Send(Encoding.ASCII.GetBytes($"POST /containers/create HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nContent-Length: {Limit + 1}\r\n\r\n"));
        var head = RawHttp.ReadHead(s);
        var a = new Answer(int.Parse(head[9..12]), head, Encoding.UTF8.GetString(RawHttp.ReadBody(s, head)));
        AssertRefused(a, 413, $"the limit is {Limit} bytes (4 MiB, gocker.api.max-json-body)");
        Assert.Equal(before, AllContainers());
    }

    [Fact]
    public void A_chunked_body_over_the_limit_is_a_413_counted_while_reading()
    {
        var before = AllContainers();
        // Valid JSON all the way: only its size is wrong.
        var a = SendChunked("/containers/create", JsonFilling(Limit + (1 << 20)));
        AssertRefused(a, 413, $"the limit is {Limit} bytes");
        Assert.Equal(before, AllContainers());
    }

    [Fact]
    public void A_body_just_under_the_limit_is_read()
    {
        // The limit is on the body, not on what a container may hold: a valid create near 4 MiB gets
        // as far as the field bounds (one Env entry over MAX_ARG_STRLEN).
        var json = """{"Image":"busybox","Cmd":["true"],"Env":["A=""" + new string('x', (int)Limit - 200) + "\"]}";
        AssertRefused(Send("POST", "/containers/create", json), 400, "Env[0]:", "at most 131072");
    }

    /// <summary>{"Image":"busybox","Cmd":["true"],"Env":["A=xxxx...","A=xxx..."]}: valid, ~size bytes.</summary>
    static IEnumerable<byte[]> JsonFilling(long size)
    {
        yield return """{"Image":"busybox","Cmd":["true"],"Env":["A=x" """u8.ToArray();
        var piece = Encoding.ASCII.GetBytes(",\"A=" + new string('x', 65536) + "\"");
        for (long sent = 0; sent < size; sent += piece.Length) yield return piece;
        yield return "]}"u8.ToArray();
    }

    /// <summary>The body in HTTP chunks as it is produced (never all in memory); the answer is read
    /// while sending, and sending stops when the daemon closes its side.</summary>
    Answer SendChunked(string target, IEnumerable<byte[]> pieces)
    {
        using var s = RawHttp.Connect(daemon.Socket);
        s.Send(Encoding.ASCII.GetBytes($"POST {target} HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"));
        var sender = Task.Run(() =>
        {
            try
            {
                foreach (var p in pieces)
                {
                    s.Send(Encoding.ASCII.GetBytes($"{p.Length:x}\r\n"));
                    s.Send(p);
                    s.Send("\r\n"u8);
                }
                s.Send("0\r\n\r\n"u8);
            }
            catch (SocketException) { /* the daemon answered and closed: the rest is never sent */ }
        });
        var head = RawHttp.ReadHead(s);
        var a = new Answer(int.Parse(head[9..12]), head, Encoding.UTF8.GetString(RawHttp.ReadBody(s, head)));
        s.Shutdown(SocketShutdown.Both);
        sender.Wait(TimeSpan.FromSeconds(60));
        return a;
    }

    /// <summary>Content-Length bodies streamed from a generator: as a client with a huge file sends.</summary>
    Answer SendDeclared(string target, long length, IEnumerable<byte[]> pieces)
    {
        using var s = RawHttp.Connect(daemon.Socket);
        s.Send(Encoding.ASCII.GetBytes($"POST {target} HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n"));
        var sender = Task.Run(() =>
        {
            try { foreach (var p in pieces) s.Send(p); }
            catch (SocketException) { }
        });
        var head = RawHttp.ReadHead(s);
        var a = new Answer(int.Parse(head[9..12]), head, Encoding.UTF8.GetString(RawHttp.ReadBody(s, head)));
        s.Shutdown(SocketShutdown.Both);
        sender.Wait(TimeSpan.FromSeconds(60));
        return a;
    }

    static long RssBytes(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0]) * 1024;
    }

    [Fact]
    public void Hundreds_of_megabytes_of_body_leave_the_daemons_memory_bounded()
    {
        const long Hundred = 100L << 20;
        var before = AllContainers();
        // Warm: the routes and the JSON reader are loaded before the first measure.
        AssertRefused(Send("POST", "/containers/create", "{"), 400, "invalid JSON");
        var rss0 = RssBytes(daemon.DaemonPid);
        var peak = rss0;
        for (var i = 0; i < 2; i++)
        {
            AssertRefused(SendChunked("/containers/create", JsonFilling(Hundred)), 413, "gocker.api.max-json-body");
            peak = Math.Max(peak, RssBytes(daemon.DaemonPid));
            AssertRefused(SendDeclared("/containers/create", Hundred, JsonFilling(Hundred)), 413, "gocker.api.max-json-body");
            peak = Math.Max(peak, RssBytes(daemon.DaemonPid));
            // A route that never reads a body: the declared size is refused before it runs.
            AssertRefused(SendDeclared("/containers/nosuch/start", Hundred, JsonFilling(Hundred)), 413, "gocker.api.max-json-body");
            peak = Math.Max(peak, RssBytes(daemon.DaemonPid));
        }
        output.WriteLine($"daemon RSS {rss0 >> 20} MiB before, peak {peak >> 20} MiB, {RssBytes(daemon.DaemonPid) >> 20} MiB after six 100 MB bodies offered");
        Assert.True(peak - rss0 < 100L << 20, $"daemon RSS grew by {(peak - rss0) >> 20} MiB (from {rss0 >> 20} MiB) over six 100 MB bodies");
        Assert.Equal(before, AllContainers());
        Assert.True(daemon.Ping());
    }

    [Fact]
    public void Archive_uploads_stream_past_the_json_limit()
    {
        // An image import of a rootfs bigger than the JSON limit: streamed, not refused.
        using var tar = new MemoryStream();
        using (var w = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true))
        {
            var big = new PaxTarEntry(TarEntryType.RegularFile, "big.bin") { DataStream = new MemoryStream(new byte[Limit + (1 << 20)]) };
            w.WriteEntry(big);
        }
        var name = Unique("bigimport-");
        var a = Send("POST", $"/images/create?fromSrc=-&repo={name}&tag=v1", tar.ToArray(), "application/x-tar");
        Assert.True(a.Status == 200, a.ToString());
        Assert.Contains(name, a.Body);
        Ok("rmi", $"{name}:v1");
    }

    public static TheoryData<string, string, string[]> TooBigFields => new()
    {
        { "env entry", """{"Image":"busybox","Cmd":["true"],"Env":["A=""" + new string('x', 200_000) + "\"]}", ["Env[0]: 200002 bytes, at most 131072"] },
        { "argument", """{"Image":"busybox","Cmd":["echo",""" + "\"" + new string('x', 140_000) + "\"]}", ["Cmd[1]: 140000 bytes"] },
        { "arguments together", """{"Image":"busybox","Cmd":[""" + string.Join(',', Enumerable.Repeat("\"" + new string('x', 120_000) + "\"", 10)) + "]}", ["command and environment:", "at most 1048576"] },
        { "hostname", """{"Image":"busybox","Cmd":["true"],"Hostname":""" + "\"" + new string('h', 65) + "\"}", ["Hostname: "] },
        { "working dir", """{"Image":"busybox","Cmd":["true"],"WorkingDir":"/""" + new string('w', 5000) + "\"}", ["WorkingDir: ", "at most 4095"] },
        { "image name", """{"Image":""" + "\"" + new string('i', 600) + "\",\"Cmd\":[\"true\"]}", ["Image: ", "at most 512"] },
        { "binds", """{"Image":"busybox","Cmd":["true"],"HostConfig":{"Binds":[""" + string.Join(',', Enumerable.Repeat("\"/tmp:/x\"", 2000)) + "]}}", ["HostConfig.Binds: 2000 entries, at most 1024"] },
        { "sysctl value", """{"Image":"busybox","Cmd":["true"],"HostConfig":{"Sysctls":{"kernel.msgmax":""" + "\"" + new string('1', 5000) + "\"}}}", ["HostConfig.Sysctls[kernel.msgmax]: ", "at most 4096"] },
        { "labels", """{"Image":"busybox","Cmd":["true"],"Labels":{"a":""" + "\"" + new string('v', 70_000) + "\"}}", ["Labels"] },
    };

    [Theory]
    [MemberData(nameof(TooBigFields))]
    public void A_field_over_its_bound_is_a_400_naming_it(string name, string json, string[] said)
    {
        var before = AllContainers();
        var a = Send("POST", "/containers/create", json);
        AssertRefused(a, 400, said);
        Assert.True(before.SequenceEqual(AllContainers()), $"{name}: a container was created");
    }

    [Theory]
    [InlineData("HostConfig\":{\"Binds", "HostConfig.Binds[0]: null")]
    [InlineData("HostConfig\":{\"Ulimits", "HostConfig.Ulimits[0]: null")]
    [InlineData("HostConfig\":{\"Devices", "HostConfig.Devices[0]: null")]
    [InlineData("HostConfig\":{\"SecurityOpt", "HostConfig.SecurityOpt[0]: null")]
    [InlineData("HostConfig\":{\"GroupAdd", "HostConfig.GroupAdd[0]: null")]
    [InlineData("HostConfig\":{\"CapAdd", "HostConfig.CapAdd[0]: null")]
    [InlineData("Env", "Env[0]: null")]
    [InlineData("Entrypoint", "Entrypoint[0]: null")]
    public void A_null_in_a_list_is_a_400_naming_it(string field, string said)
    {
        var before = AllContainers();
        var close = field.StartsWith("HostConfig") ? "}}" : "}";
        var a = Send("POST", "/containers/create", "{\"Image\":\"busybox\",\"Cmd\":[\"true\"],\"" + field + "\":[null]" + close);
        AssertRefused(a, 400, said);
        Assert.Equal(before, AllContainers());
        AssertRefused(Send("POST", "/containers/create", """{"Image":"busybox","HostConfig":{"PortBindings":{"80/tcp":[null]}}}"""), 400, "HostConfig.PortBindings[80/tcp][0]: null");
    }

    [Theory]
    [InlineData("GET", "/containers/json?filters=")]
    [InlineData("POST", "/images/prune?filters=")]
    public void Filters_of_the_wrong_shape_are_400(string method, string target)
    {
        foreach (var bad in new[] { "[]", "1.5", "null", "%7B%22dangling%22%3A%5B1%5D%7D", "%7B" })
            AssertRefused(Send(method, target + bad), 400, "invalid filters");
    }

    [Fact]
    public void A_route_parameter_that_does_not_bind_is_a_json_400() =>
        AssertRefused(Send("DELETE", "/images/"), 400, "name");

    [Fact]
    public void Exec_fields_over_their_bounds_are_400_before_the_container_is_looked_up()
    {
        AssertRefused(Send("POST", "/containers/nosuch/exec", """{"Cmd":["sh"],"Env":["A=""" + new string('x', 140_000) + "\"]}"), 400, "Env[0]: ", "at most 131072");
        AssertRefused(Send("POST", "/containers/nosuch/exec", """{"Cmd":["sh"],"WorkingDir":"/""" + new string('w', 5000) + "\"}"), 400, "WorkingDir: ");
    }

    [Fact]
    public void Bad_query_parameters_are_400_and_nothing_is_done()
    {
        var name = Unique("q-");
        var id = Ok("run", "-d", "--name", name, "--network", "none", "busybox", "sh", "-c", "echo logged; exec sleep 1000");
        try
        {
            var started = Inspect(id).GetProperty("State").GetProperty("StartedAt").GetString();
            AssertRefused(Send("POST", $"/containers/{name}/stop?t=abc"), 400, "invalid t value 'abc'");
            AssertRefused(Send("POST", $"/containers/{name}/stop?t=-1"), 400, "invalid t value '-1'");
            AssertRefused(Send("POST", $"/containers/{name}/stop?t=99999999999"), 400, "invalid t value");
            AssertRefused(Send("POST", $"/containers/{name}/restart?t=1.5"), 400, "invalid t value '1.5'");
            AssertRefused(Send("POST", $"/containers/{name}/kill?signal=bogus"), 400, "Invalid signal: bogus");
            AssertRefused(Send("POST", $"/containers/{name}/kill?signal=99"), 400, "Invalid signal: 99");
            AssertRefused(Send("POST", $"/containers/{name}/wait?condition=bogus"), 400, "invalid condition: bogus");
            AssertRefused(Send("GET", $"/containers/{name}/logs?stdout=1&since=garbage"), 400, "invalid since value 'garbage'");
            AssertRefused(Send("GET", $"/containers/{name}/logs?stdout=1&until=2024-01-01T00:00:00Z"), 400, "invalid until value");
            AssertRefused(Send("GET", $"/containers/{name}/logs?stdout=1&since=1.2.3"), 400, "invalid since value");
            AssertRefused(Send("GET", $"/containers/{name}/logs?stdout=1&tail=lots"), 400, "invalid tail value 'lots'");
            AssertRefused(Send("GET", $"/events?since=garbage"), 400, "invalid since 'garbage'");
            AssertRefused(Send("POST", $"/containers/{name}/attach/close-stdin?after=-3"), 400, "invalid after value '-3'");
            AssertRefused(Send("POST", $"/containers/{name}/resize?h=abc&w=80"), 400, "invalid h value 'abc'");
            // Nothing was stopped, restarted or signalled.
            var state = Inspect(id).GetProperty("State");
            Assert.True(state.GetProperty("Running").GetBoolean(), state.ToString());
            Assert.Equal(started, state.GetProperty("StartedAt").GetString());

            // What Docker's daemon accepts: unix seconds with an optional fraction, filtering by when a line was written.
            string Logs(string query)
            {
                var a = Send("GET", $"/containers/{name}/logs?stdout=1&{query}");
                Assert.True(a.Status == 200, a.ToString());
                return a.Body;
            }
            for (var deadline = DateTime.UtcNow.AddSeconds(30); !Logs("").Contains("logged") && DateTime.UtcNow < deadline;) Thread.Sleep(50);
            Assert.Contains("logged", Logs("since=0"));
            Assert.Contains("logged", Logs("since=1000000000.5&until=" + (DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 3600)));
            Assert.DoesNotContain("logged", Logs("since=" + (DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 3600) + ".000000001"));
            Assert.DoesNotContain("logged", Logs("until=1"));
            // A follow ends at `until` (the container runs on): without that, this read would hang.
            var now = (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0).ToString("F3", System.Globalization.CultureInfo.InvariantCulture);
            Assert.Contains("logged", Logs("follow=1&until=" + now));
            Assert.True(Inspect(id).GetProperty("State").GetProperty("Running").GetBoolean());
        }
        finally { Ok("rm", "-f", name); }
    }

    [Fact]
    public void A_cpuset_naming_cpus_the_host_lacks_is_refused_at_create()
    {
        var online = File.ReadAllText("/sys/devices/system/cpu/online").Trim();
        var before = AllContainers();
        AssertRefused(Send("POST", "/containers/create", """{"Image":"busybox","Cmd":["true"],"HostConfig":{"CpusetCpus":"0-9999"}}"""), 400,
            $"Requested CPUs are not available - requested 0-9999, available: {online}");
        AssertRefused(Send("POST", "/containers/create", """{"Image":"busybox","Cmd":["true"],"HostConfig":{"CpusetCpus":"0-99999999999"}}"""), 400,
            "Invalid value 0-99999999999 for cpuset cpus");
        AssertRefused(Send("POST", "/containers/create", """{"Image":"busybox","Cmd":["true"],"HostConfig":{"CpusetMems":"7"}}"""), 400,
            "HostConfig.CpusetMems is not supported");
        Assert.Equal(before, AllContainers());
        // The CPUs it has are taken.
        var name = Unique("cpuset-");
        Ok("create", "--name", name, "--network", "none", "--cpuset-cpus", "0", "busybox", "true");
        Ok("rm", name);
    }

    [DockerCliFact]
    public void Docker_cli_prints_the_message_and_exits_125()
    {
        var online = File.ReadAllText("/sys/devices/system/cpu/online").Trim();
        var (code, _, stderr) = DockerCliFactAttribute.Run(daemon.Socket, daemon.Root, null,
            "run", "--rm", "--network", "none", "--cpuset-cpus", "0-9999", "busybox", "true");
        Assert.True(code == 125, $"exit {code}: {stderr}");
        // The message, not raw JSON: the answer's Content-Type is exactly application/json.
        Assert.Contains($"Error response from daemon: Requested CPUs are not available - requested 0-9999, available: {online}", stderr);
        Assert.DoesNotContain("{\"message\"", stderr);
    }

    [Theory]
    [InlineData("GET", "/foo")]
    [InlineData("GET", "/v1.43/foo/bar")]
    [InlineData("POST", "/containers/nosuch/frobnicate")]
    [InlineData("PUT", "/containers/create")]
    [InlineData("GET", "/images/busybox/frobnicate")]
    [InlineData("POST", "/images/busybox/frobnicate")]
    public void Unknown_routes_are_a_json_404(string method, string target)
    {
        var a = Send(method, target);
        var path = target.StartsWith("/v1.43") ? target["/v1.43".Length..] : target;
        AssertRefused(a, 404, $"page not found: {method} {path}");
    }

    [Fact]
    public void Successful_json_answers_say_application_json_too()
    {
        var a = Send("GET", "/version");
        Assert.Equal(200, a.Status);
        Assert.Equal("application/json", a.ContentType);
    }

    [Fact]
    public void The_limit_comes_from_the_hocon()
    {
        using var small = new DaemonFixture("gocker.api.max-json-body = 64KiB");
        var json = """{"Image":"busybox","Cmd":["true"],"Env":["A=""" + new string('x', 70_000) + "\"]}";
        var a = RawHttp.Request(small.Socket, "POST", "/containers/create", json);
        Assert.StartsWith("HTTP/1.1 413", a.Head);
        Assert.Contains("Content-Type: application/json\r\n", a.Head);
        Assert.Contains("the limit is 65536 bytes (64 KiB, gocker.api.max-json-body)", Encoding.UTF8.GetString(a.Body));
        // Under it, the same daemon creates.
        var name = Unique("small-");
        var ok = RawHttp.Request(small.Socket, "POST", $"/containers/create?name={name}", """{"Image":"busybox","Cmd":["true"],"HostConfig":{"NetworkMode":"none"}}""");
        Assert.StartsWith("HTTP/1.1 201", ok.Head);
        Assert.Equal(0, small.Gocker("rm", name).ExitCode);
        small.AssertNoLeaks();
    }
}
