using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Gocker.Actors.Containers;

namespace Gocker.Tests.Integration;

/// <summary>Fills a (small tmpfs) data root to the last page, as a disk filled by anything would be.</summary>
[Trait("Needs", "root")]
static class DiskFill
{
    /// <summary>A ballast file taking every free byte of <paramref name="dir"/>'s filesystem; delete it to give the space back.</summary>
    public static string Fill(string dir)
    {
        var path = Path.Combine(dir, "ballast-" + Guid.NewGuid().ToString("N")[..6]);
        using var f = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.None);
        foreach (var chunk in new[] { 1 << 20, 4096 })
        {
            var buf = new byte[chunk];
            try { while (true) f.Write(buf); }
            catch (IOException) { }
        }
        Assert.Equal(0, Gocker.Syscalls.IO.DiskSpace.Available(dir).Bytes);
        return path;
    }

    public static string Since() => DateTimeOffset.UtcNow.AddSeconds(-1).ToString("yyyy-MM-ddTHH:mm:ss.fffffffZ", CultureInfo.InvariantCulture);
}

/// <summary>
/// Container records on a full data root: the exit of a container stopped meanwhile is on disk at
/// once (its preallocated spare), or, where a write needs new blocks, reported, retried and
/// written once space is back, without a restart; either way a daemon restarted while the disk is
/// still full finds the real exit (137), never -1.
/// </summary>
[Trait("Needs", "root")]
public sealed class DiskFullStateTests
{
    static JsonNode State(LifecycleDaemon d, string id) => JsonNode.Parse(d.Ok("inspect", id))!.AsArray()[0]!["State"]!;

    static void WaitFor(Func<bool> cond, string what, LifecycleDaemon d)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!cond())
        {
            Assert.True(DateTime.UtcNow < deadline, what + "\n--- daemon\n" + d.Log);
            Thread.Sleep(100);
        }
    }

    static string Events(LifecycleDaemon d, string since, string id, string action) =>
        d.Ok("events", "--since", since, "--until", "0s", "--filter", "container=" + id, "--filter", "event=" + action,
            "--format", "{{.Action}} {{.Actor.Attributes.state}} {{.Actor.Attributes.path}}");

    [Fact]
    public void Containers_stopped_on_a_full_disk_keep_their_real_exit_after_space_returns_and_across_a_restart_while_full()
    {
        using var d = new LifecycleDaemon(dataRootTmpfsSize: "24m");
        var t0 = DiskFill.Since();
        var a = d.Ok("run", "-d", "--network", "none", "busybox", "sleep", "1000");
        var b = d.Ok("run", "-d", "--network", "none", "busybox", "sleep", "1000");
        var aDir = Path.Combine(d.DataRoot, "containers", a);
        var bDir = Path.Combine(d.DataRoot, "containers", b);
        Assert.True(File.Exists(Path.Combine(aDir, StateStore.SpareName)), "no spare record kept for " + a);
        // b as a record without its spare (one from before spares, or one that outgrew its slot):
        // its next write needs new blocks, which a full disk does not have.
        File.Delete(Path.Combine(bDir, StateStore.SpareName));
        var ballast = DiskFill.Fill(d.DataRoot);
        try
        {
            d.Ok("kill", a);
            d.Ok("kill", b);
            Assert.Equal("137", d.Ok("wait", a));
            Assert.Equal("137", d.Ok("wait", b));
            // In memory both are right.
            foreach (var id in new[] { a, b })
                Assert.Equal(("exited", "137"), (State(d, id)["Status"]!.ToString(), State(d, id)["ExitCode"]!.ToString()));
            // a's exit went into its spare: on disk already, no failure.
            var aRecord = StateStore.Load(aDir)!;
            Assert.Equal((ContainerStatus.Exited, 137), (aRecord.Status, aRecord.ExitCode));
            Assert.Equal("", Events(d, t0, a, "state-write-failed"));
            // b's could not be written: reported (event and daemon log), and the old record is intact.
            Assert.Contains($"state-write-failed exited {Path.Combine(bDir, "state.json")}", Events(d, t0, b, "state-write-failed").Split('\n'));
            Assert.Contains($"could not record its state (exited) in {Path.Combine(bDir, "state.json")}", d.Log);
            Assert.Equal(ContainerStatus.Running, StateStore.Load(bDir)!.Status);

            // Space back, no restart: b's record catches up (the writer's retry).
            File.Delete(ballast);
            WaitFor(() => Events(d, t0, b, "state-write-resumed") != "", "b's record was not written once space was back", d);
            var bRecord = StateStore.Load(bDir)!;
            Assert.Equal((ContainerStatus.Exited, 137), (bRecord.Status, bRecord.ExitCode));

            // Full again, and the daemon killed and started again while it is.
            ballast = DiskFill.Fill(d.DataRoot);
            d.Kill9();
            d.Start();
            foreach (var id in new[] { a, b })
                Assert.Equal(("exited", "137"), (State(d, id)["Status"]!.ToString(), State(d, id)["ExitCode"]!.ToString()));

            // A third container, stopped while full, then a restart still full: its real exit too.
            File.Delete(ballast);
            var c = d.Ok("run", "-d", "--network", "none", "busybox", "sleep", "1000");
            ballast = DiskFill.Fill(d.DataRoot);
            d.Ok("kill", c);
            Assert.Equal("137", d.Ok("wait", c));
            d.Kill9();
            d.Start();
            Assert.Equal(("exited", "137"), (State(d, c)["Status"]!.ToString(), State(d, c)["ExitCode"]!.ToString()));
            File.Delete(ballast);
            d.Ok("rm", a, b, c);
            d.AssertNoLeaks();
        }
        finally { File.Delete(ballast); }
    }
}

