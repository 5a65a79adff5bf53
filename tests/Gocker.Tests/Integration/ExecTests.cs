using System.Text.Json.Nodes;

namespace Gocker.Tests.Integration;

/// <summary>`gocker exec` through the real console and daemon: the process runs in the container's
/// namespaces and cgroup, with only fds 0-2, its exit code passed through, and nothing on the host.</summary>
[Trait("Needs", "root")]
public sealed class ExecTests(DaemonFixture daemon) : IClassFixture<DaemonFixture>, IDisposable
{
    public void Dispose() => daemon.AssertNoLeaks();

    string Ok(params string[] args)
    {
        var r = daemon.Gocker(args);
        Assert.True(r.ExitCode == 0, $"gocker {string.Join(' ', args)}: {r}\n{daemon.DaemonLog}");
        return r.Stdout;
    }

    JsonNode Inspect(string id) => JsonNode.Parse(Ok("inspect", id))!.AsArray()[0]!;
    static string Name() => "x" + Guid.NewGuid().ToString("N")[..10];

    string Running(params string[] extra)
    {
        var name = Name();
        Ok(["run", "-d", "--network", "none", "--name", name, "-h", "box-" + name[..6], "-e", "CTR=from-run", "-w", "/srv", .. extra,
            "busybox", "sh", "-c", "echo $$ > /pid1; exec sleep 1000"]);
        return name;
    }

    [Fact]
    public void Exec_runs_inside_the_container_namespaces_rootfs_and_cgroup()
    {
        var name = Running();
        try
        {
            Assert.Equal("box-" + name[..6], Ok("exec", name, "hostname").Trim());
            Assert.Equal("sleep\01000\0", Ok("exec", name, "cat", "/proc/1/cmdline"));
            // The container's rootfs (the file its PID 1 wrote), not the host's.
            Assert.Equal("1", Ok("exec", name, "cat", "/pid1").Trim());
            Assert.Contains("pid1", Ok("exec", name, "ls", "/").Split('\n'));
            // Its / is the container's overlay (the mount namespace was joined), not the host's root.
            Assert.Equal("overlay", Ok("exec", name, "awk", "$5 == \"/\" { print $9 }", "/proc/self/mountinfo").Trim());
            // The same cgroup as the container's PID 1, in every hierarchy.
            Assert.Equal(Ok("exec", name, "cat", "/proc/1/cgroup"), Ok("exec", name, "cat", "/proc/self/cgroup"));
            // Seen from its cgroup namespace (the container's), that is the root; and the exec'd shell is
            // listed in the container's own cgroup (the root of /sys/fs/cgroup's hierarchies there).
            Assert.All(Ok("exec", name, "cat", "/proc/self/cgroup").Split('\n', StringSplitOptions.RemoveEmptyEntries), l => Assert.EndsWith(":/", l));
            var procs = Ok("exec", name, "sh", "-c", "echo $$; cat /sys/fs/cgroup/cgroup.procs /sys/fs/cgroup/*/cgroup.procs 2>/dev/null; true").Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Contains(procs[0], procs.Skip(1));
            // Its own PID namespace: the exec'd shell sees the container's processes only.
            var pids = Ok("exec", name, "ls", "/proc").Split('\n').Where(l => l.Length > 0 && l.All(char.IsAsciiDigit)).ToList();
            Assert.Contains("1", pids);
            Assert.True(pids.Count < 6, "host processes visible: " + string.Join(' ', pids));
            // Only 0, 1, 2 (and ls's own directory fd) are open in the exec'd process.
            var fds = Ok("exec", name, "ls", "/proc/self/fd").Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(["0", "1", "2", "3"], fds);
            // Never the daemon's environment.
            Assert.DoesNotContain(daemon.Secret, Ok("exec", name, "env"));
        }
        finally { Ok("rm", "-f", name); }
    }

