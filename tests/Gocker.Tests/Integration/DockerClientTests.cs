using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Gocker.Api;

namespace Gocker.Tests.Integration;

/// <summary>Runs only where the docker CLI is installed (the client alone: no Docker engine is needed).</summary>
public sealed class DockerCliFactAttribute : FactAttribute
{
    public static string? Path { get; } = (Environment.GetEnvironmentVariable("PATH") ?? "")
        .Split(':', StringSplitOptions.RemoveEmptyEntries)
        .Select(d => System.IO.Path.Combine(d, "docker"))
        .FirstOrDefault(File.Exists);

    public DockerCliFactAttribute()
    {
        if (Path is null) Skip = "the docker CLI is not installed";
    }

    /// <summary>Runs the docker CLI against a daemon's socket, with its own config dir under root (nothing
    /// of the machine's docker settings, contexts or auth, is used or touched).</summary>
    public static (int Code, string Out, string Err) Run(string socket, string root, string? stdin, params string[] args)
    {
        var psi = new System.Diagnostics.ProcessStartInfo(Path!)
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        psi.ArgumentList.Add("-H");
        psi.ArgumentList.Add("unix://" + socket);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["DOCKER_CONFIG"] = System.IO.Path.Combine(root, "docker-config");
        psi.Environment.Remove("DOCKER_HOST");
        using var p = System.Diagnostics.Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEndAsync();
        if (stdin is not null) p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        Assert.True(p.WaitForExit(120_000), "docker " + string.Join(' ', args) + " did not finish");
        return (p.ExitCode, output.Result, err.Result);
    }
}

/// <summary>
/// gockerd speaks enough of the Docker Engine API for Docker's own clients: versioned paths
/// (/v1.43/...), the API version on /_ping, and exec start as Docker sends it (an upgrade with a
/// JSON body, which Kestrel alone would not upgrade). Raw HTTP as those clients write it, and the
/// real docker CLI where it is installed.
/// </summary>
[Trait("Needs", "root")]
public sealed class DockerClientTests(DaemonFixture daemon) : IClassFixture<DaemonFixture>, IDisposable
{
    public void Dispose() => daemon.AssertNoLeaks();

    static string Unique(string prefix) => prefix + Guid.NewGuid().ToString("N")[..8];

    string Ok(params string[] args)
    {
        var r = daemon.Gocker(args);
        Assert.True(r.ExitCode == 0, $"gocker {string.Join(' ', args)}: {r}");
        return r.Stdout.Trim();
    }

    Socket Connect() => RawHttp.Connect(daemon.Socket);
    static string ReadHead(Socket s) => RawHttp.ReadHead(s);
    static byte[] ReadToEnd(Socket s) => RawHttp.ReadToEnd(s);
    static byte[] ReadBody(Socket s, string head) => RawHttp.ReadBody(s, head);
    (string Head, byte[] Body) Request(string method, string target, string? json = null) => RawHttp.Request(daemon.Socket, method, target, json);

    string CreateExec(string container, string cmdJson, bool tty)
    {
        var (head, body) = Request("POST", $"/v1.43/containers/{container}/exec",
            $$"""{"AttachStdin":false,"AttachStdout":true,"AttachStderr":true,"Tty":{{(tty ? "true" : "false")}},"Cmd":{{cmdJson}}}""");
        Assert.True(head.StartsWith("HTTP/1.1 201"), head + Encoding.UTF8.GetString(body));
        using var doc = System.Text.Json.JsonDocument.Parse(body);
        return doc.RootElement.GetProperty("Id").GetString()!;
    }

    /// <summary>docker's exec start: Connection: Upgrade with the start options as a JSON body, all in one write.</summary>
    Socket StartExecAsDockerDoes(string execId, string json)
    {
        var s = Connect();
        var body = Encoding.UTF8.GetBytes(json);
        s.Send([.. Encoding.ASCII.GetBytes($"POST /v1.43/exec/{execId}/start HTTP/1.1\r\nHost: api.moby.localhost\r\n" +
            $"User-Agent: Docker-Client/28.2.2 (linux)\r\nContent-Length: {body.Length}\r\nConnection: Upgrade\r\n" +
            "Content-Type: application/json\r\nUpgrade: tcp\r\n\r\n"), .. body]);
        var head = ReadHead(s);
        Assert.True(head.StartsWith("HTTP/1.1 101 "), head);
        return s;
    }

    [Fact]
    public void Versioned_paths_reach_the_routes_and_the_ping_names_the_api_version()
    {
        var (ping, pong) = Request("GET", "/_ping");
        Assert.StartsWith("HTTP/1.1 200", ping);
        Assert.Contains("API-Version: 1.43\r\n", ping);
        Assert.Equal("OK", Encoding.ASCII.GetString(pong));

        var name = Unique("dv-");
        try
        {
            var id = Ok("create", "--name", name, "--network", "none", "busybox", "true");
            var (head, body) = Request("GET", $"/v1.43/containers/{name}/json");
            Assert.StartsWith("HTTP/1.1 200", head);
            Assert.Contains(id, Encoding.UTF8.GetString(body));
            var (list, _) = Request("GET", "/v1.24/containers/json?all=1");
            Assert.StartsWith("HTTP/1.1 200", list);
        }
        finally { daemon.Gocker("rm", "-f", name); }
    }

