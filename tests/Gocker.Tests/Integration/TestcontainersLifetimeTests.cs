using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using DotNet.Testcontainers.Builders;
using DotNet.Testcontainers.Configurations;
using DotNet.Testcontainers.Containers;

namespace Gocker.Tests.Integration;

/// <summary>
/// One Testcontainers for .NET test's whole lifetime against gockerd, as a user of that library
/// writes it (issue #18): a user network from NetworkBuilder, a named volume from VolumeBuilder, a
/// container with a published port, an HTTP wait on that port and an exec wait, a file mapped in
/// before the start and one copied in after, a file read back, a network alias resolved from a second
/// container, and disposal, after which nothing the test made is left. Ryuk (the resource reaper)
/// is off: it is an image of its own, which this daemon has not got; disposal removes each resource.
/// </summary>
public sealed class TestcontainersLifetimeTests(DaemonFixture daemon) : IClassFixture<DaemonFixture>, IDisposable
{
    public void Dispose() => daemon.AssertNoLeaks();

    [Fact]
    public async Task One_container_lifetime_with_port_and_exec_waits_files_alias_and_volume()
    {
        await Lifetime.Run(daemon.Socket, daemon.DataRoot);
        // Nothing of it through the API either (names are unique per run: any is a leak).
        var containers = JsonDocument.Parse(RawHttp.Request(daemon.Socket, "GET", "/v1.43/containers/json?all=1").Body).RootElement;
        Assert.DoesNotContain(containers.EnumerateArray(), c => c.GetProperty("Names")[0].GetString()!.StartsWith("/tclife-", StringComparison.Ordinal));
        var networks = JsonDocument.Parse(RawHttp.Request(daemon.Socket, "GET", "/v1.43/networks").Body).RootElement;
        Assert.DoesNotContain(networks.EnumerateArray(), n => n.GetProperty("Name").GetString()!.StartsWith("tclife-", StringComparison.Ordinal));
        var volumes = JsonDocument.Parse(RawHttp.Request(daemon.Socket, "GET", "/v1.43/volumes").Body).RootElement.GetProperty("Volumes");
        Assert.True(volumes.ValueKind != JsonValueKind.Array || !volumes.EnumerateArray().Any(v => v.GetProperty("Name").GetString()!.StartsWith("tclife-", StringComparison.Ordinal)),
            "volumes left: " + volumes);
    }

    /// <summary>bench/testcontainers-bench.sh: the same lifetime RUNS times against a gockerd the
    /// script started (GOCKER_TC_BENCH_SOCKET, GOCKER_TC_BENCH_DATA_ROOT), each run's milliseconds
    /// one a line in GOCKER_TC_BENCH_OUT. Skipped in the suite.</summary>
    [BenchFact]
    public async Task Bench()
    {
        var socket = Environment.GetEnvironmentVariable("GOCKER_TC_BENCH_SOCKET")!;
        var dataRoot = Environment.GetEnvironmentVariable("GOCKER_TC_BENCH_DATA_ROOT")!;
        var runs = int.Parse(Environment.GetEnvironmentVariable("GOCKER_TC_BENCH_RUNS") ?? "5", CultureInfo.InvariantCulture);
        var output = Environment.GetEnvironmentVariable("GOCKER_TC_BENCH_OUT")!;
        // One run first, not counted: the test host's JIT and Testcontainers' own start-up.
        await Lifetime.Run(socket, dataRoot);
        var lines = new List<string>();
        for (var i = 0; i < runs; i++)
        {
            var sw = Stopwatch.StartNew();
            await Lifetime.Run(socket, dataRoot);
            lines.Add(sw.ElapsedMilliseconds.ToString(CultureInfo.InvariantCulture));
        }
        File.WriteAllLines(output, lines);
    }

    public sealed class BenchFactAttribute : FactAttribute
    {
        public BenchFactAttribute()
        {
            if (Environment.GetEnvironmentVariable("GOCKER_TC_BENCH_SOCKET") is null) Skip = "run by bench/testcontainers-bench.sh";
        }
    }

