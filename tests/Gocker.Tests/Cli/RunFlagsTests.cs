using Gocker.Cli;

namespace Gocker.Tests.Cli;

public class RunFlagsTests
{
    [Theory]
    [InlineData("1024", 1024L)]
    [InlineData("0", 0L)]
    [InlineData("100b", 100L)]
    [InlineData("4k", 4096L)]
    [InlineData("512m", 512L << 20)]
    [InlineData("512M", 512L << 20)]
    [InlineData("1g", 1L << 30)]
    [InlineData("1G", 1L << 30)]
    [InlineData("1.5g", 3L << 29)]
    [InlineData("64mb", 64L << 20)]
    [InlineData("64MiB", 64L << 20)]
    [InlineData("2 g", 2L << 30)]
    public void Memory_values(string value, long expected) => Assert.Equal(expected, RunFlags.ParseMemory(value));

    [Theory]
    [InlineData("12x")]
    [InlineData("")]
    [InlineData("m")]
    [InlineData("-1")]
    [InlineData("1..5g")]
    [InlineData("1.g")]
    [InlineData("12 x")]
    [InlineData("1  g")]
    [InlineData("5gbb")]
    [InlineData("99999999999999999999999999999999999g")]
    public void Bad_memory_values_are_refused(string value)
    {
        var e = Assert.Throws<UsageException>(() => RunFlags.ParseMemory(value));
        Assert.StartsWith($"invalid memory value {value}", e.Message);
    }

    [Theory]
    [InlineData("1", 1_000_000_000L)]
    [InlineData("1.5", 1_500_000_000L)]
    [InlineData("0.01", 10_000_000L)]
    [InlineData("0", 0L)]
    public void Cpus_values(string value, long nano) => Assert.Equal(nano, RunFlags.ParseCpus(value));

    [Theory]
    [InlineData("x")]
    [InlineData("-1")]
    [InlineData("1,5")]
    [InlineData("")]
    public void Bad_cpus_values_are_refused(string value)
    {
        var e = Assert.Throws<UsageException>(() => RunFlags.ParseCpus(value));
        Assert.Contains("--cpus", e.Message);
    }

    [Theory]
    [InlineData("/data:/data")]
    [InlineData("/data:/mnt/x:ro")]
    [InlineData("/:/host:rw")]
    public void Good_binds(string spec) => Assert.Equal(spec, RunFlags.ValidateBind(spec));

    [Theory]
    [InlineData("data:/data", "host path 'data' must be absolute")]
    [InlineData("/data:data", "container path 'data' must be absolute")]
    [InlineData("/data:/", "cannot be '/'")]
    [InlineData("/data:/x:rx", "mode 'rx' must be ro, rw or create")]
    [InlineData("/data", "expected HOST:CONTAINER")]
    [InlineData("/a:/b:ro:x", "expected HOST:CONTAINER")]
    [InlineData(":/b", "host path '' must be absolute")]
    public void Bad_binds_name_the_problem(string spec, string why)
    {
        var e = Assert.Throws<UsageException>(() => RunFlags.ValidateBind(spec));
        Assert.Contains($"'{spec}'", e.Message);
        Assert.Contains(why, e.Message);
    }

    [Fact]
    public void Env_bare_names_take_the_console_value_or_are_dropped()
    {
        var env = RunFlags.ResolveEnv(["A=1", "B", "C", "D=", "E=x=y"], k => k == "B" ? "from-console" : null);
        Assert.Equal(["A=1", "B=from-console", "D=", "E=x=y"], env);
        Assert.Throws<UsageException>(() => RunFlags.ResolveEnv(["=x"], _ => null));
    }

    [Theory]
    [InlineData("busybox", "busybox", "latest")]
    [InlineData("busybox:1.36", "busybox", "1.36")]
    [InlineData("reg:5000/team/app", "reg:5000/team/app", "latest")]
    [InlineData("reg:5000/team/app:v2", "reg:5000/team/app", "v2")]
    public void References(string reference, string repo, string tag) =>
        Assert.Equal((repo, tag), RunFlags.SplitReference(reference));

