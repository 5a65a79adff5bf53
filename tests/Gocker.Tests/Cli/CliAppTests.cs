using System.Text;
using System.Text.Json;
using Gocker.Api;
using Gocker.Cli;

namespace Gocker.Tests.Cli;

/// <summary>The whole console against a fake daemon on a temp Unix socket.</summary>
public class CliAppTests
{
    private const string Id = "4f2a9c1b7e3d5a6b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b";

    private sealed record Result(int Code, byte[] StdOut, string StdErr)
    {
        public string Out => Encoding.UTF8.GetString(StdOut);
    }

    private static Result Run(string? host, params string[] args) => Run(host, _ => null, args);

    private static Result Run(string? host, Func<string, string?> env, params string[] args)
    {
        var stdout = new MemoryStream();
        var stderr = new MemoryStream();
        int code;
        using (var io = new CliIO(stdout, stderr))
        {
            var ctx = new CliContext(io, k => k == HostAddress.EnvVar ? host : env(k), () => DateTimeOffset.FromUnixTimeSeconds(2_000_000_000));
            code = new CliApp(ctx).Run(args);
        }
        return new Result(code, stdout.ToArray(), Encoding.UTF8.GetString(stderr.ToArray()));
    }

    /// <summary>A fake daemon for an attached run: attach streams frames once start arrived, wait
    /// answers after that, the status code given.</summary>
    /// <param name="inOne">Answers create?gockerRun= as gockerd does (the whole run in its stream);
    /// otherwise as an older daemon, with the plain create (the console then makes the three requests).</param>
    private static FakeUnixServer FakeRunDaemon(int statusCode, string? startError = null, bool sendSystemFrame = true, string? waitError = null, bool inOne = false)
    {
        var started = new ManualResetEventSlim();
        return new FakeUnixServer((req, s) =>
        {
            switch (req.Path)
            {
                case "/containers/create" when inOne && req.Target.Contains("gockerRun="):
                    FakeUnixServer.StartChunked(s);
                    FakeUnixServer.WriteChunk(s, FakeUnixServer.Frame(Multiplex.System, Encoding.UTF8.GetBytes($"{{\"Id\":\"{Id}\",\"Warnings\":[\"w1\"]}}")));
                    if (startError is not null)
                        FakeUnixServer.WriteChunk(s, FakeUnixServer.Frame(Multiplex.System, Encoding.UTF8.GetBytes(
                            $"{{\"StatusCode\":{statusCode},\"Error\":{{\"Message\":\"{startError}\"}},\"GockerStartFailed\":true}}")));
                    else
                    {
                        FakeUnixServer.WriteChunk(s, FakeUnixServer.Frame(Multiplex.Stdout, "hello\n"u8));
                        FakeUnixServer.WriteChunk(s, FakeUnixServer.Frame(Multiplex.Stderr, "warn\n"u8));
                        if (sendSystemFrame)
                            FakeUnixServer.WriteChunk(s, FakeUnixServer.Frame(Multiplex.System, Encoding.UTF8.GetBytes(WaitJson(statusCode, waitError))));
                    }
                    FakeUnixServer.EndChunked(s);
                    break;
                case "/containers/create":
                    FakeUnixServer.Respond(s, 201, $"{{\"Id\":\"{Id}\",\"Warnings\":[]}}");
                    break;
                case var p when p.EndsWith("/attach"):
                    FakeUnixServer.StartChunked(s);
                    if (!started.Wait(TimeSpan.FromSeconds(30))) return;
                    if (startError is not null) return;
                    FakeUnixServer.WriteChunk(s, FakeUnixServer.Frame(Multiplex.Stdout, "hello\n"u8));
                    FakeUnixServer.WriteChunk(s, FakeUnixServer.Frame(Multiplex.Stderr, "warn\n"u8));
                    FakeUnixServer.WriteChunk(s, FakeUnixServer.Frame(Multiplex.Stdout, [0, 255, 10]));
                    // gockerWait: the wait's answer (JSON) as gockerd sends it; otherwise none (the console then
                    // asked /wait for the exit).
                    if (sendSystemFrame && req.Target.Contains("gockerWait="))
                        FakeUnixServer.WriteChunk(s, FakeUnixServer.Frame(Multiplex.System, Encoding.UTF8.GetBytes(WaitJson(statusCode, waitError))));
                    FakeUnixServer.EndChunked(s);
                    break;
                case var p when p.EndsWith("/wait"):
                    if (!started.Wait(TimeSpan.FromSeconds(30))) { Thread.Sleep(Timeout.Infinite); return; }
                    FakeUnixServer.Respond(s, 200, WaitJson(statusCode, waitError));
                    break;
                case var p when p.EndsWith("/start"):
                    if (startError is not null)
                    {
                        started.Set();
                        FakeUnixServer.Respond(s, 400, startError);
                    }
                    else
                    {
                        FakeUnixServer.RespondNoContent(s);
                        started.Set();
                    }
                    break;
                default:
                    FakeUnixServer.Respond(s, 404, "{\"message\":\"page not found\"}");
                    break;
            }
        });
    }

