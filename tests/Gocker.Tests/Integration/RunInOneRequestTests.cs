using System.Text;
using System.Text.Json;
using Gocker.Api;

namespace Gocker.Tests.Integration;

/// <summary>gockerd's `POST /containers/create?gockerRun=removed|next-exit` (what the console's `run`
/// without -d/-i/-t sends): create, attach, start and wait in one request, raw HTTP.</summary>
[Trait("Needs", "root")]
public sealed class RunInOneRequestTests(DaemonFixture daemon) : IClassFixture<DaemonFixture>, IDisposable
{
    public void Dispose() => daemon.AssertNoLeaks();

    static string Unique(string prefix) => prefix + Guid.NewGuid().ToString("N")[..8];

    static List<(byte Stream, byte[] Data)> Frames(byte[] body)
    {
        var frames = new List<(byte, byte[])>();
        for (int i = 0; i < body.Length;)
        {
            Assert.True(body.Length - i >= Multiplex.HeaderSize, "truncated frame header");
            var (stream, length) = Multiplex.ReadHeader(body.AsSpan(i, Multiplex.HeaderSize));
            i += Multiplex.HeaderSize;
            frames.Add((stream, body.AsSpan(i, length).ToArray()));
            i += length;
        }
        return frames;
    }

    static string CreateJson(string cmd, bool autoRemove = true, bool tty = false) =>
        "{\"Image\":\"busybox\",\"Cmd\":" + cmd + ",\"Tty\":" + (tty ? "true" : "false")
        + ",\"HostConfig\":{\"AutoRemove\":" + (autoRemove ? "true" : "false") + ",\"NetworkMode\":\"none\"}}";

    string Status(string name)
    {
        using var doc = JsonDocument.Parse(daemon.Gocker("inspect", name).Stdout);
        return doc.RootElement[0].GetProperty("State").GetProperty("Status").GetString()!;
    }

    bool Listed(string name) => daemon.Gocker("ps", "-a", "-q", "--filter", "name=" + name).Stdout.Trim().Length > 0;

    [Fact]
    public void One_request_creates_starts_streams_the_output_and_ends_with_the_wait_answer()
    {
        var name = Unique("one-");
        try
        {
            var (head, body) = RawHttp.Request(daemon.Socket, "POST", $"/containers/create?gockerRun=removed&name={name}",
                CreateJson("""["sh","-c","echo out; echo err >&2; exit 4"]"""));
            Assert.StartsWith("HTTP/1.1 200", head);
            var frames = Frames(body);
            Assert.Equal(Multiplex.System, frames[0].Stream);
            using (var created = JsonDocument.Parse(frames[0].Data))
                Assert.Matches("^[0-9a-f]{64}$", created.RootElement.GetProperty("Id").GetString()!);
            Assert.Equal("out\n", Encoding.UTF8.GetString(frames.Where(f => f.Stream == Multiplex.Stdout).SelectMany(f => f.Data).ToArray()));
            Assert.Equal("err\n", Encoding.UTF8.GetString(frames.Where(f => f.Stream == Multiplex.Stderr).SelectMany(f => f.Data).ToArray()));
            Assert.Equal(Multiplex.System, frames[^1].Stream);
            using (var end = JsonDocument.Parse(frames[^1].Data))
            {
                Assert.Equal(4, end.RootElement.GetProperty("StatusCode").GetInt32());
                Assert.False(end.RootElement.TryGetProperty("GockerStartFailed", out _));
            }
            // "removed": the stream ended once the container was gone.
            Assert.False(Listed(name));
        }
        finally { daemon.Gocker("rm", "-f", name); }
    }

    [Fact]
    public void A_start_failure_ends_the_stream_with_its_exit_code_and_message()
    {
        var name = Unique("onef-");
        try
        {
            var (head, body) = RawHttp.Request(daemon.Socket, "POST", $"/containers/create?gockerRun=next-exit&name={name}",
                CreateJson("""["nosuch-command"]""", autoRemove: false));
            Assert.StartsWith("HTTP/1.1 200", head);
            var frames = Frames(body);
            Assert.Equal(2, frames.Count);
            using var end = JsonDocument.Parse(frames[1].Data);
            Assert.True(end.RootElement.GetProperty("GockerStartFailed").GetBoolean());
            Assert.Equal(127, end.RootElement.GetProperty("StatusCode").GetInt32());
            Assert.Contains("nosuch-command", end.RootElement.GetProperty("Error").GetProperty("Message").GetString());
            // Kept (no --rm), as a failed `docker run` leaves it: created, never started.
            Assert.True(Listed(name));
        }
        finally { daemon.Gocker("rm", "-f", name); }
    }

