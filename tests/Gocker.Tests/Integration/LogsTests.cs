using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using System.Text.Json.Nodes;
using Gocker.Api;

namespace Gocker.Tests.Integration;

/// <summary>`gocker logs`: stdout and stderr merged in order through the daemon's log index,
/// -t, --tail, -f, and logs that survive kill -9 of the daemon.</summary>
[Trait("Needs", "root")]
public sealed class LogsTests(DaemonFixture daemon) : IClassFixture<DaemonFixture>, IDisposable
{
    public void Dispose() => daemon.AssertNoLeaks();

    // Alternating streams with a pause between each write, so the daemon sees every write apart.
    const string Alternate = "for i in 1 2 3 4 5; do echo out$i; sleep 0.1; echo err$i >&2; sleep 0.1; done";
    static readonly string[] AlternateLines = Enumerable.Range(1, 5).SelectMany(i => new[] { $"out{i}", $"err{i}" }).ToArray();

    string Ok(params string[] args)
    {
        var r = daemon.Gocker(args);
        Assert.True(r.ExitCode == 0, $"gocker {string.Join(' ', args)}: {r}\n--- daemon\n{daemon.DaemonLog}");
        return r.Stdout.Trim();
    }

    JsonNode State(string id) => JsonNode.Parse(Ok("inspect", id))!.AsArray()[0]!["State"]!;

