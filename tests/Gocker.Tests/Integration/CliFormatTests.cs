namespace Gocker.Tests.Integration;

/// <summary>
/// The console's --format, info, system df, port, groups and --env-file against a real gockerd.
/// Where the docker CLI is installed, it is the oracle: both consoles run the same command on the
/// same daemon and must print the same thing.
/// </summary>
[Trait("Needs", "root")]
public sealed class CliFormatTests(DaemonFixture daemon) : IClassFixture<DaemonFixture>, IDisposable
{
    public void Dispose() => daemon.AssertNoLeaks();

    static string Unique(string prefix) => prefix + Guid.NewGuid().ToString("N")[..8];

    string Ok(params string[] args)
    {
        var r = daemon.Gocker(args);
        Assert.True(r.ExitCode == 0, $"gocker {string.Join(' ', args)}: {r}");
        return r.Stdout;
    }

    (int Code, string Out, string Err) Docker(params string[] args) => DockerCliFactAttribute.Run(daemon.Socket, daemon.Root, null, args);

    /// <summary>Runs the same command with both consoles and asserts the same exit code and output.</summary>
    void Same(params string[] args)
    {
        var d = Docker(args);
        var g = daemon.Gocker(args);
        Assert.True(d.Code == g.ExitCode && d.Out == g.Stdout,
            $"{string.Join(' ', args)}\n--- docker (exit {d.Code})\n{d.Out}{d.Err}\n--- gocker (exit {g.ExitCode})\n{g.Stdout}{g.Stderr}");
    }

    /// <summary>Templates whose answer docker computes the same way whether it reads its typed structs or the raw JSON.</summary>
    public static readonly string[] InspectTemplates =
    [
        "{{.State.Pid}}",
        "{{.Name}} {{.Id}} {{.Image}}",
        "{{.Config.Labels}}",
        "{{.Config.Cmd}}",
        "{{.Config.Labels.zz}}",
        "{{index .Config.Labels \"zz\"}}|{{index .Config.Labels \"tier\"}}",
        "{{json .Config.Labels}}",
        "{{json .Config.Cmd}} {{json .Name}}",
        "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}",
        "{{range $i, $e := .Config.Env}}{{$i}}:{{$e}} {{end}}",
        "{{range .Config.Cmd}}[{{.}}]{{else}}none{{end}}",
        "{{join .Config.Cmd \",\"}}",
        "{{printf \"%s|%d|%v|%5s|%-5s|%q\" .Name .State.Pid .State.Running \"ab\" \"cd\" .Name}}",
        "{{len .Config.Env}} {{len .Name}} {{len .Config.Labels}}",
        "{{upper .Name}} {{lower \"ABC\"}} {{title \"hello world-x\"}}",
        "{{.Created}} {{.State.StartedAt}} {{.State.Status}}",
        "{{.HostConfig.Memory}} {{.HostConfig.NetworkMode}} {{.HostConfig.AutoRemove}}",
        "{{split .Name \"t\"}}",
        "{{if .State.Running}}up{{else}}down{{end}}",
        "{{if eq .State.Status \"running\"}}R{{else if eq .State.Status \"exited\"}}E{{else}}?{{end}}",
        "{{with .Config}}{{.Image}}{{end}}",
        "x {{- .Name -}}   {{- .Id | printf \"%.5s\" }}",
        "{{$n := .Name}}{{$n}}{{$n = \"x\"}}{{$n}}",
        "{{.Name | upper | lower}}",
        "{{println .Name}}",
        "{{print 1 2 \"a\" \"b\" 3}}",
        "{{and .State.Running \"yes\"}} {{or \"\" \"fallback\"}} {{not .State.Running}}",
        "{{lt 1 2}} {{le 2 2}} {{ge 1 2}} {{ne .Name \"/x\"}}",
        "{{index .Config.Cmd 1}} {{slice .Name 1 2}}",
        "{{.Config.Env}} {{json .Config.Env}}",
        "{{truncate .Name 2}}|{{pad .Name 1 2}}|",
        "{{range $i, $e := .Config.Cmd}}{{if $i}},{{end}}{{$e}}{{end}}",
        "{{/* comment */}}ok",
        "{{range .Config.Cmd}}{{if eq . \"sleep\"}}{{continue}}{{end}}{{.}}{{end}}",
        "{{range .Config.Cmd}}{{.}}{{break}}{{end}}",
        "{{printf \"%v\" .Config.Labels}} {{printf \"%x\" 255}} {{printf \"%05d\" 42}} {{printf \"%.2f\" 3.14159}}",
        "{{\"quoted\\tstring\"}} {{`raw`}} {{'a'}} {{0x10}} {{-5}}",
        "{{html \"<a&b>\"}} {{urlquery \"a b&c\"}} {{js \"it's\"}}",
        "{{.RestartCount}} {{.Path}} {{.Args}}",
    ];

