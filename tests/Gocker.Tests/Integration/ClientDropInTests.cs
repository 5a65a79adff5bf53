using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using DotNet.Testcontainers.Builders;
using DotNet.Testcontainers.Configurations;
using Gocker.Api;

namespace Gocker.Tests.Integration;

/// <summary>Runs only where Debian's python3-docker is installed (deps.sh installs it).</summary>
public sealed class DockerPyFactAttribute : FactAttribute
{
    public const string Python = "/usr/bin/python3";

    public DockerPyFactAttribute()
    {
        if (!File.Exists(Python) || !Directory.Exists("/usr/lib/python3/dist-packages/docker")) Skip = "python3-docker is not installed";
    }
}

/// <summary>
/// What Docker's own clients call first and read without checking (issue #18, first part): /info,
/// /system/df, the ping's headers, the 101 of a hijack, labels and their filters, exec inspect while
/// the exec runs, one-shot stats. Raw HTTP for the shapes, then the real clients: the docker CLI,
/// Debian's python3-docker, and Testcontainers for .NET (Docker.DotNet underneath).
/// </summary>
[Trait("Needs", "root")]
public sealed class ClientDropInTests(DaemonFixture daemon) : IClassFixture<DaemonFixture>, IDisposable
{
    public void Dispose() => daemon.AssertNoLeaks();

    static string Unique(string prefix) => prefix + Guid.NewGuid().ToString("N")[..8];

    string Ok(params string[] args)
    {
        var r = daemon.Gocker(args);
        Assert.True(r.ExitCode == 0, $"gocker {string.Join(' ', args)}: {r}");
        return r.Stdout.Trim();
    }

    (string Head, byte[] Body) Request(string method, string target, string? json = null) => RawHttp.Request(daemon.Socket, method, target, json);

    JsonElement Json(string method, string target, string? json = null, int status = 200)
    {
        var (head, body) = Request(method, target, json);
        Assert.True(head.StartsWith($"HTTP/1.1 {status} "), $"{method} {target}: {head}{Encoding.UTF8.GetString(body)}");
        using var doc = JsonDocument.Parse(body);
        return doc.RootElement.Clone();
    }

    static string Filters(string key, params string[] values) => Uri.EscapeDataString(JsonSerializer.Serialize(new Dictionary<string, string[]> { [key] = values }));

    List<string> NamesListed(string filtersQuery) =>
        Json("GET", "/v1.43/containers/json?all=1&filters=" + filtersQuery).EnumerateArray()
            .Select(c => c.GetProperty("Names")[0].GetString()!.TrimStart('/')).Order().ToList();

    [Fact]
    public void The_ping_sends_dockers_headers_on_get_and_head()
    {
        foreach (var method in new[] { "GET", "HEAD" })
        {
            using var s = RawHttp.Connect(daemon.Socket);
            s.Send(Encoding.ASCII.GetBytes($"{method} /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n"));
            var head = RawHttp.ReadHead(s);
            Assert.StartsWith("HTTP/1.1 200", head);
            foreach (var h in new[] { "API-Version: 1.43", "OSType: linux", "Docker-Experimental: false" })
                Assert.True(head.Contains(h + "\r\n", StringComparison.OrdinalIgnoreCase), $"{method} /_ping lacks {h}:\n{head}");
        }
    }

