using System.Text.Json.Nodes;
using Gocker.Tests.Images;

namespace Gocker.Tests.Integration;

/// <summary>rename, update, diff, history, ps -n/-l and top with ps options, through the real console
/// and the real docker CLI, against a real daemon (real cgroups, real overlay upper dirs).</summary>
[Trait("Needs", "root")]
public sealed class HousekeepingVerbsTests(DaemonFixture daemon) : IClassFixture<DaemonFixture>, IDisposable
{
    public void Dispose() => daemon.AssertNoLeaks();

    string Ok(params string[] args)
    {
        var r = daemon.Gocker(args);
        Assert.True(r.ExitCode == 0, $"gocker {string.Join(' ', args)}: {r}");
        return r.Stdout.Trim();
    }

    CliResult Fails(params string[] args)
    {
        var r = daemon.Gocker(args);
        Assert.True(r.ExitCode != 0, $"gocker {string.Join(' ', args)} should fail: {r}");
        return r;
    }

    string Docker(params string[] args)
    {
        var (code, output, err) = DockerCliFactAttribute.Run(daemon.Socket, daemon.Root, null, args);
        Assert.True(code == 0, $"docker {string.Join(' ', args)}: exit {code}\n{output}\n{err}");
        return output.Trim();
    }

    JsonNode Inspect(string id) => JsonNode.Parse(Ok("inspect", id))!.AsArray()[0]!;
    static string Name() => "h" + Guid.NewGuid().ToString("N")[..10];

    /// <summary>A file of the container's cgroup in the hierarchy that has it (v1 controller dirs or the v2 dir).</summary>
    string CgroupFile(string id, string file) =>
        daemon.CgroupParentDirs().Select(d => Path.Combine(d, id, file)).FirstOrDefault(File.Exists)
        ?? throw new FileNotFoundException($"no {file} for {id} under {string.Join(", ", daemon.CgroupParentDirs())}");

    [Fact]
    public void Rename_moves_the_name_refuses_a_taken_one_and_emits_rename()
    {
        var t0 = DateTimeOffset.UtcNow.AddSeconds(-1).ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        var (a, b, c) = (Name(), Name(), Name());
        var id = Ok("create", "--network", "none", "--name", a, "busybox", "true");
        var other = Ok("create", "--network", "none", "--name", c, "busybox", "true");
        Ok("rename", a, b);
        Assert.Equal("/" + b, Inspect(id)["Name"]!.ToString());
        Assert.Contains("No such object: " + a, Fails("inspect", a).Stderr);
        // The old name is free at once, the new one taken.
        var again = Ok("create", "--network", "none", "--name", a, "busybox", "true");
        var taken = Fails("rename", b, c);
        Assert.Contains("already in use", taken.Stderr);
        Assert.Equal("/" + b, Inspect(id)["Name"]!.ToString());
        var events = Ok("events", "--since", t0, "--until", "0s", "--filter", "event=rename", "--format", "{{.ID}} {{.Actor.Attributes.name}} {{.Actor.Attributes.oldName}}");
        Assert.Equal($"{id} {b} /{a}", events);
        Ok("rm", id, other, again);
    }