    [Fact]
    public void Run_attached_pumps_output_and_exits_with_the_container_code()
    {
        using var d = FakeRunDaemon(3);
        var r = Run(d.HostUri, "run", "--rm", "--name", "web", "-e", "A=1", "-m", "64m", "--cpus", "0.5", "-v", "/tmp:/data:ro",
            "-w", "/data", "-h", "box", "--pids-limit", "20", "-c", "512", "--cpuset-cpus", "0", "--network", "none",
            "busybox", "sh", "-c", "echo a b", "--rm");
        Assert.Equal(3, r.Code);
        Assert.Equal([.. "hello\n"u8.ToArray(), 0, 255, 10], r.StdOut);
        Assert.Equal("warn\n", r.StdErr);

        // The one-request run first; this daemon (as an older gockerd) answers the plain create.
        var create = d.Requests.Single(q => q.Path == "/containers/create");
        Assert.Equal("/containers/create?gockerRun=removed&name=web", create.Target);
        var body = JsonSerializer.Deserialize(create.Body, GockerJson.Default.ContainerCreateRequest)!;
        Assert.Equal("busybox", body.Image);
        Assert.Equal(["sh", "-c", "echo a b", "--rm"], body.Cmd);
        Assert.Equal(["A=1"], body.Env);
        Assert.Equal("/data", body.WorkingDir);
        Assert.Equal("box", body.Hostname);
        Assert.True(body.AttachStdout);
        var h = body.HostConfig!;
        Assert.True(h.AutoRemove);
        Assert.Equal(64L << 20, h.Memory);
        Assert.Equal(500_000_000L, h.NanoCpus);
        Assert.Equal(["/tmp:/data:ro"], h.Binds);
        Assert.Equal(20L, h.PidsLimit);
        Assert.Equal(512L, h.CpuShares);
        Assert.Equal("0", h.CpusetCpus);
        Assert.Equal("none", h.NetworkMode);
        // --rm waits for removal: the attach stream ends with the wait's answer (gockerWait), no /wait.
        Assert.Contains(d.Requests, q => q.Target == $"/containers/{Id}/attach?stream=1&stdout=1&stderr=1&gockerWait=removed");
        Assert.DoesNotContain(d.Requests, q => q.Path.EndsWith("/wait"));
    }

    [Fact]
    public void Run_in_one_request_prints_the_output_and_exits_with_the_streamed_code()
    {
        using var d = FakeRunDaemon(3, inOne: true);
        var r = Run(d.HostUri, "run", "busybox", "true");
        Assert.Equal(3, r.Code);
        Assert.Equal("hello\n", Encoding.UTF8.GetString(r.StdOut));
        Assert.Equal("WARNING: w1\nwarn\n", r.StdErr);
        var only = Assert.Single(d.Requests);
        Assert.Equal("/containers/create?gockerRun=next-exit", only.Target);
    }

    [Fact]
    public void Run_in_one_request_reports_a_start_failure_with_its_code()
    {
        using var d = FakeRunDaemon(127, startError: "exec: nosuch: executable file not found in $PATH", inOne: true);
        var r = Run(d.HostUri, "run", "--rm", "busybox", "nosuch");
        Assert.Equal(127, r.Code);
        Assert.Contains("Error response from daemon: exec: nosuch: executable file not found in $PATH", r.StdErr);
        Assert.Single(d.Requests);
    }

    [Fact]
    public void Run_in_one_request_says_so_when_the_stream_ends_without_the_exit_status()
    {
        using var d = FakeRunDaemon(0, sendSystemFrame: false, inOne: true);
        var r = Run(d.HostUri, "run", "--rm", "busybox");
        Assert.Equal(125, r.Code);
        Assert.Contains("without the container's exit status", r.StdErr);
    }