    [DockerCliFact]
    public void Inspect_format_prints_what_the_docker_cli_prints()
    {
        var name = Unique("fmt-");
        try
        {
            // Labels given in key order: gockerd keeps a map's keys in the order given where Docker's
            // daemon sorts them, which `json` of a map shows (a daemon difference, not the template's).
            Ok("run", "-d", "--name", name, "--network", "none", "-l", "a=1", "-l", "tier=web", "-e", "X=1", "busybox", "sleep", "300");
            foreach (var t in InspectTemplates)
            {
                Same("inspect", "-f", t, name);
                Same("container", "inspect", "--format", t, name);
            }
            // Several objects: one line each.
            Same("inspect", "-f", "{{.Name}}", name, name);
            Same("inspect", "--format", "json", name);
        }
        finally { daemon.Gocker("rm", "-f", name); }
    }

    [DockerCliFact]
    public void Template_errors_exit_and_read_as_dockers()
    {
        var name = Unique("fmterr-");
        try
        {
            Ok("create", "--name", name, "--network", "none", "busybox", "true");
            foreach (var (args, code) in new (string[], int)[]
                     {
                         (["inspect", "-f", "{{", name], 64),
                         (["inspect", "-f", "{{.Name | nosuch}}", name], 64),
                         (["inspect", "-f", "{{.Name.Sub}}", name], 1),
                         (["ps", "-a", "--format", "{{"], 1),
                         (["ps", "-a", "--format", "{{.Nope}}"], 1),
                         (["images", "--format", "{{.Nope}}"], 1),
                         (["network", "ls", "--format", "{{"], 1),
                         (["info", "--format", "{{"], 64),
                         (["version", "--format", "{{"], 64),
                     })
            {
                var d = Docker(args);
                var g = daemon.Gocker(args);
                Assert.True(d.Code == code && g.ExitCode == code, $"{string.Join(' ', args)}: docker {d.Code} {d.Err}, gocker {g}");
                // gocker prefixes its errors with "gocker: "; the rest is docker's message.
                var dockerMessage = d.Err.Trim().Split('\n')[^1];
                Assert.Contains(dockerMessage, g.Stderr);
            }
        }
        finally { daemon.Gocker("rm", "-f", name); }
    }

    [DockerCliFact]
    public void Ps_images_and_network_formats_print_what_docker_prints()
    {
        var name = Unique("fmtps-");
        var net = Unique("fmtnet-");
        try
        {
            Ok("run", "-d", "--name", name, "--network", "none", "-l", "tier=web", "busybox", "sleep", "300");
            Ok("network", "create", "--label", "team=a", net);
            var filter = "name=" + name;
            Same("ps", "--filter", filter, "--format", "{{.ID}} {{.Names}} {{.Image}} {{.Command}} {{.State}} {{.Labels}} [{{.Label \"tier\"}}] {{.Ports}}");
            Same("ps", "--filter", filter, "--format", "table {{.ID}}\\t{{.Names}}\\t{{.Image}}\\t{{.State}}");
            Same("ps", "--filter", filter, "--no-trunc", "--format", "{{.ID}}\\t{{.Command}}");
            Same("container", "ls", "--filter", filter, "--format", "{{.Names}}");
            Same("container", "list", "-a", "--filter", filter, "--format", "{{upper .Names}}");
            Same("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}");
            Same("images", "--format", "table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}");
            Same("image", "ls", "--no-trunc", "--format", "{{.ID}}");
            Same("image", "inspect", "-f", "{{.Id}} {{.Os}} {{.Architecture}}", "busybox");
            Same("network", "ls", "--filter", "name=" + net, "--format", "{{.Name}} {{.Driver}} {{.Scope}} {{.Labels}} {{.Label \"team\"}} {{.Internal}} {{.IPv6}}");
            Same("network", "ls", "--filter", "name=" + net, "--format", "table {{.Name}}\\t{{.Driver}}");
            Same("network", "inspect", "-f", "{{.Name}} {{.Driver}} {{.Labels}} {{range .IPAM.Config}}{{.Subnet}}{{end}}", net);
            Same("inspect", "--type", "network", "-f", "{{.Name}}", net);
        }
        finally
        {
            daemon.Gocker("rm", "-f", name);
            daemon.Gocker("network", "rm", net);
        }
    }