    [Fact]
    public void Update_changes_the_live_cgroup_and_the_next_runs_and_refuses_what_it_cannot_apply()
    {
        var id = Ok("run", "-d", "--network", "none", "-m", "32m", "busybox", "sleep", "1000");
        Assert.Equal(id, Ok("update", "--memory", "64m", "--cpus", "0.5", "--pids-limit", "30", "--cpu-shares", "512", id));
        Assert.Equal((64L << 20).ToString(), File.ReadAllText(CgroupFile(id, "memory.limit_in_bytes")).Trim());
        Assert.Equal("30", File.ReadAllText(CgroupFile(id, "pids.max")).Trim());
        Assert.Equal("50000", File.ReadAllText(CgroupFile(id, "cpu.cfs_quota_us")).Trim());
        Assert.Equal("512", File.ReadAllText(CgroupFile(id, "cpu.shares")).Trim());
        var hc = Inspect(id)["HostConfig"]!;
        Assert.Equal(64L << 20, hc["Memory"]!.GetValue<long>());
        Assert.Equal(500_000_000L, hc["NanoCpus"]!.GetValue<long>());
        Assert.Equal(30L, hc["PidsLimit"]!.GetValue<long>());
        // Lowered again (memsw first the other way round on v1).
        Ok("update", "--memory", "16m", id);
        Assert.Equal((16L << 20).ToString(), File.ReadAllText(CgroupFile(id, "memory.limit_in_bytes")).Trim());

        // Refused by name, nothing changed.
        Assert.Contains("MemoryReservation", Fails("update", "--memory-reservation", "8m", id).Stderr);
        Assert.Contains("CpusetMems", Fails("update", "--cpuset-mems", "0", id).Stderr);
        Assert.Contains("BlkioWeight", Fails("update", "--blkio-weight", "300", id).Stderr);
        Assert.Contains("MemorySwap", Fails("update", "--memory", "20m", "--memory-swap", "40m", id).Stderr);
        Assert.Equal((16L << 20).ToString(), File.ReadAllText(CgroupFile(id, "memory.limit_in_bytes")).Trim());

        // A stopped container's next start gets what was updated.
        Ok("stop", "-t", "0", id);
        Ok("update", "--memory", "48m", id);
        Ok("start", id);
        Assert.Equal((48L << 20).ToString(), File.ReadAllText(CgroupFile(id, "memory.limit_in_bytes")).Trim());
        Ok("rm", "-f", id);
    }