    [Fact]
    public void Exit_codes_pass_through_and_a_missing_command_is_127()
    {
        var name = Running();
        try
        {
            Assert.Equal(7, daemon.Gocker("exec", name, "sh", "-c", "exit 7").ExitCode);
            Assert.Equal(0, daemon.Gocker("exec", name, "true").ExitCode);
            var missing = daemon.Gocker("exec", name, "no-such-command");
            Assert.Equal(127, missing.ExitCode);
            Assert.Contains("no-such-command", missing.Stderr);
            Assert.Equal(126, daemon.Gocker("exec", name, "/etc/passwd").ExitCode);
            // Killed by a signal: 128+N.
            Assert.Equal(137, daemon.Gocker("exec", name, "sh", "-c", "kill -9 $$").ExitCode);
            // Arguments pass through exactly, dashes and all.
            Assert.Equal("-n|x y|--y|", Ok("exec", name, "sh", "-c", "printf '%s|' \"$@\"", "sh", "-n", "x y", "--y"));
        }
        finally { Ok("rm", "-f", name); }
    }

    [Fact]
    public void Env_workdir_and_user_default_to_the_container_and_can_be_overridden()
    {
        var name = Running("-e", "KEEP=1");
        try
        {
            Assert.Equal("from-run 1 /srv\n", Ok("exec", name, "sh", "-c", "echo $CTR $KEEP $(pwd)"));
            Assert.Equal("over 1 /tmp\n", Ok("exec", "-e", "CTR=over", "-w", "/tmp", name, "sh", "-c", "echo $CTR $KEEP $(pwd)"));
            Assert.Equal("uid=65534(nobody) gid=65534(nobody)", Ok("exec", "-u", "nobody", name, "id").Trim());
            Assert.StartsWith("uid=1000 gid=0", Ok("exec", "--user", "1000", name, "id").Trim());
            var bad = daemon.Gocker("exec", "-u", "ghost", name, "true");
            Assert.NotEqual(0, bad.ExitCode);
            Assert.True(bad.Stderr.Contains("unable to find user ghost"), bad + "\n" + daemon.DaemonLog);
            var noDir = daemon.Gocker("exec", "-w", "/no/such/dir", name, "true");
            Assert.NotEqual(0, noDir.ExitCode);
            Assert.True(noDir.Stderr.Contains("/no/such/dir"), noDir + "\n" + daemon.DaemonLog);
        }
        finally { Ok("rm", "-f", name); }
    }

    [Fact]
    public void Stdin_is_piped_with_i_and_closed_without_it()
    {
        var name = Running();
        try
        {
            var r = daemon.GockerWithInput("hi\nthere\n", "exec", "-i", name, "cat");
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Equal("hi\nthere\n", r.Stdout);
            Assert.Equal("3\n", daemon.GockerWithInput("a\nb\nc\n", "exec", "-i", name, "wc", "-l").Stdout.TrimStart());
            // Without -i, the command's stdin is /dev/null: cat ends at once.
            Assert.Equal("", daemon.GockerWithInput("ignored\n", "exec", name, "cat").Stdout);
            // stderr stays apart from stdout.
            var split = daemon.Gocker("exec", name, "sh", "-c", "echo out; echo err >&2");
            Assert.Equal(("out\n", "err\n"), (split.Stdout, split.Stderr));
        }
        finally { Ok("rm", "-f", name); }
    }

    [Fact]
    public void Detached_exec_runs_in_the_background()
    {
        var name = Running();
        try
        {
            Ok("exec", "-d", name, "sh", "-c", "echo done > /tmp/marker");
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (daemon.Gocker("exec", name, "cat", "/tmp/marker").Stdout.Trim() != "done")
            {
                Assert.True(DateTime.UtcNow < deadline, "the detached exec never ran");
                Thread.Sleep(50);
            }
        }
        finally { Ok("rm", "-f", name); }
    }