    [Fact]
    public void Info_counts_the_engines_containers_and_reports_the_host()
    {
        var running = Unique("ir-");
        var created = Unique("ic-");
        try
        {
            Ok("run", "-d", "--name", running, "--network", "none", "busybox", "sleep", "300");
            Ok("create", "--name", created, "--network", "none", "busybox", "true");
            var info = Json("GET", "/v1.43/info");
            var all = Json("GET", "/v1.43/containers/json?all=1").EnumerateArray().ToList();
            Assert.Equal(all.Count, info.GetProperty("Containers").GetInt32());
            Assert.Equal(all.Count(c => c.GetProperty("State").GetString() == "running"), info.GetProperty("ContainersRunning").GetInt32());
            Assert.True(info.GetProperty("ContainersRunning").GetInt32() >= 1 && info.GetProperty("ContainersStopped").GetInt32() >= 1, info.ToString());
            Assert.Equal(all.Count, info.GetProperty("ContainersRunning").GetInt32() + info.GetProperty("ContainersPaused").GetInt32()
                + info.GetProperty("ContainersStopped").GetInt32());
            Assert.True(info.GetProperty("Images").GetInt32() >= 1);
            Assert.Equal(Environment.ProcessorCount, info.GetProperty("NCPU").GetInt32());
            var memKb = long.Parse(File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemTotal:")).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
            Assert.Equal(memKb * 1024, info.GetProperty("MemTotal").GetInt64());
            Assert.Equal(File.ReadAllText("/proc/sys/kernel/osrelease").Trim(), info.GetProperty("KernelVersion").GetString());
            Assert.Equal(File.ReadAllText("/proc/sys/kernel/hostname").Trim(), info.GetProperty("Name").GetString());
            Assert.Equal(daemon.DataRoot, info.GetProperty("DockerRootDir").GetString());
            Assert.Equal("linux", info.GetProperty("OSType").GetString());
            Assert.Equal("cgroupfs", info.GetProperty("CgroupDriver").GetString());
            Assert.Contains(info.GetProperty("CgroupVersion").GetString(), new[] { "1", "2" });
            Assert.Contains("name=seccomp,profile=builtin", info.GetProperty("SecurityOptions").EnumerateArray().Select(e => e.GetString()));
            var runtime = info.GetProperty("DefaultRuntime").GetString()!;
            Assert.True(info.GetProperty("Runtimes").TryGetProperty(runtime, out _), info.ToString());
            // The engine's ID is made once and kept.
            var id = info.GetProperty("ID").GetString()!;
            Assert.True(Guid.TryParse(id, out _), id);
            Assert.Equal(id, File.ReadAllText(Path.Combine(daemon.DataRoot, "engine-id")).Trim());
            Assert.Equal(id, Json("GET", "/info").GetProperty("ID").GetString());
        }
        finally { daemon.Gocker("rm", "-f", running, created); }
    }

    [Fact]
    public void System_df_sizes_images_and_what_a_container_wrote()
    {
        var name = Unique("df-");
        try
        {
            Ok("run", "-d", "--name", name, "--network", "none", "busybox", "sleep", "300");
            Ok("exec", name, "dd", "if=/dev/zero", "of=/written", "bs=1024", "count=300");
            var df = Json("GET", "/v1.43/system/df");
            Assert.True(df.GetProperty("LayersSize").GetInt64() > 0, df.ToString());
            var busybox = df.GetProperty("Images").EnumerateArray().Single(i => i.GetProperty("RepoTags").EnumerateArray().Any(t => t.GetString() is "busybox:latest" or "busybox"));
            Assert.True(busybox.GetProperty("Containers").GetInt32() >= 1);
            Assert.True(busybox.GetProperty("Size").GetInt64() > 0);
            var c = df.GetProperty("Containers").EnumerateArray().Single(x => x.GetProperty("Names")[0].GetString() == "/" + name);
            var rw = c.GetProperty("SizeRw").GetInt64();
            Assert.True(rw >= 300 * 1024, $"SizeRw {rw}");
            Assert.Equal(rw + busybox.GetProperty("Size").GetInt64(), c.GetProperty("SizeRootFs").GetInt64());
            Assert.Equal(0, df.GetProperty("Volumes").GetArrayLength());
            Assert.Equal(0, df.GetProperty("BuildCache").GetArrayLength());
        }
        finally { daemon.Gocker("rm", "-f", name); }
    }

    [Fact]
    public void Labels_are_kept_shown_and_filtered_on()
    {
        var a = Unique("la-");
        var b = Unique("lb-");
        var child = Unique("lc-");
        var image = Unique("limg");
        var file = Path.Combine(daemon.Root, a + ".labels");
        File.WriteAllText(file, "# a comment\n\nfrom.file=yes\ntier=overridden\n");
        try
        {
            var tag = Unique("t");
            Ok("create", "--name", a, "--network", "none", "--label-file", file, "--label", "tier=web", "--label", "flag", "-l", "suite=" + tag, "busybox", "true");
            Ok("create", "--name", b, "--network", "none", "--label", "tier=db", "--label", "suite=" + tag, "busybox", "true");
            var labels = Json("GET", $"/v1.43/containers/{a}/json").GetProperty("Config").GetProperty("Labels");
            Assert.Equal("yes", labels.GetProperty("from.file").GetString());
            Assert.Equal("web", labels.GetProperty("tier").GetString()); // --label wins over the file
            Assert.Equal("", labels.GetProperty("flag").GetString());
            var listed = Json("GET", "/v1.43/containers/json?all=1&filters=" + Filters("name", a)).EnumerateArray().Single();
            Assert.Equal("web", listed.GetProperty("Labels").GetProperty("tier").GetString());

            Assert.Equal(new[] { a, b }.Order(), NamesListed(Filters("label", "suite=" + tag)));
            Assert.Equal([a], NamesListed(Filters("label", "suite=" + tag, "flag")));          // every label value must match
            Assert.Equal([b], NamesListed(Filters("label", "suite=" + tag, "tier=db")));
            Assert.Empty(NamesListed(Filters("label", "suite=" + tag, "tier=nope")));
            Assert.Equal("tier=web", Ok("ps", "-a", "--filter", "name=" + a, "--format", "{{.Labels}}").Split(',').Single(l => l.StartsWith("tier=")));

            // ancestor: the image and the images committed from it (their parent chain).
            Ok("commit", a, image);
            Ok("create", "--name", child, "--network", "none", "--label", "suite=" + tag, image, "true");
            var suite = Uri.EscapeDataString(JsonSerializer.Serialize(new Dictionary<string, string[]> { ["label"] = ["suite=" + tag], ["ancestor"] = ["busybox"] }));
            Assert.Equal(new[] { a, b, child }.Order(), NamesListed(suite));
            suite = Uri.EscapeDataString(JsonSerializer.Serialize(new Dictionary<string, string[]> { ["label"] = ["suite=" + tag], ["ancestor"] = [image] }));
            Assert.Equal([child], NamesListed(suite));
            Assert.Empty(NamesListed(Filters("ancestor", "no-such-image-" + tag)));

            var (head, body) = Request("GET", "/v1.43/containers/json?filters=" + Filters("volume", "x"));
            Assert.StartsWith("HTTP/1.1 400", head);
            Assert.Contains("volume", Encoding.UTF8.GetString(body));
        }
        finally
        {
            daemon.Gocker("rm", "-f", a, b, child);
            daemon.Gocker("rmi", image);
        }
    }

    [Fact]
    public void Network_labels_are_kept_and_filtered_on()
    {
        var net = Unique("nl-");
        var other = Unique("nm-");
        var tag = Unique("s");
        try
        {
            Json("POST", "/v1.43/networks/create", $$$"""{"Name":"{{{net}}}","Labels":{"suite":"{{{tag}}}","role":"front"}}""", status: 201);
            Ok("network", "create", "--label", "suite=" + tag, other);
            var inspect = Json("GET", $"/v1.43/networks/{net}");
            Assert.Equal("front", inspect.GetProperty("Labels").GetProperty("role").GetString());
            List<string> Names(string filters) => Json("GET", "/v1.43/networks?filters=" + filters).EnumerateArray().Select(n => n.GetProperty("Name").GetString()!).Order().ToList();
            Assert.Equal(new[] { net, other }.Order(), Names(Filters("label", "suite=" + tag)));
            Assert.Equal([net], Names(Filters("label", "suite=" + tag, "role=front")));
            Assert.Equal([net], Names(Filters("name", net)));
            Assert.Equal(tag, Json("GET", $"/v1.43/networks/{other}").GetProperty("Labels").GetProperty("suite").GetString());
            var ls = Ok("network", "ls", "--filter", "label=suite=" + tag, "--filter", "label=role=front");
            Assert.Contains(net, ls);
            Assert.DoesNotContain(other, ls);
            var (head, body) = Request("GET", "/v1.43/networks?filters=" + Filters("dangling", "true"));
            Assert.StartsWith("HTTP/1.1 400", head);
            Assert.Contains("dangling", Encoding.UTF8.GetString(body));
        }
        finally
        {
            daemon.Gocker("network", "rm", net);
            daemon.Gocker("network", "rm", other);
        }
    }

    [Fact]
    public void Hijacked_answers_carry_the_upgrade_headers_and_exec_inspect_has_a_null_exit_code_while_it_runs()
    {
        var name = Unique("hx-");
        try
        {
            Ok("run", "-d", "--name", name, "--network", "none", "busybox", "sleep", "300");
            var exec = Json("POST", $"/v1.43/containers/{name}/exec",
                """{"AttachStdin":true,"AttachStdout":true,"AttachStderr":true,"Cmd":["sh","-c","cat; exit 4"]}""", status: 201).GetProperty("Id").GetString()!;
            var before = Json("GET", $"/v1.43/exec/{exec}/json");
            Assert.Equal(JsonValueKind.Null, before.GetProperty("ExitCode").ValueKind);
            Assert.False(before.GetProperty("Running").GetBoolean());
            using (var s = RawHttp.Connect(daemon.Socket))
            {
                s.Send(Encoding.ASCII.GetBytes($"POST /v1.43/exec/{exec}/start HTTP/1.1\r\nHost: d\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n"));
                var head = RawHttp.ReadHead(s);
                Assert.StartsWith("HTTP/1.1 101", head);
                Assert.Contains("Connection: Upgrade\r\n", head);
                Assert.Contains("Upgrade: tcp\r\n", head);
                // `cat` waits on our input: the exec is running for as long as we keep it open. The
                // 101 goes out before the process starts (as dockerd's): it runs a moment later.
                var during = Json("GET", $"/v1.43/exec/{exec}/json");
                for (int i = 0; i < 200 && !during.GetProperty("Running").GetBoolean(); i++)
                {
                    Thread.Sleep(50);
                    during = Json("GET", $"/v1.43/exec/{exec}/json");
                }
                Assert.True(during.GetProperty("Running").GetBoolean(), during.ToString());
                Assert.Equal(JsonValueKind.Null, during.GetProperty("ExitCode").ValueKind);
                Assert.True(during.GetProperty("Pid").GetInt32() > 0);
                Assert.Equal(Json("GET", $"/v1.43/containers/{name}/json").GetProperty("Id").GetString(), during.GetProperty("ContainerID").GetString());
                Assert.Equal("sh", during.GetProperty("ProcessConfig").GetProperty("entrypoint").GetString());
                Assert.True(during.GetProperty("OpenStdin").GetBoolean());
                s.Send("in\n"u8);
                s.Shutdown(SocketShutdown.Send);
                RawHttp.ReadToEnd(s);
            }
            var after = Json("GET", $"/v1.43/exec/{exec}/json");
            Assert.False(after.GetProperty("Running").GetBoolean());
            Assert.Equal(4, after.GetProperty("ExitCode").GetInt32());

            using var attach = RawHttp.Connect(daemon.Socket);
            attach.Send(Encoding.ASCII.GetBytes($"POST /v1.43/containers/{name}/attach?stream=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: d\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n"));
            var attachHead = RawHttp.ReadHead(attach);
            Assert.StartsWith("HTTP/1.1 101", attachHead);
            Assert.Contains("Connection: Upgrade\r\n", attachHead);
            Assert.Contains("Upgrade: tcp\r\n", attachHead);
        }
        finally { daemon.Gocker("rm", "-f", name); }
    }

    [Fact]
    public void Stats_without_a_stream_is_one_object_with_go_readable_times()
    {
        var name = Unique("st-");
        try
        {
            Ok("run", "-d", "--name", name, "--network", "none", "busybox", "sleep", "300");
            foreach (var flag in new[] { "False", "0", "false" })
            {
                // Request reads to the end of the body: it returns only if the answer ends.
                var (head, body) = Request("GET", $"/v1.43/containers/{name}/stats?stream={flag}");
                Assert.StartsWith("HTTP/1.1 200", head);
                var text = Encoding.UTF8.GetString(body);
                Assert.DoesNotContain("\\u002B", text);
                using var doc = JsonDocument.Parse(body); // exactly one JSON value
                foreach (var field in new[] { "read", "preread" })
                {
                    var t = doc.RootElement.GetProperty(field).GetString()!;
                    Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$", t);
                }
                Assert.True(doc.RootElement.GetProperty("memory_stats").GetProperty("usage").GetInt64() > 0);
            }
            var (bad, badBody) = Request("GET", $"/v1.43/containers/{name}/stats?stream=maybe");
            Assert.StartsWith("HTTP/1.1 400", bad);
            Assert.Contains("stream", Encoding.UTF8.GetString(badBody));
        }
        finally { daemon.Gocker("rm", "-f", name); }
    }

    // ---- the real clients ----------------------------------------------------------------------

    (int Code, string Out, string Err) Run(string file, IEnumerable<string> args, string? stdin = null)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        // Their own config dir: nothing of the machine's docker settings (contexts, auth) is used or touched.
        psi.Environment["DOCKER_CONFIG"] = Path.Combine(daemon.Root, "docker-config");
        psi.Environment["DOCKER_HOST"] = "unix://" + daemon.Socket;
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEndAsync();
        if (stdin is not null) p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        if (!p.WaitForExit(120_000))
        {
            p.Kill(true);
            Assert.Fail($"{file} {string.Join(' ', args)} did not finish");
        }
        p.WaitForExit();
        return (p.ExitCode, output.Result, err.Result);
    }