    [DockerCliFact]
    public void Info_system_df_and_version_match_the_docker_cli()
    {
        var name = Unique("fmtinfo-");
        try
        {
            Ok("run", "-d", "--name", name, "--network", "none", "busybox", "sleep", "300");
            Same("info", "--format", "{{.Containers}} {{.ContainersRunning}} {{.Images}} {{.ServerVersion}} {{.NCPU}} {{.OSType}} {{.Driver}} {{.DockerRootDir}}");
            Same("system", "info", "--format", "{{.Plugins.Network}} {{.ID}} {{.KernelVersion}} {{json .DriverStatus}}");
            Same("version", "--format", "{{.Server.Version}} {{.Server.Os}}/{{.Server.Arch}} {{.Server.KernelVersion}}");
            Same("system", "df");
            Same("system", "df", "--format", "{{.Type}}: {{.TotalCount}} {{.Active}} {{.Size}} {{.Reclaimable}}");
            // The server part of `info`: docker's lines for every value gockerd reports.
            var d = Docker("info");
            var g = Ok("info");
            Assert.Equal(0, d.Code);
            var dockerServer = d.Out[d.Out.IndexOf("Server:", StringComparison.Ordinal)..].Split('\n');
            var gockerServer = g[g.IndexOf("Server:", StringComparison.Ordinal)..].Split('\n');
            foreach (var key in new[] { " Containers:", "  Running:", "  Stopped:", " Images:", " Server Version:", " Storage Driver:", "  Backing Filesystem:",
                         " Logging Driver:", " Cgroup Version:", "  Network:", " Kernel Version:", " Operating System:", " CPUs:",
                         " Total Memory:", " ID:", " Docker Root Dir:", " Live Restore Enabled:", " Runtimes:", "  seccomp" })
                Assert.Equal(dockerServer.First(l => l.StartsWith(key, StringComparison.Ordinal)), gockerServer.First(l => l.StartsWith(key, StringComparison.Ordinal)));
            // -v: docker's sections, with this container in its table.
            var v = Ok("system", "df", "-v");
            foreach (var section in new[] { "Images space usage:", "Containers space usage:", "Local Volumes space usage:", "Build cache usage: 0B" })
                Assert.Contains(section, v);
            Assert.Contains(name, v);
        }
        finally { daemon.Gocker("rm", "-f", name); }
    }

    [DockerCliFact]
    public void Port_lists_published_ports_as_docker_does()
    {
        var name = Unique("fmtport-");
        try
        {
            Ok("run", "-d", "--name", name, "-p", "127.0.0.1::80", "-p", "127.0.0.1::53/udp", "busybox", "sleep", "300");
            Same("port", name);
            Same("port", name, "80");
            Same("port", name, "53/udp");
            Same("container", "port", name, "80/tcp");
            var missing = daemon.Gocker("port", name, "81");
            Assert.Equal(1, missing.ExitCode);
            Assert.Contains($"No public port '81/tcp' published for {name}", missing.Stderr);
            Assert.Equal(1, Docker("port", name, "81").Code);
            var lines = Ok("port", name).Trim().Split('\n');
            Assert.Equal(2, lines.Length);
            Assert.StartsWith("53/udp -> 127.0.0.1:", lines[0]);
            Assert.StartsWith("80/tcp -> 127.0.0.1:", lines[1]);
        }
        finally { daemon.Gocker("rm", "-f", name); }
    }

    [Fact]
    public void Container_and_system_groups_are_the_top_level_commands()
    {
        var name = Unique("grp-");
        try
        {
            Assert.Equal("hi\n", Ok("container", "run", "--rm", "--network", "none", "busybox", "echo", "hi"));
            var id = Ok("container", "create", "--name", name, "--network", "none", "busybox", "sleep", "300").Trim();
            Ok("container", "start", name);
            Assert.Equal("running\n", Ok("container", "inspect", "-f", "{{.State.Status}}", name));
            Assert.Equal("a b\n", Ok("container", "exec", name, "echo", "a", "b"));
            Assert.Contains(name, Ok("container", "ls", "--format", "{{.Names}}"));
            Assert.Contains(id, Ok("container", "ps", "-q", "--no-trunc"));
            Ok("container", "pause", name);
            Assert.Equal("paused\n", Ok("container", "inspect", "-f", "{{.State.Status}}", name));
            Ok("container", "unpause", name);
            Assert.Contains("PID", Ok("container", "top", name));
            Ok("container", "kill", name);
            Assert.Equal("137\n", Ok("container", "wait", name));
            Assert.Equal(name + "\n", Ok("container", "remove", name));
            var notThere = daemon.Gocker("container", "inspect", name);
            Assert.Equal(1, notThere.ExitCode);
            Assert.Contains("No such container: " + name, notThere.Stderr);
            Assert.Matches("^[0-9a-f-]{36}\n$", Ok("system", "info", "--format", "{{.ID}}"));
            // The groups list their commands in the help.
            var help = Ok("container", "--help");
            foreach (var sub in new[] { "ls", "run", "exec", "inspect", "logs", "port" }) Assert.Contains(sub, help);
            Assert.Contains("df", Ok("system", "--help"));
        }
        finally { daemon.Gocker("rm", "-f", name); }
    }