    [Fact]
    public void Expose_takes_ports_ranges_and_protocols()
    {
        var e = RunFlags.ParseExpose(["80", "53/udp", "7000-7002/tcp"])!;
        Assert.Equal(["53/udp", "7000/tcp", "7001/tcp", "7002/tcp", "80/tcp"], e.Keys.Order(StringComparer.Ordinal));
        Assert.Null(RunFlags.ParseExpose([]));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("65536")]
    [InlineData("http")]
    [InlineData("80/sctp")]
    [InlineData("90-80")]
    [InlineData("1-5000")]
    public void Bad_expose_values_are_refused(string value)
    {
        var e = Assert.Throws<UsageException>(() => RunFlags.ParseExpose([value]));
        Assert.Contains($"\"{value}\"", e.Message);
    }

    [Fact]
    public void Publish_all_adds_exposed_ports_without_overriding_explicit_bindings()
    {
        var explicitBinding = new Gocker.Api.PortBinding { HostPort = "8080" };
        var result = Gocker.Actors.Containers.ContainerSpecFactory.WithExposedPorts(
            new() { ["80/tcp"] = [explicitBinding] }, ["80", "443", "53/udp"])!;
        Assert.Same(explicitBinding, Assert.Single(result["80/tcp"]!));
        Assert.Equal("", Assert.Single(result["443/tcp"]!).HostPort);
        Assert.Equal("", Assert.Single(result["53/udp"]!).HostPort);
        Assert.Null(Gocker.Actors.Containers.ContainerSpecFactory.WithExposedPorts(null, []));
    }

    [Fact]
    public void Log_driver_and_options_become_a_log_config()
    {
        Assert.Null(RunFlags.ParseLogConfig(null, null));
        Assert.Null(RunFlags.ParseLogConfig(null, []));
        var c = RunFlags.ParseLogConfig(null, ["max-size=10m", "max-file=3", "max-size=20m"])!;
        Assert.Equal("", c.Type);
        Assert.Equal(new Dictionary<string, string> { ["max-size"] = "20m", ["max-file"] = "3" }, c.Config);
        var none = RunFlags.ParseLogConfig("none", null)!;
        Assert.Equal(("none", 0), (none.Type, none.Config!.Count));
        // The daemon knows which names and values are good; the console only checks the shape.
        Assert.Equal("a=b", RunFlags.ParseLogConfig("local", ["tag=a=b"])!.Config!["tag"]);
        Assert.Contains("max-size", Assert.Throws<UsageException>(() => RunFlags.ParseLogConfig(null, ["max-size"])).Message);
        Assert.Contains("=1m", Assert.Throws<UsageException>(() => RunFlags.ParseLogConfig(null, ["=1m"])).Message);
    }

    [Fact]
    public void Labels_come_from_files_first_then_from_flags_and_a_bare_key_has_an_empty_value()
    {
        var files = new Dictionary<string, string[]>
        {
            ["a.labels"] = ["# comment", "", "  tier=file", "only.in.file=1", "eq=a=b\r"],
            ["b.labels"] = ["bare"],
        };
        var labels = RunFlags.ParseLabels(["tier=flag", "flag.only"], ["a.labels", "b.labels"], f => files[f])!;
        Assert.Equal(new Dictionary<string, string>
        {
            ["tier"] = "flag", ["only.in.file"] = "1", ["eq"] = "a=b", ["bare"] = "", ["flag.only"] = "",
        }, labels);
        Assert.Null(RunFlags.ParseLabels([], [], f => []));
    }

    [Fact]
    public void A_label_without_a_key_or_an_unreadable_label_file_is_refused_naming_it()
    {
        Assert.Contains("'=v'", Assert.Throws<UsageException>(() => RunFlags.ParseLabels(["=v"], [], f => [])).Message);
        var e = Assert.Throws<UsageException>(() => RunFlags.ParseLabels([], ["x.labels"], f => ["ok=1", " =v"]));
        Assert.Contains("x.labels, line 2", e.Message);
        var missing = Path.Combine(Path.GetTempPath(), "no-such-" + Guid.NewGuid().ToString("N") + ".labels");
        Assert.Contains(missing, Assert.Throws<UsageException>(() => RunFlags.ParseLabels([], [missing], File.ReadLines)).Message);
    }
}