    /// <summary>The raw multiplexed API: the merged order, stream by stream, frame by frame.</summary>
    static List<(byte Stream, string Text)> RawLogs(string socket, string id, string query)
    {
        using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        s.Connect(new UnixDomainSocketEndPoint(socket));
        s.Send(Encoding.ASCII.GetBytes($"GET /containers/{id}/logs?{query} HTTP/1.0\r\nHost: d\r\n\r\n"));
        using var ns = new NetworkStream(s);
        var all = new MemoryStream();
        ns.CopyTo(all);
        var data = all.ToArray();
        var headerEnd = data.AsSpan().IndexOf("\r\n\r\n"u8) + 4;
        Assert.StartsWith("HTTP/1.1 200", Encoding.ASCII.GetString(data, 0, 12).Replace("HTTP/1.0", "HTTP/1.1"));
        var head = Encoding.ASCII.GetString(data, 0, headerEnd);
        var body = data.AsSpan(headerEnd).ToArray();
        if (head.Contains("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase)) body = Dechunk(body);
        var frames = new List<(byte, string)>();
        for (var i = 0; i < body.Length;)
        {
            var (stream, len) = Multiplex.ReadHeader(body.AsSpan(i, Multiplex.HeaderSize));
            frames.Add((stream, Encoding.UTF8.GetString(body, i + Multiplex.HeaderSize, len)));
            i += Multiplex.HeaderSize + len;
        }
        return frames;
    }

    static byte[] Dechunk(byte[] body)
    {
        var result = new MemoryStream();
        var i = 0;
        while (true)
        {
            var eol = body.AsSpan(i).IndexOf("\r\n"u8);
            var size = int.Parse(Encoding.ASCII.GetString(body, i, eol).Split(';')[0], NumberStyles.HexNumber);
            i += eol + 2;
            if (size == 0) return result.ToArray();
            result.Write(body, i, size);
            i += size + 2;
        }
    }

    /// <summary>Lines in merged order, each with its stream.</summary>
    static List<(byte Stream, string Line)> Lines(List<(byte Stream, string Text)> frames)
    {
        var lines = new List<(byte, string)>();
        foreach (var (stream, text) in frames)
            foreach (var l in text.Split('\n', StringSplitOptions.RemoveEmptyEntries)) lines.Add((stream, l));
        return lines;
    }

    [Fact]
    public void Stdout_and_stderr_come_back_interleaved_in_order()
    {
        var id = Ok("run", "-d", "busybox", "sh", "-c", Alternate);
        Assert.Equal("0", Ok("wait", id));
        var logs = daemon.Gocker("logs", id);
        Assert.Equal(0, logs.ExitCode);
        Assert.Equal(string.Concat(Enumerable.Range(1, 5).Select(i => $"out{i}\n")), logs.Stdout);
        Assert.Equal(string.Concat(Enumerable.Range(1, 5).Select(i => $"err{i}\n")), logs.Stderr);
        // The merged order, as the API sends it.
        var lines = Lines(RawLogs(daemon.Socket, id, "stdout=1&stderr=1"));
        Assert.Equal(AlternateLines, lines.Select(l => l.Line));
        Assert.All(lines, l => Assert.Equal(l.Line.StartsWith("out") ? Multiplex.Stdout : Multiplex.Stderr, l.Stream));
        Assert.True(File.Exists(Gocker.Actors.Logs.LogFiles.Index(Path.Combine(daemon.DataRoot, "containers", id), 1)));
        Ok("rm", id);
        Assert.False(Directory.Exists(Path.Combine(daemon.DataRoot, "containers", id)));
    }

    [Fact]
    public void Timestamps_are_rfc3339nano_monotonic_and_within_the_run()
    {
        var id = Ok("run", "-d", "busybox", "sh", "-c", Alternate);
        Assert.Equal("0", Ok("wait", id));
        var started = DateTimeOffset.Parse(State(id)["StartedAt"]!.ToString(), CultureInfo.InvariantCulture);
        var finished = DateTimeOffset.Parse(State(id)["FinishedAt"]!.ToString(), CultureInfo.InvariantCulture);
        var lines = Lines(RawLogs(daemon.Socket, id, "stdout=1&stderr=1&timestamps=1"));
        Assert.Equal(10, lines.Count);
        var stamps = new List<DateTimeOffset>();
        foreach (var (_, line) in lines)
        {
            var m = Regex.Match(line, @"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) (.*)$");
            Assert.True(m.Success, $"not an RFC3339Nano-stamped line: {line}");
            // .NET parses 7 fraction digits: cut the last two.
            stamps.Add(DateTimeOffset.ParseExact(m.Groups[1].Value[..27] + "Z", "yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal));
        }
        Assert.Equal(AlternateLines, lines.Select(l => l.Line[31..]));
        Assert.Equal(stamps.Order(), stamps);
        // The start is recorded after the release: the first write can be a hair earlier.
        Assert.All(stamps, s => Assert.InRange(s, started.AddSeconds(-1), finished.AddSeconds(1)));
        var cli = daemon.Gocker("logs", "-t", id);
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z out1\n", cli.Stdout);
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z err1\n", cli.Stderr);
        Ok("rm", id);
    }

    [Fact]
    public void Tail_counts_lines_over_both_streams()
    {
        var id = Ok("run", "-d", "busybox", "sh", "-c", Alternate);
        Assert.Equal("0", Ok("wait", id));
        var r = daemon.Gocker("logs", "--tail", "3", id);
        Assert.Equal("out5\n", r.Stdout);
        Assert.Equal("err4\nerr5\n", r.Stderr);
        Assert.Equal(["err4", "out5", "err5"], Lines(RawLogs(daemon.Socket, id, "stdout=1&stderr=1&tail=3")).Select(l => l.Line));
        Assert.Equal("", daemon.Gocker("logs", "--tail", "0", id).Stdout);
        Ok("rm", id);
    }

    [Fact]
    public void Follow_streams_until_the_container_exits()
    {
        var id = Ok("run", "-d", "busybox", "sh", "-c", "echo first; sleep 1; echo second >&2; sleep 0.5; echo third; exit 4");
        var r = daemon.Gocker("logs", "-f", id);
        Assert.Equal(0, r.ExitCode);
        Assert.Equal("first\nthird\n", r.Stdout);
        Assert.Equal("second\n", r.Stderr);
        Assert.Equal("exited", State(id)["Status"]!.ToString());
        // -f on an exited container just prints and returns.
        Assert.Equal("first\nthird\n", daemon.Gocker("logs", "-f", id).Stdout);
        Ok("rm", id);
    }
}

/// <summary>Logs after kill -9 of the daemon: nothing lost, still in order, and output written while
/// no daemon ran is indexed on re-adoption.</summary>
[Trait("Needs", "root")]
public sealed class LogsRestartTests : IDisposable
{
    readonly LifecycleDaemon _d = new();

    public void Dispose() => _d.Dispose();

    [Fact]
    public void Logs_survive_kill9_and_stay_ordered()
    {
        var id = _d.Ok("run", "-d", "busybox", "sh", "-c",
            "trap 'exit 0' TERM; i=0; while true; do echo out$i; sleep 0.1; echo err$i >&2; sleep 0.1; i=$((i+1)); done");
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!_d.Gocker("logs", id).Stderr.Contains("err3\n"))
        {
            Assert.True(DateTime.UtcNow < deadline, "no output before the crash");
            Thread.Sleep(50);
        }
        _d.Kill9();
        Thread.Sleep(500); // the container keeps writing with no daemon
        _d.Start();
        Thread.Sleep(300);
        _d.Ok("stop", "-t", "5", id);

        var cli = _d.Gocker("logs", id);
        var outs = cli.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var errs = cli.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(outs.Length > 8, cli.ToString());
        // Nothing lost, nothing repeated.
        Assert.Equal(Enumerable.Range(0, outs.Length).Select(i => $"out{i}"), outs);
        Assert.Equal(Enumerable.Range(0, errs.Length).Select(i => $"err{i}"), errs);

        // Merged order: before the crash strictly alternating; after it the output of the
        // daemon-less gap is indexed in one catch-up (per stream), then alternating again.
        var ts = _d.Gocker("logs", "-t", id);
        Assert.Equal(0, ts.ExitCode);
        var lines = Regex.Matches(ts.Stdout + ts.Stderr, @"^(\S+) (\S+)$", RegexOptions.Multiline)
            .Select(m => (Stamp: m.Groups[1].Value, Line: m.Groups[2].Value)).ToList();
        Assert.Equal(outs.Length + errs.Length, lines.Count);
        Assert.Equal("out0", lines.OrderBy(l => l.Stamp, StringComparer.Ordinal).First().Line);
        foreach (var stream in new[] { "out", "err" })
        {
            var own = lines.Where(l => l.Line.StartsWith(stream)).ToList();
            Assert.Equal(own.Select(l => l.Stamp).Order(StringComparer.Ordinal), own.Select(l => l.Stamp));
        }
        // Before the crash: out_i, err_i, out_{i+1} in the index order.
        var stamp = lines.ToDictionary(l => l.Line, l => l.Stamp);
        for (var i = 0; i < 3; i++)
        {
            Assert.True(string.CompareOrdinal(stamp[$"out{i}"], stamp[$"err{i}"]) <= 0);
            Assert.True(string.CompareOrdinal(stamp[$"err{i}"], stamp[$"out{i + 1}"]) <= 0);
        }
        var dir = Path.Combine(_d.DataRoot, "containers", id);
        Assert.True(File.Exists(Gocker.Actors.Logs.LogFiles.Index(dir, 1)));
        _d.Ok("rm", id);
        Assert.False(Directory.Exists(dir));
        _d.AssertNoLeaks();
    }
}
