namespace Gocker.Tests.Integration;

/// <summary>`ps` is read from the listing the container actors keep (no message to the supervisor):
/// it must still never miss a container whose `run -d` returned, nor show one whose `rm` returned,
/// even while other containers crash-loop and flood the supervisor with their records.</summary>
[Trait("Needs", "root")]
public sealed class PsListingTests(DaemonFixture daemon) : IClassFixture<DaemonFixture>, IDisposable
{
    public void Dispose() => daemon.AssertNoLeaks();

    string Ok(params string[] args)
    {
        var r = daemon.Gocker(args);
        Assert.True(r.ExitCode == 0, $"gocker {string.Join(' ', args)}: {r}");
        return r.Stdout.Trim();
    }

    static string Name() => "p" + Guid.NewGuid().ToString("N")[..10];

    /// <summary>Containers that exit and are restarted at once, for ever: they flood the supervisor.</summary>
    List<string> CrashLoopers(int n) => Enumerable.Range(0, n)
        .Select(_ => Ok("run", "-d", "--restart", "always", "--restart-delay", "0", "busybox", "sh", "-c", "sleep 0.05"))
        .ToList();

    [Fact]
    public void Ps_shows_a_container_once_run_returned_and_never_after_rm_returned_during_a_crash_loop()
    {
        var loopers = CrashLoopers(4);
        try
        {
            for (int i = 0; i < 8; i++)
            {
                var name = Name();
                var id = Ok("run", "-d", "--name", name, "busybox", "sleep", "100");
                Assert.Contains(id[..12], Ok("ps", "--format", "{{.ID}}").Split('\n'));
                Assert.Contains(name, Ok("ps", "-a", "--filter", "name=" + name, "--format", "{{.Names}}").Split('\n'));
                Ok("rm", "-f", id);
                Assert.DoesNotContain(id[..12], Ok("ps", "-a", "--format", "{{.ID}}").Split('\n'));
                Assert.Equal("", Ok("ps", "-a", "-q", "--filter", "id=" + id));

                // A created (never started) one is listed by -a only, and gone after rm.
                var created = Ok("create", "--name", name, "busybox", "true");
                Assert.Contains(created[..12], Ok("ps", "-a", "--format", "{{.ID}}").Split('\n'));
                Assert.DoesNotContain(created[..12], Ok("ps", "--format", "{{.ID}}").Split('\n'));
                Ok("rm", created);
                Assert.DoesNotContain(created[..12], Ok("ps", "-a", "--format", "{{.ID}}").Split('\n'));
            }
            // The crash loopers are listed with the states of a restart loop (not lost in the churn).
            var listed = Ok("ps", "-a", "--format", "{{.ID}} {{.State}}").Split('\n');
            foreach (var l in loopers)
                Assert.Contains(listed, line => line.StartsWith(l[..12] + " ", StringComparison.Ordinal)
                    && (line.EndsWith(" running") || line.EndsWith(" restarting") || line.EndsWith(" exited")));
        }
        finally
        {
            foreach (var l in loopers) daemon.Gocker("rm", "-f", l);
        }
        foreach (var l in loopers) Assert.DoesNotContain(l[..12], Ok("ps", "-a", "--format", "{{.ID}}").Split('\n'));
    }

    [Fact]
    public void A_name_is_free_again_as_soon_as_rm_or_run_rm_returned_even_during_a_crash_loop()
    {
        // The loopers keep the supervisor's mailbox busy: the name must not wait for the removed
        // container's actor to be gone (that comes after `rm` answered).
        var loopers = CrashLoopers(3);
        try
        {
            for (int i = 0; i < 10; i++)
            {
                var name = Name();
                var id = Ok("run", "-d", "--name", name, "busybox", "sleep", "100");
                Ok("rm", "-f", name);
                Assert.Equal("again", Ok("run", "--rm", "--name", name, "busybox", "echo", "again"));
                Assert.Equal("and again", Ok("run", "--rm", "--name", name, "busybox", "echo", "and again"));
                var created = Ok("create", "--name", name, "busybox", "true");
                Assert.NotEqual(id, created);
                Ok("rm", name);
            }
        }
        finally
        {
            foreach (var l in loopers) daemon.Gocker("rm", "-f", l);
        }
    }

    /// <summary>Field 19 of /proc/PID[/task/TID]/stat: the nice value (after the parenthesised comm).</summary>
    static int NiceOf(string statPath)
    {
        var stat = File.ReadAllText(statPath);
        return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[16]);
    }

    [Fact]
    public void Container_work_threads_are_niced_but_containers_and_execs_run_at_the_daemons_nice()
    {
        var daemonNice = NiceOf($"/proc/{daemon.DaemonPid}/stat");
        var id = Ok("run", "-d", "busybox", "sleep", "100");
        try
        {
            var pid = System.Text.Json.Nodes.JsonNode.Parse(Ok("inspect", id))!.AsArray()[0]!["State"]!["Pid"]!.GetValue<int>();
            Assert.Equal(daemonNice, NiceOf($"/proc/{pid}/stat"));
            // An exec'd process is spawned from a thread of its own too.
            var execStat = Ok("exec", id, "cat", "/proc/self/stat");
            Assert.Equal(daemonNice, int.Parse(execStat[(execStat.LastIndexOf(')') + 2)..].Split(' ')[16]));
            // The container dispatcher's threads that ran container work are the nicer ones (gocker.hocon: +10).
            var dispatch = Directory.GetDirectories($"/proc/{daemon.DaemonPid}/task")
                .Where(t => File.ReadAllText(Path.Combine(t, "comm")).StartsWith("gocker.dispatch", StringComparison.Ordinal))
                .Select(t => NiceOf(Path.Combine(t, "stat"))).ToList();
            Assert.Contains(Math.Min(19, daemonNice + 10), dispatch);
            // The API's threads (Kestrel, thread pool) stay at the daemon's.
            var kestrel = Directory.GetDirectories($"/proc/{daemon.DaemonPid}/task")
                .Where(t => File.ReadAllText(Path.Combine(t, "comm")).StartsWith(".NET TP Worker", StringComparison.Ordinal))
                .Select(t => NiceOf(Path.Combine(t, "stat"))).ToList();
            Assert.All(kestrel, n => Assert.Equal(daemonNice, n));
        }
        finally { daemon.Gocker("rm", "-f", id); }
    }
}