    [Fact]
    public void Update_of_the_restart_policy_applies_to_the_running_container()
    {
        // --init: the USR2 below reaches sleep (a sleep as PID 1 would ignore it).
        var id = Ok("run", "-d", "--network", "none", "--init", "busybox", "sleep", "1000");
        Ok("update", "--restart", "on-failure:3", id);
        var rp = Inspect(id)["HostConfig"]!["RestartPolicy"]!;
        Assert.Equal("on-failure", rp["Name"]!.ToString());
        Assert.Equal(3, rp["MaximumRetryCount"]!.GetValue<int>());
        // USR2 (not the stop signal) kills sleep: a failure the new policy restarts.
        Ok("kill", "-s", "USR2", id);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!(Inspect(id) is var j && j["RestartCount"]!.GetValue<int>() == 1 && j["State"]!["Status"]!.ToString() == "running"))
        {
            Assert.True(DateTime.UtcNow < deadline, "not restarted by the updated policy: " + Ok("inspect", id));
            Thread.Sleep(50);
        }
        var rm = Ok("run", "-d", "--rm", "--network", "none", "busybox", "sleep", "1000");
        Assert.Contains("AutoRemove", Fails("update", "--restart", "always", rm).Stderr);
        Ok("rm", "-f", id, rm);
    }

    [Fact]
    public void Diff_lists_added_changed_and_deleted_paths_but_not_the_engines_mount_points()
    {
        var id = Name();
        Ok("run", "--name", id, "--network", "none", "-v", daemon.Root + ":/vol", "busybox", "sh", "-c",
            "echo x > /tmp/new; rm /bin/ls; mkdir -p /newdir/sub; echo y >> /etc/passwd; echo z > /vol/diff-probe-" + Guid.NewGuid().ToString("N"));
        var lines = Ok("diff", id).Split('\n');
        foreach (var expected in new[] { "C /tmp", "A /tmp/new", "C /bin", "D /bin/ls", "A /newdir", "A /newdir/sub", "C /etc", "C /etc/passwd" })
            Assert.Contains(expected, lines);
        Assert.DoesNotContain(lines, l => l.EndsWith(" /proc") || l.EndsWith(" /sys") || l.StartsWith("A /dev") || l.Contains("/etc/hosts") || l.Contains("/vol"));
        // Docker's order: sorted by path.
        Assert.Equal(lines.OrderBy(l => l[2..], StringComparer.Ordinal), lines);
        if (DockerCliFactAttribute.Path is not null) Assert.Equal(string.Join('\n', lines), Docker("diff", id));
        // Nothing changed: no lines.
        var clean = Ok("create", "--network", "none", "busybox", "true");
        Assert.Equal("", Ok("diff", clean));
        Ok("rm", id, clean);
    }

    [Fact]
    public void History_lists_the_configs_entries_newest_first_with_the_id_on_the_top_one()
    {
        var layers = ImageArchives.ThreeLayers(withBusybox: true);
        var config = ImageArchives.Config(layers, cmd: ["sh"]);
        JsonObject H(string by, bool empty = false) => new() { ["created"] = "2024-01-02T03:04:05Z", ["created_by"] = by, ["empty_layer"] = empty ? true : null };
        config["history"] = new JsonArray(H("ADD base"), H("ENV A=1", empty: true), H("RUN two"), H("RUN three"), H("CMD [\"sh\"]", empty: true));
        var name = "it-hist-" + Guid.NewGuid().ToString("N")[..6];
        var path = Path.Combine(daemon.Root, name + ".tar");
        File.WriteAllBytes(path, ImageArchives.DockerSave(layers, config, [name]));
        Ok("load", "-i", path);
        var id = JsonNode.Parse(Ok("image", "inspect", name))!.AsArray()[0]!["Id"]!.ToString();

        var rows = Ok("history", "--no-trunc", "-q", name).Split('\n');
        Assert.Equal([id, "<missing>", "<missing>", "<missing>", "<missing>"], rows);
        var table = Ok("history", "--no-trunc", name).Split('\n');
        Assert.StartsWith("IMAGE", table[0]);
        Assert.Contains("CMD [\"sh\"]", table[1]);
        Assert.Contains("ADD base", table[5]);
        // Empty layers are 0 B; a real layer has its size.
        Assert.Contains(" 0B", table[1]);
        Assert.DoesNotContain(" 0B", table[5]);
        if (DockerCliFactAttribute.Path is not null)
        {
            var docker = Docker("history", "--no-trunc", "--format", "{{.ID}}|{{.CreatedBy}}", name).Split('\n');
            Assert.Equal($"{id}|CMD [\"sh\"]", docker[0]);
            Assert.Equal("<missing>|ADD base", docker[^1]);
        }
        Assert.Contains("No such image", Fails("history", "no-such-image-" + Guid.NewGuid().ToString("N")[..6]).Stderr);
        Ok("rmi", name);
    }

    [Fact]
    public void Ps_last_and_latest_list_the_newest_of_any_state()
    {
        var names = Enumerable.Range(0, 3).Select(_ => Name()).ToArray();
        var ids = names.Select(n => Ok("create", "--network", "none", "--name", n, "busybox", "true")).ToArray();
        Assert.Equal([names[2], names[1]], Ok("ps", "-n", "2", "--format", "{{.Names}}").Split('\n'));
        Assert.Equal(names[2], Ok("ps", "-l", "--format", "{{.Names}}"));
        Assert.Equal(ids[2][..12], Ok("ps", "--last", "1", "-q"));
        Ok(["rm", .. ids]);
    }

    [Fact]
    public void Top_takes_ps_options_and_shows_only_the_containers_processes()
    {
        var id = Ok("run", "-d", "--network", "none", "busybox", "sleep", "1000");
        var lines = Ok("top", id, "-o", "pid,comm").Split('\n');
        Assert.Matches(@"^PID\s+COMMAND$", lines[0]);
        Assert.Single(lines.Skip(1));
        Assert.Matches(@"^\d+\s+sleep$", lines[1]);
        Assert.Contains("PID", Fails("top", id, "-o", "comm").Stderr);
        Ok("rm", "-f", id);
    }

    [DockerCliFact]
    public void The_docker_cli_renames_updates_stops_with_a_signal_and_runs_with_init()
    {
        var (a, b) = (Name(), Name());
        var id = Docker("run", "-d", "--network", "none", "--name", a, "busybox", "sh", "-c", "trap 'exit 44' USR1; while true; do sleep 0.1; done");
        Docker("rename", a, b);
        Assert.Equal("/" + b, Inspect(id)["Name"]!.ToString());
        Docker("update", "--memory", "40m", b);
        Assert.Equal((40L << 20).ToString(), File.ReadAllText(CgroupFile(id, "memory.limit_in_bytes")).Trim());
        Docker("stop", "-s", "USR1", "-t", "600", b);
        Assert.Equal(44, Inspect(id)["State"]!["ExitCode"]!.GetValue<int>());
        var (code, _, _) = DockerCliFactAttribute.Run(daemon.Socket, daemon.Root, null, "run", "--rm", "--network", "none", "--init", "busybox", "sh", "-c", "test \"$(cat /proc/1/comm)\" = gocker-init && exit 9");
        Assert.Equal(9, code);
        Docker("rm", b);
    }
}