    [Fact]
    public void Create_with_gockerStart_answers_once_the_container_runs_and_a_failed_start_keeps_the_container()
    {
        var name = Unique("ones-");
        var failing = Unique("onesf-");
        try
        {
            var (head, body) = RawHttp.Request(daemon.Socket, "POST", $"/containers/create?gockerStart=1&name={name}",
                CreateJson("""["sleep","300"]""", autoRemove: false));
            Assert.StartsWith("HTTP/1.1 201", head);
            using (var answer = JsonDocument.Parse(body))
                Assert.True(answer.RootElement.GetProperty("GockerStarted").GetBoolean());
            Assert.Equal("running", Status(name));

            var (failed, why) = RawHttp.Request(daemon.Socket, "POST", $"/containers/create?gockerStart=1&name={failing}",
                CreateJson("""["nosuch-command"]""", autoRemove: false));
            Assert.StartsWith("HTTP/1.1 500", failed);
            using (var error = JsonDocument.Parse(why))
                Assert.Equal(127, error.RootElement.GetProperty("ExitCode").GetInt32());
            Assert.Equal("exited", Status(failing)); // as after create + a failed start: kept, never ran
        }
        finally { daemon.Gocker("rm", "-f", name, failing); }
    }

    [Fact]
    public void A_short_rm_run_prints_all_its_output_every_time()
    {
        // The command may exit, and --rm move its log files away, before the daemon gets to read
        // them: the output is followed from before the start (a run printed nothing here once).
        for (int i = 0; i < 30; i++)
        {
            var r = daemon.Gocker("run", "--rm", "--network", "none", "busybox", "sh", "-c", $"echo out{i}; echo err{i} >&2");
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Equal($"out{i}\n", r.Stdout);
            Assert.Equal($"err{i}\n", r.Stderr);
        }
    }

    [Fact]
    public void An_rm_container_started_by_its_create_is_recorded_from_its_start_and_a_plain_create_at_once()
    {
        // `run -d --rm` (gockerStart) skips the "created" record, the "running" one is on disk when
        // the answer comes (what a restarted daemon re-adopts it by); `create --rm` writes its record.
        var started = Unique("oner-");
        var created = Unique("onec-");
        try
        {
            var id = daemon.Gocker("run", "-d", "--rm", "--name", started, "--network", "none", "busybox", "sleep", "300").Stdout.Trim();
            Assert.Matches("^[0-9a-f]{64}$", id);
            var state = File.ReadAllText(Path.Combine(daemon.DataRoot, "containers", id, "state.json"));
            Assert.Contains("\"running\"", state, StringComparison.OrdinalIgnoreCase);
            var cid = daemon.Gocker("create", "--rm", "--name", created, "--network", "none", "busybox", "true").Stdout.Trim();
            Assert.Contains("\"created\"", File.ReadAllText(Path.Combine(daemon.DataRoot, "containers", cid, "state.json")), StringComparison.OrdinalIgnoreCase);
        }
        finally { daemon.Gocker("rm", "-f", started, created); }
    }

    [Fact]
    public void Bad_uses_are_refused_before_anything_is_created()
    {
        var name = Unique("oneb-");
        var (bogus, why) = RawHttp.Request(daemon.Socket, "POST", $"/containers/create?gockerRun=sometime&name={name}", CreateJson("""["true"]"""));
        Assert.StartsWith("HTTP/1.1 400", bogus);
        Assert.Contains("invalid gockerRun condition", Encoding.UTF8.GetString(why));
        var (tty, _) = RawHttp.Request(daemon.Socket, "POST", $"/containers/create?gockerRun=removed&name={name}", CreateJson("""["true"]""", tty: true));
        Assert.StartsWith("HTTP/1.1 400", tty);
        Assert.False(Listed(name));
    }
}