    (int Code, string Out, string Err) Docker(params string[] args) => Run(DockerCliFactAttribute.Path!, args);

    [DockerCliFact]
    public void The_docker_cli_shows_info_disk_usage_and_stats()
    {
        var name = Unique("dcs-");
        try
        {
            var info = Docker("info");
            Assert.True(info.Code == 0, $"docker info: {info}");
            Assert.Contains($" CPUs: {Environment.ProcessorCount}\n", info.Out);
            Assert.Contains(" Docker Root Dir: " + daemon.DataRoot + "\n", info.Out);
            Assert.Contains(" OSType: linux\n", info.Out);
            Assert.Contains(" Kernel Version: " + File.ReadAllText("/proc/sys/kernel/osrelease").Trim() + "\n", info.Out);

            var run = Docker("run", "-d", "--name", name, "--network", "none", "--label", "via=docker", "busybox", "sleep", "300");
            Assert.True(run.Code == 0, $"docker run: {run}");
            var df = Docker("system", "df");
            Assert.True(df.Code == 0, $"docker system df: {df}");
            Assert.Matches(@"(?m)^Containers\s+\d+\s+[1-9]", df.Out);
            var stats = Docker("stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", name);
            Assert.True(stats.Code == 0, $"docker stats --no-stream: {stats}");
            Assert.Equal(name + " 1", stats.Out.Trim());
            var ps = Docker("ps", "--filter", "label=via=docker", "--format", "{{.Names}} {{.Label \"via\"}}");
            Assert.True(ps.Code == 0, $"docker ps: {ps}");
            Assert.Contains(name + " docker\n", ps.Out);
        }
        finally { daemon.Gocker("rm", "-f", name); }
    }