    static class Lifetime
    {
        public static async Task Run(string socket, string dataRoot)
        {
            TestcontainersSettings.ResourceReaperEnabled = false;
            var endpoint = "unix://" + socket;
            var tag = Guid.NewGuid().ToString("N")[..8];
            string netName = "tclife-" + tag, volName = "tclife-" + tag, webName = "tclife-web-" + tag, peerName = "tclife-peer-" + tag;
            var volumeData = Path.Combine(dataRoot, "volumes", volName, "_data");

            var network = new NetworkBuilder().WithDockerEndpoint(endpoint).WithName(netName).Build();
            var volume = new VolumeBuilder().WithDockerEndpoint(endpoint).WithName(volName).Build();
            IContainer? web = null, peer = null;
            try
            {
                await network.CreateAsync();
                await volume.CreateAsync();
                web = new ContainerBuilder("busybox:latest")
                    .WithDockerEndpoint(endpoint)
                    .WithImagePullPolicy(DotNet.Testcontainers.Images.PullPolicy.Never)
                    .WithName(webName)
                    .WithNetwork(network)
                    .WithNetworkAliases("web-alias")
                    .WithVolumeMount(volume, "/data")
                    .WithPortBinding(8080, assignRandomHostPort: true)
                    // Copied into the created container before its start (PUT /archive).
                    .WithResourceMapping(Encoding.UTF8.GetBytes("served by httpd\n"), "/www/index.html")
                    // httpd serves the mapped file; -vv logs each request's url, so the wait's GET is seen below.
                    .WithCommand("sh", "-c", "echo written-in-volume > /data/f; exec httpd -f -vv -p 8080 -h /www")
                    .WithWaitStrategy(Wait.ForUnixContainer()
                        .UntilHttpRequestIsSucceeded(r => r.ForPort(8080).ForPath("/index.html"))
                        // An exec wait: it runs in the container (and leaves a mark to prove it did).
                        .UntilCommandIsCompleted("sh", "-c", "test -s /data/f && touch /tmp/exec-wait-ran"))
                    .Build();
                await web.StartAsync();

                // The port: the wait's GET reached httpd through the published port (httpd logged it
                // before the test sent anything), and the test's own GET does too.
                var (stdout, stderr) = await web.GetLogsAsync();
                Assert.True(stderr.Contains("url:/index.html"), $"httpd logged no GET before the test's own: stdout [{stdout}] stderr [{stderr}] raw "
                    + Encoding.UTF8.GetString(RawHttp.Request(socket, "GET", $"/containers/{webName}/logs?stdout=1&stderr=1").Body));
                var port = web.GetMappedPublicPort(8080);
                Assert.True(port > 0, "no mapped port for 8080");
                using (var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) })
                    Assert.Equal("served by httpd\n", await http.GetStringAsync($"http://{web.Hostname}:{port}/index.html"));

                // The exec wait ran in the container.
                var mark = await web.ExecAsync(["ls", "/tmp/exec-wait-ran"]);
                Assert.True(mark.ExitCode == 0, "the exec wait left no mark: " + mark.Stderr);

                // Copy in after the start, read back a file the container wrote.
                await web.CopyAsync(Encoding.UTF8.GetBytes("copied in\n"), "/www/copied.txt");
                Assert.Equal("copied in\n", (await web.ExecAsync(["cat", "/www/copied.txt"])).Stdout);
                await web.ExecAsync(["sh", "-c", "echo from-inside > /tmp/out.txt"]);
                Assert.Equal("from-inside\n", Encoding.UTF8.GetString(await web.ReadFileAsync("/tmp/out.txt")));

                // The alias: a second container on the network fetches the page by it.
                peer = new ContainerBuilder("busybox:latest")
                    .WithDockerEndpoint(endpoint)
                    .WithImagePullPolicy(DotNet.Testcontainers.Images.PullPolicy.Never)
                    .WithName(peerName)
                    .WithNetwork(network)
                    .WithCommand("wget", "-q", "-O-", "http://web-alias:8080/copied.txt")
                    .Build();
                await peer.StartAsync();
                Assert.Equal(0, await peer.GetExitCodeAsync());
                // GetLogsAsync asks for timestamps: "2026-...Z copied in".
                Assert.Matches(@"^\d{4}-\d\d-\d\dT[\d:.]+Z copied in\n$", (await peer.GetLogsAsync()).Stdout);

                // The volume: the container's write is there, and stays once the container is gone.
                await web.DisposeAsync();
                web = null;
                Assert.Equal("written-in-volume\n", File.ReadAllText(Path.Combine(volumeData, "f")));
            }
            finally
            {
                if (peer is not null) await peer.DisposeAsync();
                if (web is not null) await web.DisposeAsync();
                await volume.DisposeAsync();
                await network.DisposeAsync();
            }
            Assert.False(Directory.Exists(Path.GetDirectoryName(volumeData)), "volume left: " + volName);
        }
    }
}