    static string WaitJson(int statusCode, string? error) => error is null
        ? $"{{\"StatusCode\":{statusCode}}}"
        : $"{{\"StatusCode\":{statusCode},\"Error\":{{\"Message\":\"{error}\"}}}}";

    [Fact]
    public void Run_reports_an_error_in_the_streamed_wait_answer()
    {
        using var d = FakeRunDaemon(-1, waitError: "the container vanished");
        var r = Run(d.HostUri, "run", "--rm", "busybox");
        Assert.Equal(125, r.Code);
        Assert.Contains("error waiting for container: the container vanished", r.StdErr);
    }

    [Fact]
    public void Run_says_so_when_the_output_ends_without_the_exit_status()
    {
        // A daemon that ends the stream without the system frame (it was cut, or does not know gockerWait).
        using var d = FakeRunDaemon(0, sendSystemFrame: false);
        var r = Run(d.HostUri, "run", "--rm", "busybox");
        Assert.Equal(125, r.Code);
        Assert.Contains("without the container's exit status", r.StdErr);
        Assert.Equal([.. "hello\n"u8.ToArray(), 0, 255, 10], r.StdOut);
    }

    [Fact]
    public void Run_without_rm_waits_for_next_exit_and_uses_the_wait_code()
    {
        using var d = FakeRunDaemon(137);
        var r = Run(d.HostUri, "run", "busybox");
        Assert.Equal(137, r.Code);
        Assert.Contains(d.Requests, q => q.Target == $"/containers/{Id}/attach?stream=1&stdout=1&stderr=1&gockerWait=next-exit");
        var body = JsonSerializer.Deserialize(d.Requests.Single(q => q.Path == "/containers/create").Body, GockerJson.Default.ContainerCreateRequest)!;
        Assert.Null(body.Cmd);
        Assert.Null(body.Env);
    }

    [Fact]
    public void Start_failure_exits_with_the_daemon_exit_code()
    {
        using var d = FakeRunDaemon(0, startError: "{\"message\":\"exec: \\\"nope\\\": executable file not found in $PATH\",\"ExitCode\":127}");
        var r = Run(d.HostUri, "run", "busybox", "nope");
        Assert.Equal(127, r.Code);
        Assert.StartsWith("gocker: Error response from daemon: exec: \"nope\": executable file not found", r.StdErr);
    }

    [Fact]
    public void Run_detached_prints_the_full_id()
    {
        using var d = FakeRunDaemon(0);
        var r = Run(d.HostUri, "run", "-d", "busybox", "sleep", "1");
        Assert.Equal(0, r.Code);
        Assert.Equal(Id + "\n", r.Out);
        Assert.DoesNotContain(d.Requests, q => q.Path.EndsWith("/attach"));
        // This daemon (as an older gockerd) did not start it with the create: the console did.
        Assert.Equal("/containers/create?gockerStart=1", d.Requests.First().Target);
        Assert.Contains(d.Requests, q => q.Path.EndsWith("/start"));
    }

    [Fact]
    public void Run_detached_in_one_request_when_the_daemon_started_it()
    {
        using var d = new FakeUnixServer((req, s) => FakeUnixServer.Respond(s, 201, $"{{\"Id\":\"{Id}\",\"Warnings\":[],\"GockerStarted\":true}}"));
        var r = Run(d.HostUri, "run", "-d", "--name", "w", "busybox", "sleep", "1");
        Assert.Equal(0, r.Code);
        Assert.Equal(Id + "\n", r.Out);
        Assert.Equal("/containers/create?gockerStart=1&name=w", Assert.Single(d.Requests).Target);
    }

    [Fact]
    public void Run_detached_in_one_request_exits_with_the_failed_starts_code()
    {
        using var d = new FakeUnixServer((req, s) => FakeUnixServer.Respond(s, 500, "{\"message\":\"exec: nope: executable file not found in $PATH\",\"ExitCode\":127}"));
        var r = Run(d.HostUri, "run", "-d", "busybox", "nope");
        Assert.Equal(127, r.Code);
        Assert.Equal("", r.Out);
        Assert.StartsWith("gocker: Error response from daemon: exec: nope: executable file not found", r.StdErr);
    }

    [Fact]
    public void Unknown_image_is_125()
    {
        using var d = new FakeUnixServer((req, s) => FakeUnixServer.Respond(s, 404, "{\"message\":\"No such image: nope:latest\"}"));
        var r = Run(d.HostUri, "run", "--pull", "never", "nope");
        Assert.Equal(125, r.Code);
        Assert.Equal("gocker: Error response from daemon: No such image: nope:latest\n", r.StdErr);
        Assert.Equal(["POST"], d.Requests.Select(q => q.Method).Distinct());
    }