/// <summary>New work on a full data root: create, run, commit, load and import answer a clear error
/// (507, naming the data root and its free space; the docker CLI prints it), leave nothing made, and
/// work again as soon as space is back, without a restart.</summary>
[Trait("Needs", "root")]
public sealed class DiskFullNewWorkTests
{
    static readonly string[][] Refused =
    [
        ["run", "--rm", "busybox", "true"],
        ["create", "busybox", "true"],
        ["commit", "pre", "committed:1"],
        ["load", "-i", "IMAGE.TAR"],
        ["import", "IMAGE.TAR", "imported:1"],
    ];

    static string[] Entries(string dir) => Directory.Exists(dir) ? [.. Directory.GetFileSystemEntries(dir).Order()] : [];

    [Fact]
    public void New_work_is_refused_with_the_data_root_and_its_free_space_leaves_nothing_and_recovers()
    {
        using var d = new DaemonFixture(null, dataRootTmpfsSize: "40m");
        var pre = LogRotationTests.Ok(d, "create", "--name", "pre", "busybox", "true");
        var tar = Path.Combine(d.Root, "busybox.tar");
        LogRotationTests.Ok(d, "save", "-o", tar, "busybox");
        var images = LogRotationTests.Ok(d, "images", "-q");
        var containers = Path.Combine(d.DataRoot, "containers");
        var before = Entries(containers);
        var ballast = DiskFill.Fill(d.DataRoot);
        try
        {
            foreach (var args in Refused)
            {
                var r = d.Gocker([.. args.Select(a => a == "IMAGE.TAR" ? tar : a)]);
                Assert.True(r.ExitCode != 0, $"gocker {string.Join(' ', args)} was accepted on a full disk: {r}");
                Assert.Contains("no space left on device: the data root " + d.DataRoot + " has 0 B free", r.Stderr);
                Assert.Contains("gocker.storage.min-free", r.Stderr);
            }
            var (head, body) = RawHttp.Request(d.Socket, "POST", "/v1.43/containers/create", """{"Image":"busybox","Cmd":["true"]}""");
            Assert.StartsWith("HTTP/1.1 507", head);
            Assert.Contains(d.DataRoot, System.Text.Encoding.UTF8.GetString(body));
            if (DockerCliFactAttribute.Path is not null)
            {
                var (code, _, err) = DockerCliFactAttribute.Run(d.Socket, d.Root, null, "run", "--rm", "busybox", "true");
                Assert.NotEqual(0, code);
                Assert.Contains("Error response from daemon: no space left on device: the data root " + d.DataRoot, err);
            }
            // Nothing made: no container dir, cgroup, run dir or network endpoint; no image.
            Assert.Equal(before, Entries(containers));
            Assert.Equal(images, LogRotationTests.Ok(d, "images", "-q"));
            Assert.Equal(pre, LogRotationTests.Ok(d, "ps", "-aq", "--no-trunc"));
            foreach (var image in new[] { "committed:1", "imported:1" }) Assert.NotEqual(0, d.Gocker("image", "inspect", image).ExitCode);
            LogRotationTests.Ok(d, "rm", "pre");
            d.AssertNoLeaks();

            // Space back: the same work succeeds, no restart.
            File.Delete(ballast);
            Assert.Equal("ok", LogRotationTests.Ok(d, "run", "--rm", "busybox", "echo", "ok"));
            LogRotationTests.Ok(d, "create", "--name", "pre", "busybox", "true");
            LogRotationTests.Ok(d, "commit", "pre", "committed:1");
            LogRotationTests.Ok(d, "load", "-i", tar);
            LogRotationTests.Ok(d, "import", tar, "imported:1");
            LogRotationTests.Ok(d, "rm", "pre");
            LogRotationTests.Ok(d, "rmi", "committed:1", "imported:1");
            d.AssertNoLeaks();
        }
        finally { File.Delete(ballast); }
    }