    [Fact]
    public void Top_level_inspect_finds_containers_images_and_networks()
    {
        var name = Unique("insp-");
        try
        {
            Ok("create", "--name", name, "--network", "none", "busybox", "true");
            Assert.Equal("/" + name + "\n", Ok("inspect", "-f", "{{.Name}}", name));
            Assert.Contains("sha256:", Ok("inspect", "-f", "{{.Id}}", "busybox"));
            Assert.Equal("bridge\n", Ok("inspect", "-f", "{{.Name}}", "bridge"));
            var missing = daemon.Gocker("inspect", "-f", "{{.Name}}", name, "no-such-thing-" + name);
            Assert.Equal(1, missing.ExitCode);
            Assert.Equal("/" + name + "\n", missing.Stdout);
            Assert.Contains("Error: No such object: no-such-thing-" + name, missing.Stderr);
            var wrongType = daemon.Gocker("inspect", "--type", "volume", name);
            Assert.Equal(125, wrongType.ExitCode);
            Assert.Contains("--type", wrongType.Stderr);
        }
        finally { daemon.Gocker("rm", "-f", name); }
    }

    [Fact]
    public void Env_file_sets_variables_under_the_e_flags()
    {
        var name = Unique("envf-");
        var file = Path.Combine(daemon.Root, name + ".env");
        File.WriteAllText(file, "# comment\n\nA=from-file\nB=b value with spaces\n  C=\"quoted\"\nFROM_CONSOLE\nNOT_SET_ANYWHERE_" + name[5..] + "\n");
        try
        {
            var env = Ok("run", "--rm", "--network", "none", "--env-file", file, "-e", "B=flag", "busybox", "env");
            Assert.Contains("A=from-file\n", env);
            Assert.Contains("B=flag\n", env);
            Assert.Contains("C=\"quoted\"\n", env);
            Assert.DoesNotContain("NOT_SET_ANYWHERE", env);
            Ok("run", "-d", "--name", name, "--network", "none", "busybox", "sleep", "300");
            Assert.Equal("from-file|b value with spaces\n", Ok("exec", "--env-file", file, name, "sh", "-c", "echo \"$A|$B\""));
            var bad = Path.Combine(daemon.Root, name + ".bad");
            File.WriteAllText(bad, "BAD KEY=1\n");
            var r = daemon.Gocker("run", "--rm", "--env-file", bad, "busybox", "true");
            Assert.Equal(125, r.ExitCode);
            Assert.Contains("variable 'BAD KEY' contains whitespaces", r.Stderr);
            var none = daemon.Gocker("run", "--rm", "--env-file", bad + ".missing", "busybox", "true");
            Assert.Equal(125, none.ExitCode);
            Assert.Contains(bad + ".missing", none.Stderr);
        }
        finally { daemon.Gocker("rm", "-f", name); }
    }

    [Fact]
    public void Ps_last_shows_the_newest_containers_in_every_state()
    {
        var a = Unique("last-a-");
        var b = Unique("last-b-");
        try
        {
            Ok("create", "--name", a, "--network", "none", "busybox", "true");
            // Created one second apart at least: the API's Created is in whole seconds.
            var created = Ok("inspect", "-f", "{{.Created}}", a);
            while (Ok("run", "--rm", "--network", "none", "busybox", "date", "-u", "+%Y-%m-%dT%H:%M:%S").Trim() == created[..19]) Thread.Sleep(200);
            Ok("create", "--name", b, "--network", "none", "busybox", "true");
            Assert.Equal(b + "\n", Ok("ps", "-l", "--format", "{{.Names}}"));
            Assert.Equal(b + "\n" + a + "\n", Ok("ps", "-n", "2", "--filter", "name=last-", "--format", "{{.Names}}"));
        }
        finally { daemon.Gocker("rm", "-f", a, b); }
    }
}