    [Fact]
    public void Unknown_image_is_pulled_then_created_again_as_docker_does()
    {
        // --pull missing (the default) does not look first: only a create refused with "No such image"
        // pulls, so a run of a present image costs no extra request.
        var creates = 0;
        using var d = new FakeUnixServer((req, s) =>
        {
            if (req.Target.Contains("/images/create")) { FakeUnixServer.Respond(s, 404, "{\"message\":\"manifest unknown: nope:latest\"}"); return; }
            creates++;
            FakeUnixServer.Respond(s, 404, "{\"message\":\"No such image: nope:latest\"}");
        });
        var r = Run(d.HostUri, "run", "nope");
        Assert.Equal(125, r.Code);
        Assert.StartsWith("Unable to find image 'nope:latest' locally\n", r.StdErr);
        Assert.Contains("manifest unknown", r.StdErr);
        Assert.Equal(1, creates); // the pull failed: no second create
    }

    [Fact]
    public void Bad_flag_values_are_125_and_never_reach_the_daemon()
    {
        using var d = FakeRunDaemon(0);
        var r = Run(d.HostUri, "run", "-m", "12x", "busybox");
        Assert.Equal(125, r.Code);
        Assert.Contains("gocker: invalid memory value 12x", r.StdErr);
        // "rel:/x" is a named volume now; a relative container path is the console's to refuse.
        r = Run(d.HostUri, "run", "-v", "rel:x", "busybox");
        Assert.Equal(125, r.Code);
        Assert.Contains("container path 'x' must be absolute", r.StdErr);
        r = Run(d.HostUri, "run", "--bogus", "busybox");
        Assert.Equal(125, r.Code);
        Assert.Contains("--bogus", r.StdErr);
        r = Run(d.HostUri, "run");
        Assert.Equal(125, r.Code);
        Assert.Empty(d.Requests);
    }

    [Fact]
    public void Unreachable_daemon_message_and_exit_codes()
    {
        var path = Path.Combine(Path.GetTempPath(), "gocker-missing-" + Guid.NewGuid().ToString("N") + ".sock");
        var r = Run("unix://" + path, "run", "busybox");
        Assert.Equal(125, r.Code);
        Assert.Equal($"gocker: Cannot connect to the Gocker daemon at unix://{path}. Is gockerd running? Start it with: gockerd [--host unix://{path}]\n", r.StdErr);
        r = Run(null, "-H", "unix://" + path, "ps");
        Assert.Equal(1, r.Code);
        Assert.Contains($"at unix://{path}.", r.StdErr);
    }

    [Fact]
    public void Default_host_and_non_unix_hosts()
    {
        var r = Run(null, "-H", "tcp://127.0.0.1:2375", "ps");
        Assert.Equal(125, r.Code);
        Assert.Contains("only unix://PATH is supported", r.StdErr);
        Assert.Equal(("unix:///run/gocker.sock", "/run/gocker.sock"), HostAddress.Resolve(null, _ => null));
        Assert.Equal(("unix:///x", "/x"), HostAddress.Resolve(null, _ => "unix:///x"));
        Assert.Equal(("unix:///flag", "/flag"), HostAddress.Resolve("unix:///flag", _ => "unix:///x"));
    }

    [Fact]
    public void Ps_table()
    {
        using var d = new FakeUnixServer((req, s) => FakeUnixServer.Respond(s, 200,
            $"[{{\"Id\":\"{Id}\",\"Names\":[\"/web\"],\"Image\":\"busybox\",\"Command\":\"sleep 100\",\"Created\":{2_000_000_000 - 120},\"State\":\"running\",\"Status\":\"Up 2 minutes\"}}]"));
        var r = Run(d.HostUri, "ps", "-a");
        Assert.Equal(0, r.Code);
        Assert.Equal(
            "CONTAINER ID   IMAGE     COMMAND       CREATED         STATUS         PORTS   NAMES\n" +
            "4f2a9c1b7e3d   busybox   \"sleep 100\"   2 minutes ago   Up 2 minutes           web\n", r.Out);
        Assert.Equal("/containers/json?all=1", d.Requests.Single().Target);
        Assert.Equal("4f2a9c1b7e3d\n", Run(d.HostUri, "ps", "-q").Out);
        Assert.Equal(Id + "\n", Run(d.HostUri, "ps", "-q", "--no-trunc").Out);
    }