    [Fact]
    public void Without_the_free_space_check_a_create_that_meets_enospc_half_way_gets_the_same_answer_and_is_undone()
    {
        using var d = new DaemonFixture("gocker.storage.min-free = 0", dataRootTmpfsSize: "24m");
        var containers = Path.Combine(d.DataRoot, "containers");
        LogRotationTests.Ok(d, "images", "-q"); // the image store is made before the disk fills
        var ballast = DiskFill.Fill(d.DataRoot);
        try
        {
            var before = Entries(containers);
            var r = d.Gocker("create", "--network", "none", "busybox", "true");
            Assert.True(r.ExitCode != 0, r.ToString());
            Assert.Contains("no space left on device: the data root " + d.DataRoot, r.Stderr);
            Assert.Equal(before, Entries(containers));
            File.Delete(ballast);
            var id = LogRotationTests.Ok(d, "create", "--network", "none", "busybox", "true");
            LogRotationTests.Ok(d, "rm", id);
            d.AssertNoLeaks();
        }
        finally { File.Delete(ballast); }
    }
}

/// <summary>
/// Log timestamps across a daemon outage: lines a container writes while no daemon runs are read at
/// re-adoption and carry that time; the gap is recorded by a "log-gap" event whose interval holds
/// every such line's own time, and `logs -t` stays in order with nothing lost.
/// </summary>
[Trait("Needs", "root")]
public sealed class LogGapTests
{
    static readonly Regex Line = new(@"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z (\d+) (\d+)$");

    static DateTimeOffset ParseStamp(string seconds, string? fraction) =>
        DateTimeOffset.ParseExact(seconds + "." + (fraction ?? "0").PadRight(7, '0')[..7] + "Z", "yyyy-MM-ddTHH:mm:ss.fffffffZ",
            CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);