    const string DockerPyScript = """
        import docker, json, sys
        client = docker.DockerClient(base_url=sys.argv[1], version="1.43")
        out = {}
        info = client.info()
        out["ncpu"] = info["NCPU"]
        out["containers"] = info["Containers"]
        c = client.containers.run("busybox", ["sleep", "300"], detach=True, labels={"suite": sys.argv[2], "role": "py"},
                                  network_mode="none", name=sys.argv[3])
        try:
            c.reload()
            out["labels"] = c.labels
            out["listed"] = [x.name for x in client.containers.list(filters={"label": "suite=" + sys.argv[2]})]
            out["unlisted"] = [x.name for x in client.containers.list(filters={"label": "suite=other"})]
            r = c.exec_run(["sh", "-c", "echo from-exec; exit 7"])
            out["exec_code"] = r.exit_code
            out["exec_output"] = r.output.decode()
            s = c.stats(stream=False)
            out["stats_read"] = s["read"]
            out["stats_pids"] = s["pids_stats"]["current"]
        finally:
            c.remove(force=True)
        print(json.dumps(out))
        """;

    /// <summary>docker-py reads the 101's head through a buffered reader, then takes the raw socket:
    /// output sent right behind the head was lost to it about one exec in ten while the daemon
    /// started the process before answering. The 101 now goes out first, as dockerd's.</summary>
    [DockerPyFact]
    public void Docker_py_exec_run_gets_every_output_of_a_quick_command()
    {
        var name = Unique("pyx-");
        const string script = """
            import sys, docker
            c = docker.DockerClient(base_url=sys.argv[1])
            ct = c.containers.run("busybox", ["sleep", "300"], detach=True, network_mode="none", name=sys.argv[2])
            bad = []
            for i in range(60):
                r = ct.exec_run(["sh", "-c", "echo out-%d; exit 3" % i])
                if r.output != b"out-%d\n" % i or r.exit_code != 3:
                    bad.append((i, r.exit_code, r.output))
            print("bad", bad)
            """;
        try
        {
            var r = DockerPy.Run(daemon, script, name);
            Assert.True(r.Code == 0, $"docker-py: {r}");
            Assert.Equal("bad []", r.Out.Trim().Split('\n')[^1]);
        }
        finally { daemon.Gocker("rm", "-f", name); }
    }