    [Fact]
    public void Exec_into_a_stopped_paused_or_missing_container_fails_and_runs_nothing()
    {
        var marker = Path.Combine(daemon.Root, "host-marker-" + Guid.NewGuid().ToString("N"));
        var name = Name();
        Ok("create", "--name", name, "busybox", "true");
        var created = daemon.Gocker("exec", name, "touch", marker);
        Assert.NotEqual(0, created.ExitCode);
        Assert.Contains("is not running", created.Stderr);
        Ok("rm", name);

        var missing = daemon.Gocker("exec", "no-such-" + name, "touch", marker);
        Assert.NotEqual(0, missing.ExitCode);
        Assert.Contains("No such container", missing.Stderr);

        var paused = Running();
        try
        {
            Ok("pause", paused);
            var r = daemon.Gocker("exec", paused, "touch", marker);
            Assert.NotEqual(0, r.ExitCode);
            Assert.Contains("paused", r.Stderr);
            Ok("unpause", paused);
        }
        finally { Ok("rm", "-f", paused); }

        var exited = Name();
        Ok("run", "--name", exited, "--network", "none", "busybox", "true");
        var r2 = daemon.Gocker("exec", exited, "touch", marker);
        Assert.Contains("is not running", r2.Stderr);
        Ok("rm", exited);
        Assert.False(File.Exists(marker), "something ran on the host");
    }

    [Fact]
    public void The_daemon_keeps_no_descriptor_per_exec()
    {
        var name = Running();
        try
        {
            Ok("exec", name, "true"); // warm-up: lazily created runtime fds
            int before = DaemonFds();
            for (int i = 0; i < 20; i++)
            {
                Ok("exec", name, "true");
                daemon.Gocker("exec", name, "no-such-command");
                daemon.GockerWithInput("x", "exec", "-i", name, "cat");
            }
            Thread.Sleep(200); // reaper wake-ups settle
            int after = DaemonFds();
            Assert.True(after <= before + 2, $"daemon fds grew from {before} to {after}");
        }
        finally { Ok("rm", "-f", name); }
    }

    [Fact]
    public void Exec_api_create_inspect_detached_start_and_wrong_uses()
    {
        var name = Running();
        try
        {
            var http = new Gocker.Cli.Http.UnixHttpClient(daemon.Socket, "unix://" + daemon.Socket);
            JsonNode Send(string method, string target, string? body, int expect)
            {
                using var r = http.Send(method, target, body is null ? default : System.Text.Encoding.UTF8.GetBytes(body), body is null ? null : "application/json");
                var text = r.ReadBodyString();
                Assert.True(r.StatusCode == expect, $"{method} {target}: {r.StatusCode} {text}");
                return text.Length > 0 && text[0] == '{' ? JsonNode.Parse(text)! : new JsonObject();
            }
            var id = Send("POST", $"/containers/{name}/exec", """{"Cmd":["sh","-c","exit 5"],"AttachStdout":true}""", 201)["Id"]!.ToString();
            Assert.Matches("^[0-9a-f]{64}$", id);
            var before = Send("GET", $"/exec/{id}/json", null, 200);
            Assert.False(before["Running"]!.GetValue<bool>());
            Assert.Null(before["ExitCode"]);
            Assert.Equal("sh", before["ProcessConfig"]!["entrypoint"]!.ToString());
            Send("POST", $"/exec/{id}/start", """{"Detach":true}""", 200);
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (Send("GET", $"/exec/{id}/json", null, 200)["ExitCode"] is null)
            {
                Assert.True(DateTime.UtcNow < deadline, "the detached exec never finished");
                Thread.Sleep(20);
            }
            Assert.Equal(5, Send("GET", $"/exec/{id}/json", null, 200)["ExitCode"]!.GetValue<int>());
            Assert.Contains("already been started", Send("POST", $"/exec/{id}/start", """{"Detach":true}""", 409)["message"]!.ToString());
            Send("GET", "/exec/0123/json", null, 404);
            Send("POST", $"/containers/{name}/exec", """{"Cmd":[]}""", 400);
            Send("POST", $"/containers/{name}/exec", """{"Cmd":["true"],"Env":["NOEQUALS"]}""", 400);
            Send("POST", $"/containers/{name}/exec", """{"Cmd":["true"],"WorkingDir":"relative"}""", 400);
        }
        finally { Ok("rm", "-f", name); }
    }

    int DaemonFds() => Directory.GetFiles($"/proc/{daemon.DaemonPid}/fd").Length;
}