    [Fact]
    public void Lines_written_while_no_daemon_runs_are_kept_in_order_and_the_gap_is_recorded_with_bounds_around_them()
    {
        using var d = new LifecycleDaemon();
        var t0 = DiskFill.Since();
        // Each line: its own time (seconds; busybox date has no %N) and a counter.
        var id = d.Ok("run", "-d", "--network", "none", "busybox", "sh", "-c",
            "i=0; while true; do echo \"$(date +%s) $i\"; i=$((i+1)); sleep 0.1; done");
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (!d.Gocker("logs", id).Stdout.Contains(" 5\n")) { Assert.True(DateTime.UtcNow < deadline, "no output before the kill\n" + d.Log); Thread.Sleep(50); }

        var killed = DateTimeOffset.UtcNow;
        d.Kill9();
        Thread.Sleep(2500);
        var restarting = DateTimeOffset.UtcNow;
        d.Start();
        // Until it has logged lines stamped after the restart.
        var after = restarting.ToUnixTimeSeconds() + 1;
        deadline = DateTime.UtcNow.AddSeconds(90);
        while (!d.Gocker("logs", id).Stdout.Split('\n').Any(l => l.Length > 0 && long.Parse(l.Split(' ')[0]) > after))
        {
            Assert.True(DateTime.UtcNow < deadline, "no output logged after the restart\n" + d.Gocker("logs", id).Stdout + "\n--- daemon\n" + d.Log);
            Thread.Sleep(100);
        }

        var gap = d.Ok("events", "--since", t0, "--until", "0s", "--filter", "container=" + id, "--filter", "event=log-gap",
            "--format", "{{.Actor.Attributes.since}} {{.Actor.Attributes.until}} {{.Actor.Attributes.pendingBytes}}").Split(' ');
        Assert.Equal(3, gap.Length);
        var since = DateTimeOffset.Parse(gap[0], CultureInfo.InvariantCulture);
        var until = DateTimeOffset.Parse(gap[1], CultureInfo.InvariantCulture);
        Assert.True(since <= killed, $"gap since {since:O} is after the daemon was killed ({killed:O})");
        Assert.True(until >= restarting, $"gap until {until:O} is before the daemon was started again ({restarting:O})");
        Assert.True(long.Parse(gap[2]) > 0, "nothing waited in the pipes: " + string.Join(' ', gap));
        Assert.Contains("no daemon read its output from", d.Log);

        var lines = d.Ok("logs", "-t", id).Split('\n').Select(l => Line.Match(l)).ToList();
        Assert.All(lines, m => Assert.True(m.Success, "unexpected log line: " + m.Value));
        var stamps = lines.Select(m => ParseStamp(m.Groups[1].Value, m.Groups[2].Value)).ToList();
        var own = lines.Select(m => long.Parse(m.Groups[3].Value)).ToList();
        var counter = lines.Select(m => long.Parse(m.Groups[4].Value)).ToList();
        // Nothing lost or repeated, in order.
        Assert.Equal(Enumerable.Range(0, counter.Count).Select(i => (long)i), counter);
        for (var i = 1; i < stamps.Count; i++) Assert.True(stamps[i] >= stamps[i - 1], $"logs -t out of order at line {i}");
        // Lines written wholly inside the outage (their own second within it): each was written
        // within the recorded gap, and logged no earlier than it was written.
        var outage = Enumerable.Range(0, lines.Count)
            .Where(i => own[i] >= killed.ToUnixTimeSeconds() + 1 && own[i] + 1 <= restarting.ToUnixTimeSeconds()).ToList();
        Assert.NotEmpty(outage);
        foreach (var i in outage)
        {
            Assert.True(own[i] + 1 > since.ToUnixTimeSeconds() && own[i] <= until.ToUnixTimeSeconds(),
                $"line {counter[i]} written at {own[i]} is outside the recorded gap {since:O}..{until:O}");
            Assert.True(stamps[i].ToUnixTimeSeconds() >= own[i], $"line {counter[i]} is stamped before it was written");
        }
        d.Ok("rm", "-f", id);
        d.AssertNoLeaks();
    }
}