    [Fact]
    public void Images_table()
    {
        using var d = new FakeUnixServer((req, s) => FakeUnixServer.Respond(s, 200,
            $"[{{\"Id\":\"sha256:{Id}\",\"RepoTags\":[\"busybox:latest\",\"reg:5000/x/busybox:1\"],\"Created\":{2_000_000_000 - 7200},\"Size\":4261234}}]"));
        var r = Run(d.HostUri, "images");
        Assert.Equal(0, r.Code);
        Assert.Equal(
            "REPOSITORY           TAG      IMAGE ID       CREATED       SIZE\n" +
            "busybox              latest   4f2a9c1b7e3d   2 hours ago   4.26MB\n" +
            "reg:5000/x/busybox   1        4f2a9c1b7e3d   2 hours ago   4.26MB\n", r.Out);
        Assert.Equal(r.Out, Run(d.HostUri, "image", "ls").Out);
    }

    [Fact]
    public void Inspect_prints_a_docker_style_array_and_reports_misses()
    {
        using var d = new FakeUnixServer((req, s) =>
        {
            if (req.Path == "/containers/web/json") FakeUnixServer.Respond(s, 200, "{\"Id\":\"abc\",\"Extra\":{\"K\":1}}");
            else FakeUnixServer.Respond(s, 404, "{\"message\":\"No such container\"}");
        });
        var r = Run(d.HostUri, "inspect", "web", "nope");
        Assert.Equal(1, r.Code);
        Assert.Equal("[\n    {\n        \"Id\": \"abc\",\n        \"Extra\": {\n            \"K\": 1\n        }\n    }\n]\n", r.Out);
        Assert.Equal("gocker: Error: No such object: nope\n", r.StdErr);
    }

    [Fact]
    public void Rm_stop_kill_go_on_after_a_failure()
    {
        using var d = new FakeUnixServer((req, s) =>
        {
            if (req.Target.Contains("/bad")) FakeUnixServer.Respond(s, 404, "{\"message\":\"No such container: bad\"}");
            else FakeUnixServer.RespondNoContent(s);
        });
        var r = Run(d.HostUri, "rm", "-f", "a", "bad", "b");
        Assert.Equal(1, r.Code);
        Assert.Equal("a\nb\n", r.Out);
        Assert.Equal("gocker: Error response from daemon: No such container: bad\n", r.StdErr);
        Assert.Contains(d.Requests, q => q.Method == "DELETE" && q.Target == "/containers/a?force=1");

        Assert.Equal(0, Run(d.HostUri, "stop", "-t", "3", "a").Code);
        Assert.Contains(d.Requests, q => q.Target == "/containers/a/stop?t=3");
        Assert.Equal(0, Run(d.HostUri, "kill", "-s", "SIGTERM", "a").Code);
        Assert.Contains(d.Requests, q => q.Target == "/containers/a/kill?signal=SIGTERM");
    }

    [Fact]
    public void Logs_are_demultiplexed()
    {
        using var d = new FakeUnixServer((req, s) =>
        {
            FakeUnixServer.StartChunked(s);
            FakeUnixServer.WriteChunk(s, FakeUnixServer.Frame(Multiplex.Stdout, "line1\n"u8));
            FakeUnixServer.WriteChunk(s, FakeUnixServer.Frame(Multiplex.Stderr, "err1\n"u8));
            FakeUnixServer.EndChunked(s);
        });
        var r = Run(d.HostUri, "logs", "--tail", "5", "-t", "web");
        Assert.Equal(0, r.Code);
        Assert.Equal("line1\n", r.Out);
        Assert.Equal("err1\n", r.StdErr);
        Assert.Equal("/containers/web/logs?stdout=1&stderr=1&follow=0&tail=5&timestamps=1", d.Requests.Single().Target);
        Assert.Equal(125, Run(d.HostUri, "logs", "--tail", "x", "web").Code);
    }

