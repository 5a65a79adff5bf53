using System.Text;
using System.Text.Json;
using Gocker.Cli;
using Gocker.Network;
using Gocker.Network.Api;
using Gocker.Tests.Cli;

namespace Gocker.Tests.Network;

/// <summary>gocker network ... against a fake daemon whose answers are the real API models.</summary>
public class NetworkCliTests
{
    static (int Code, string Out, string Err) Run(FakeUnixServer server, params string[] args)
    {
        var stdout = new MemoryStream();
        var stderr = new MemoryStream();
        int code;
        using (var io = new CliIO(stdout, stderr))
            code = new CliApp(new CliContext(io, k => k == HostAddress.EnvVar ? server.HostUri : null, () => DateTimeOffset.UnixEpoch)).Run(args);
        return (code, Encoding.UTF8.GetString(stdout.ToArray()), Encoding.UTF8.GetString(stderr.ToArray()));
    }

    static readonly NetworkRecord Rec = new()
    {
        Id = new string('a', 64), Name = "backend", Bridge = "gk-aaaaaaaaaaaa", Subnet = "10.200.1.0/24", Gateway = "10.200.1.1",
    };

    [Fact]
    public void Create_sends_docker_shaped_body_and_prints_the_id()
    {
        using var server = new FakeUnixServer((req, s) => FakeUnixServer.Respond(s, 201, $"{{\"Id\":\"{Rec.Id}\",\"Warning\":\"\"}}"));
        var r = Run(server, "network", "create", "--subnet", "10.200.1.0/24", "--gateway", "10.200.1.1", "backend");
        Assert.Equal(0, r.Code);
        Assert.Equal(Rec.Id + "\n", r.Out);
        Assert.True(server.Requests.TryDequeue(out var req));
        Assert.Equal("/networks/create", req.Path);
        var body = JsonSerializer.Deserialize(req.Body, NetworkApiJson.Default.NetworkCreateRequest)!;
        Assert.Equal("backend", body.Name);
        Assert.Equal("10.200.1.0/24", body.IPAM!.Config[0].Subnet);
        Assert.Equal("10.200.1.1", body.IPAM.Config[0].Gateway);
    }

    [Fact]
    public void Ls_prints_a_table_and_inspect_passes_the_json_through()
    {
        var info = new NetworkInfo(Rec, [new NetworkInfo.Member(new string('c', 64), "web", new EndpointInfo(Rec.Id, "backend", "eth0", "10.200.1.2", 24, "10.200.1.1", "aa:bb:cc:dd:ee:ff", []))]);
        var json = JsonSerializer.Serialize(NetworkResource.From(info), NetworkApiJson.Default.NetworkResource);
        using var server = new FakeUnixServer((req, s) =>
            FakeUnixServer.Respond(s, 200, req.Path == "/networks" ? "[" + json + "]" : json));
        var ls = Run(server, "network", "ls");
        Assert.Equal(0, ls.Code);
        Assert.Equal("NETWORK ID     NAME      DRIVER   SCOPE\naaaaaaaaaaaa   backend   bridge   local\n", ls.Out);
        var inspect = Run(server, "network", "inspect", "backend");
        Assert.Equal(0, inspect.Code);
        using var doc = JsonDocument.Parse(inspect.Out);
        var c = doc.RootElement[0].GetProperty("Containers").GetProperty(new string('c', 64));
        Assert.Equal("10.200.1.2/24", c.GetProperty("IPv4Address").GetString());
        Assert.Equal("10.200.1.0/24", doc.RootElement[0].GetProperty("IPAM").GetProperty("Config")[0].GetProperty("Subnet").GetString());
    }

    [Fact]
    public void Rm_reports_each_failure_and_connect_posts_the_container()
    {
        using var server = new FakeUnixServer((req, s) =>
        {
            if (req.Method == "DELETE" && req.Path.EndsWith("/busy")) FakeUnixServer.Respond(s, 409, "{\"message\":\"network busy has active endpoints (web)\"}");
            else if (req.Method == "DELETE") FakeUnixServer.RespondNoContent(s);
            else FakeUnixServer.Respond(s, 200, "");
        });
        var rm = Run(server, "network", "rm", "idle", "busy");
        Assert.Equal(1, rm.Code);
        Assert.Equal("idle\n", rm.Out);
        Assert.Contains("Error response from daemon: network busy has active endpoints (web)", rm.Err);
        while (server.Requests.TryDequeue(out _)) { }
        Assert.Equal(0, Run(server, "network", "connect", "backend", "web").Code);
        Assert.True(server.Requests.TryDequeue(out var req));
        Assert.Equal("/networks/backend/connect", req.Path);
        Assert.Equal("web", JsonSerializer.Deserialize(req.Body, NetworkApiJson.Default.NetworkConnectRequest)!.Container);
    }
}