    [Fact]
    public void Exec_start_with_a_body_is_upgraded_with_framed_output_and_the_exit_code()
    {
        var name = Unique("dx-");
        try
        {
            Ok("run", "-d", "--name", name, "--network", "none", "busybox", "sleep", "300");
            var execId = CreateExec(name, """["sh","-c","echo out; echo err >&2; exit 6"]""", tty: false);
            using (var s = StartExecAsDockerDoes(execId, """{"Detach":false,"Tty":false}"""))
            {
                var data = ReadToEnd(s);
                var o = new StringBuilder();
                var e = new StringBuilder();
                for (int i = 0; i < data.Length;)
                {
                    var (stream, length) = Multiplex.ReadHeader(data.AsSpan(i, Multiplex.HeaderSize));
                    i += Multiplex.HeaderSize;
                    (stream == Multiplex.Stdout ? o : e).Append(Encoding.UTF8.GetString(data, i, length));
                    i += length;
                }
                Assert.Equal("out\n", o.ToString());
                Assert.Equal("err\n", e.ToString());
            }
            var (_, inspect) = Request("GET", $"/v1.43/exec/{execId}/json");
            using var doc = System.Text.Json.JsonDocument.Parse(inspect);
            Assert.Equal(6, doc.RootElement.GetProperty("ExitCode").GetInt32());
        }
        finally { daemon.Gocker("rm", "-f", name); }
    }

    [Fact]
    public void A_tty_exec_starts_at_the_console_size_from_the_body()
    {
        var name = Unique("dt-");
        try
        {
            Ok("run", "-d", "--name", name, "--network", "none", "busybox", "sleep", "300");
            var execId = CreateExec(name, """["stty","size"]""", tty: true);
            using var s = StartExecAsDockerDoes(execId, """{"Detach":false,"Tty":true,"ConsoleSize":[33,110]}""");
            Assert.Equal("33 110", Encoding.UTF8.GetString(ReadToEnd(s)).Trim());
        }
        finally { daemon.Gocker("rm", "-f", name); }
    }

    [Fact]
    public void A_second_request_on_the_connection_is_not_rewritten()
    {
        // Only a connection's first request is looked at; a keep-alive request after it reaches
        // Kestrel as sent (here: an ordinary POST with a body, answered 201).
        var name = Unique("dk-");
        try
        {
            Ok("run", "-d", "--name", name, "--network", "none", "busybox", "sleep", "300");
            using var s = Connect();
            var body = Encoding.UTF8.GetBytes("""{"AttachStdout":true,"Cmd":["true"]}""");
            var request = Encoding.ASCII.GetBytes($"POST /v1.43/containers/{name}/exec HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n");
            s.Send([.. request, .. body]);
            var first = ReadHead(s);
            Assert.StartsWith("HTTP/1.1 201", first);
            ReadBody(s, first);
            s.Send([.. request, .. body]);
            Assert.StartsWith("HTTP/1.1 201", ReadHead(s));
        }
        finally { daemon.Gocker("rm", "-f", name); }
    }

    (int Code, string Out, string Err) Docker(string? stdin, params string[] args) =>
        DockerCliFactAttribute.Run(daemon.Socket, daemon.Root, stdin, args);

    [DockerCliFact]
    public void The_docker_cli_runs_execs_and_lists_containers()
    {
        var name = Unique("dc-");
        try
        {
            var run = Docker(null, "run", "--rm", "--network", "none", "busybox", "sh", "-c", "echo from-docker; exit 3");
            Assert.True(run.Code == 3, $"docker run: {run}");
            Assert.Equal("from-docker\n", run.Out);

            var detached = Docker(null, "run", "-d", "--name", name, "--network", "none", "busybox", "sleep", "300");
            Assert.True(detached.Code == 0, $"docker run -d: {detached}");
            var exec = Docker("piped\n", "exec", "-i", name, "sh", "-c", "cat; echo err >&2; exit 5");
            Assert.True(exec.Code == 5, $"docker exec: {exec}");
            Assert.Equal("piped\n", exec.Out);
            Assert.Equal("err\n", exec.Err);

            var ps = Docker(null, "ps", "--filter", "name=" + name, "--format", "{{.Names}} {{.Status}}");
            Assert.True(ps.Code == 0, $"docker ps: {ps}");
            Assert.StartsWith(name + " Up ", ps.Out);
            var rm = Docker(null, "rm", "-f", name);
            Assert.True(rm.Code == 0, $"docker rm -f: {rm}");
            Assert.Equal("", Ok("ps", "-a", "-q", "--filter", "name=" + name));
        }
        finally { daemon.Gocker("rm", "-f", name); }
    }
}