    [Fact]
    public void Import_streams_the_file_and_prints_the_id()
    {
        var file = Path.GetTempFileName();
        try
        {
            var data = new byte[100_000];
            new Random(1).NextBytes(data);
            File.WriteAllBytes(file, data);
            using var d = new FakeUnixServer((req, s) => FakeUnixServer.Respond(s, 200, "{\"Id\":\"sha256:feed\",\"Name\":\"bbx:1\"}"));
            var r = Run(d.HostUri, "image", "import", file, "bbx:1");
            Assert.Equal(0, r.Code);
            Assert.Equal("sha256:feed\n", r.Out);
            var req = d.Requests.Single();
            Assert.Equal("/images/create?fromSrc=-&repo=bbx&tag=1", req.Target);
            Assert.Equal(data, req.Body);
            Assert.Equal(125, Run(d.HostUri, "import", file + ".missing", "x").Code);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Env_bare_name_takes_the_console_value()
    {
        using var d = FakeRunDaemon(0);
        var r = Run(d.HostUri, k => k == "FROM_CONSOLE" ? "v" : null, "create", "-e", "FROM_CONSOLE", "-e", "UNSET", "busybox", "env");
        Assert.Equal(0, r.Code);
        Assert.Equal(Id + "\n", r.Out);
        var body = JsonSerializer.Deserialize(d.Requests.Single().Body, GockerJson.Default.ContainerCreateRequest)!;
        Assert.Equal(["FROM_CONSOLE=v"], body.Env);
        Assert.Equal(["env"], body.Cmd);
    }

    [Fact]
    public void Version_without_daemon_prints_the_client_then_fails()
    {
        var path = Path.Combine(Path.GetTempPath(), "gocker-missing-" + Guid.NewGuid().ToString("N") + ".sock");
        var r = Run("unix://" + path, "version");
        Assert.Equal(1, r.Code);
        Assert.StartsWith("Client:\n Version:", r.Out);
        Assert.Contains("Cannot connect to the Gocker daemon", r.StdErr);
    }

    [Fact]
    public void Start_attach_uses_next_exit_and_plain_start_prints_the_ids()
    {
        using var d = FakeRunDaemon(5);
        var r = Run(d.HostUri, "start", "-a", Id);
        Assert.Equal(5, r.Code);
        Assert.Equal([.. "hello\n"u8.ToArray(), 0, 255, 10], r.StdOut);
        Assert.Contains(d.Requests, q => q.Target == $"/containers/{Id}/wait?condition=next-exit");
        Assert.Equal(125, Run(d.HostUri, "start", "-a", "x", "y").Code);
    }

    [Fact]
    public void Wait_prints_each_status_code()
    {
        using var d = new FakeUnixServer((req, s) =>
            FakeUnixServer.Respond(s, 200, req.Path.Contains("/a/") ? "{\"StatusCode\":0}" : "{\"StatusCode\":137,\"OOMKilled\":true}"));
        var r = Run(d.HostUri, "wait", "a", "b");
        Assert.Equal(0, r.Code);
        Assert.Equal("0\n137\n", r.Out);
        Assert.Contains(d.Requests, q => q.Target == "/containers/b/wait?condition=not-running");
    }

    [Fact]
    public void Run_falls_back_to_the_stream_exit_code_when_the_container_is_already_removed()
    {
        using var d = new FakeUnixServer((req, s) =>
        {
            switch (req.Path)
            {
                case "/containers/create": FakeUnixServer.Respond(s, 201, "{\"Id\":\"c2\"}"); break;
                case "/containers/c2/start": FakeUnixServer.RespondNoContent(s); break;
                case "/containers/c2/wait": FakeUnixServer.Respond(s, 404, "{\"message\":\"No such container: c2\"}"); break;
                case "/containers/c2/attach":
                    FakeUnixServer.StartChunked(s);
                    FakeUnixServer.WriteChunk(s, FakeUnixServer.Frame(Multiplex.System, "9"u8));
                    FakeUnixServer.EndChunked(s);
                    break;
            }
        });
        Assert.Equal(9, Run(d.HostUri, "run", "--rm", "busybox").Code);
    }

    [Fact]
    public void Negative_values_flag_values_and_bundles_reach_the_request()
    {
        using var d = FakeRunDaemon(0);
        var r = Run(d.HostUri, "create", "--pids-limit", "-1", "--rm=false", "-ie", "A=1", "--entrypoint", "/bin/sh", "busybox", "-c", "true");
        Assert.Equal("", r.StdErr);
        Assert.Equal(0, r.Code);
        var body = JsonSerializer.Deserialize(d.Requests.Single().Body, GockerJson.Default.ContainerCreateRequest)!;
        Assert.Equal(-1L, body.HostConfig!.PidsLimit);
        Assert.False(body.HostConfig.AutoRemove);
        Assert.True(body.OpenStdin);
        Assert.Equal(["A=1"], body.Env);
        Assert.Equal(["/bin/sh"], body.Entrypoint);
        Assert.Equal(["-c", "true"], body.Cmd);
    }
}
