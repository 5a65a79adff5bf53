using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Gocker.Tests.Integration;

/// <summary>Skips unless Debian's docker-compose (1.29, on python3-docker) is installed.</summary>
public sealed class DockerComposeFactAttribute : FactAttribute
{
    public const string Compose = "/usr/bin/docker-compose";

    public DockerComposeFactAttribute()
    {
        if (!File.Exists(Compose)) Skip = "docker-compose (Debian's package, 1.29) is not installed at " + Compose;
    }

    /// <summary>docker-compose in <paramref name="dir"/> against the daemon's socket, with a config dir of
    /// its own (nothing of the machine's docker settings is used).</summary>
    public static CliResult Run(DaemonFixture daemon, string dir, params string[] args)
    {
        var psi = new ProcessStartInfo(Compose)
        {
            WorkingDirectory = dir, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["DOCKER_HOST"] = "unix://" + daemon.Socket;
        psi.Environment["DOCKER_CONFIG"] = Path.Combine(daemon.Root, "docker-config");
        // exec through the Engine API (docker-py), not by running the docker CLI.
        psi.Environment["COMPOSE_INTERACTIVE_NO_CLI"] = "1";
        psi.Environment.Remove("COMPOSE_PROJECT_NAME");
        psi.Environment.Remove("COMPOSE_FILE");
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(180_000))
        {
            p.Kill(true);
            throw new TimeoutException($"docker-compose {string.Join(' ', args)} did not finish\n{daemon.DaemonLog}");
        }
        p.WaitForExit();
        return new CliResult(p.ExitCode, stdout.Result, stderr.Result);
    }
}

/// <summary>
/// Debian's docker-compose 1.29 against gockerd (issue #18): a three-service busybox project on a user
/// network of its own, in its own directory with a unique project name: `up -d`, service names and a
/// network alias resolving between services, `ps`, `exec`, `logs`, `restart: on-failure`, a second
/// `up -d` that finds everything up to date, and nothing left after `down`.
/// </summary>
[Trait("Needs", "root")]
public sealed class DockerComposeTests(DaemonFixture daemon) : IClassFixture<DaemonFixture>, IDisposable
{
    public void Dispose() => daemon.AssertNoLeaks();

    /// <summary>A /24 of the fixture's own address pool (its last), so the project's subnet is nobody else's.</summary>
    string ProjectSubnet()
    {
        var pool = daemon.Net.AddressPool.Split('/')[0].Split('.').Select(int.Parse).ToArray();
        return $"{pool[0]}.{pool[1]}.{pool[2] + 3}.0/24";
    }

    public static string ComposeFile(string subnet) => $$"""
        version: "2.4"
        services:
          web:
            image: busybox
            command: ["sh", "-c", "mkdir -p /www && echo hello-from-web > /www/index.html; trap 'exit 0' TERM; httpd -f -p 80 -h /www & wait"]
            networks: [appnet]
          api:
            image: busybox
            command: ["sh", "-c", "echo api-started; echo kept >> /data/f; trap 'exit 0' TERM; while :; do sleep 1; done"]
            volumes: [store:/data]
            networks:
              appnet:
                aliases: [backend]
          worker:
            image: busybox
            restart: on-failure
            command: ["sh", "-c", "if [ -f /ran ]; then echo worker-second-run; trap 'exit 0' TERM; while :; do sleep 1; done; else touch /ran; echo worker-first-run; exit 3; fi"]
            networks: [appnet]
        networks:
          appnet:
            ipam:
              config:
                - subnet: {{subnet}}
        volumes:
          store: {}
        """;

    CliResult Compose(string dir, params string[] args)
    {
        var r = DockerComposeFactAttribute.Run(daemon, dir, args);
        Assert.True(r.ExitCode == 0, $"docker-compose {string.Join(' ', args)}: {r}\n{daemon.DaemonLog}");
        return r;
    }

    string Gocker(params string[] args)
    {
        var r = daemon.Gocker(args);
        Assert.True(r.ExitCode == 0, $"gocker {string.Join(' ', args)}: {r}");
        return r.Stdout;
    }