    [DockerPyFact]
    public void Docker_py_runs_lists_by_label_execs_and_reads_stats()
    {
        var name = Unique("py-");
        var tag = Unique("s");
        try
        {
            using var doc = DockerPy.RunForJson(daemon, DockerPyScript, tag, name);
            var o = doc.RootElement;
            Assert.Equal(Environment.ProcessorCount, o.GetProperty("ncpu").GetInt32());
            Assert.Equal(tag, o.GetProperty("labels").GetProperty("suite").GetString());
            Assert.Equal("py", o.GetProperty("labels").GetProperty("role").GetString());
            Assert.Equal([name], o.GetProperty("listed").EnumerateArray().Select(e => e.GetString()));
            Assert.Equal(0, o.GetProperty("unlisted").GetArrayLength());
            Assert.Equal(7, o.GetProperty("exec_code").GetInt32());
            Assert.Equal("from-exec\n", o.GetProperty("exec_output").GetString());
            Assert.DoesNotContain("+", o.GetProperty("stats_read").GetString());
            Assert.Equal(1, o.GetProperty("stats_pids").GetInt32());
        }
        finally { daemon.Gocker("rm", "-f", name); }
    }

    [Fact]
    public async Task Testcontainers_starts_a_container_and_execs_in_it()
    {
        // No Ryuk: it would be one more container (an image of its own, which this daemon has not got).
        TestcontainersSettings.ResourceReaperEnabled = false;
        var name = Unique("tc-");
        var container = new ContainerBuilder("busybox:latest")
            .WithDockerEndpoint("unix://" + daemon.Socket)
            .WithImagePullPolicy(DotNet.Testcontainers.Images.PullPolicy.Never)
            .WithName(name)
            .WithCommand("sleep", "300")
            .WithLabel("suite", name)
            .Build();
        try
        {
            await container.StartAsync();
            var result = await container.ExecAsync(["sh", "-c", "echo tc-out; echo tc-err >&2; exit 9"]);
            Assert.Equal(9, result.ExitCode);
            Assert.Equal("tc-out\n", result.Stdout);
            Assert.Equal("tc-err\n", result.Stderr);
            var inspect = Json("GET", $"/v1.43/containers/{name}/json");
            Assert.Equal(name, inspect.GetProperty("Config").GetProperty("Labels").GetProperty("suite").GetString());
        }
        finally
        {
            await container.DisposeAsync();
            daemon.Gocker("rm", "-f", name);
        }
    }
}