    [DockerComposeFact]
    public void A_three_service_project_comes_up_resolves_names_restarts_on_failure_keeps_its_named_volume_until_down_v_and_leaves_nothing()
    {
        var project = "gkc" + Guid.NewGuid().ToString("N")[..8];
        var dir = Directory.CreateDirectory(Path.Combine(daemon.Root, "compose-" + project)).FullName;
        var subnet = ProjectSubnet();
        File.WriteAllText(Path.Combine(dir, "docker-compose.yml"), ComposeFile(subnet));
        var up = false;
        try
        {
            Compose(dir, "-p", project, "up", "-d");
            up = true;

            // restart: on-failure: the worker's first run exits 3, the policy starts it again.
            string logs = "";
            for (var deadline = DateTime.UtcNow.AddSeconds(60); DateTime.UtcNow < deadline; Thread.Sleep(200))
            {
                logs = Compose(dir, "-p", project, "logs", "--no-color").Stdout;
                if (logs.Contains("worker-second-run") && logs.Contains("api-started")) break;
            }
            Assert.Contains("api-started", logs);
            Assert.Contains("worker-first-run", logs);
            Assert.Contains("worker-second-run", logs);
            var worker = JsonDocument.Parse(Gocker("inspect", $"{project}_worker_1")).RootElement[0];
            Assert.True(worker.GetProperty("RestartCount").GetInt32() >= 1, worker.GetRawText());
            Assert.Equal("on-failure", worker.GetProperty("HostConfig").GetProperty("RestartPolicy").GetProperty("Name").GetString());

            var ps = Compose(dir, "-p", project, "ps").Stdout;
            foreach (var service in new[] { "web", "api", "worker" })
                Assert.Matches($@"(?m)^{project}_{service}_1\s.*\sUp\b", ps);

            // The project's network with its subnet; every service on it.
            var net = JsonDocument.Parse(Gocker("network", "inspect", $"{project}_appnet")).RootElement[0];
            Assert.Equal(subnet, net.GetProperty("IPAM").GetProperty("Config")[0].GetProperty("Subnet").GetString());
            Assert.Equal(3, net.GetProperty("Containers").EnumerateObject().Count());
            string IpOf(string service) => JsonDocument.Parse(Gocker("inspect", $"{project}_{service}_1")).RootElement[0]
                .GetProperty("NetworkSettings").GetProperty("Networks").GetProperty($"{project}_appnet").GetProperty("IPAddress").GetString()!;

            // Service names (and the api's alias) resolve between services; exec runs in them.
            Assert.Equal("hello-from-web\n", Compose(dir, "-p", project, "exec", "-T", "api", "wget", "-qO-", "http://web/").Stdout);
            var ping = Compose(dir, "-p", project, "exec", "-T", "web", "sh", "-c", "ping -c1 -W2 backend; ping -c1 -W2 worker; ping -c1 -W2 api").Stdout;
            Assert.Contains($"PING backend ({IpOf("api")})", ping);
            Assert.Contains($"PING worker ({IpOf("worker")})", ping);
            Assert.Contains($"PING api ({IpOf("api")})", ping);
            Assert.Matches(@"1 packets transmitted, 1 packets received", ping);

            // A second `up -d` finds the project as it is (same containers, nothing recreated).
            var ids = Gocker("ps", "-q", "--no-trunc", "--filter", $"label=com.docker.compose.project={project}").Split('\n', StringSplitOptions.RemoveEmptyEntries).Order().ToList();
            Assert.Equal(3, ids.Count);
            var again = Compose(dir, "-p", project, "up", "-d");
            Assert.DoesNotContain("Recreating", again.Stdout + again.Stderr);
            Assert.Equal(ids, Gocker("ps", "-q", "--no-trunc", "--filter", $"label=com.docker.compose.project={project}").Split('\n', StringSplitOptions.RemoveEmptyEntries).Order().ToList());

            Compose(dir, "-p", project, "down");
            Assert.Equal("", Gocker("ps", "-aq", "--filter", $"label=com.docker.compose.project={project}").Trim());
            Assert.DoesNotContain(project, Gocker("network", "ls"));

            // The named volume outlives `down`: a new api container finds the first one's line.
            Assert.Contains($"{project}_store", Gocker("volume", "ls", "-q"));
            Compose(dir, "-p", project, "up", "-d");
            string data = "";
            for (int i = 0; i < 200 && data != "kept\nkept\n"; i++)
            {
                Thread.Sleep(50);
                data = DockerComposeFactAttribute.Run(daemon, dir, "-p", project, "exec", "-T", "api", "cat", "/data/f").Stdout;
            }
            Assert.Equal("kept\nkept\n", data);
            // `down -v` takes it with the project.
            Compose(dir, "-p", project, "down", "-v");
            up = false;
            Assert.DoesNotContain($"{project}_store", Gocker("volume", "ls", "-q"));
            Assert.Equal("", Gocker("ps", "-aq", "--filter", $"label=com.docker.compose.project={project}").Trim());
            Assert.DoesNotContain(project, Gocker("network", "ls"));
        }
        finally
        {
            if (up) DockerComposeFactAttribute.Run(daemon, dir, "-p", project, "down", "-v");
        }
    }
}
