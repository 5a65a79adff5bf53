using Gocker.Actors.Containers;
using Gocker.Api;
using Gocker.Host;

namespace Gocker.Tests.Api;

/// <summary>The pure validators behind BadRequestTests: query parameters, content types, field
/// bounds, cpusets.</summary>
public class RequestValidationTests
{
    [Theory]
    [InlineData("0", 0)]
    [InlineData("10", 10)]
    [InlineData("2147423", 2147423)]
    public void Stop_timeout_takes_whole_seconds(string text, int seconds) =>
        Assert.Equal(TimeSpan.FromSeconds(seconds), QueryParams.StopTimeout(text));

    [Fact]
    public void Stop_timeout_absent_is_the_default() => Assert.Null(QueryParams.StopTimeout(""));

    [Theory]
    [InlineData("abc")]
    [InlineData("-1")]
    [InlineData("1.5")]
    [InlineData("2147424")]
    [InlineData("99999999999")]
    [InlineData(" 5")]
    public void Stop_timeout_refuses_anything_else(string text)
    {
        var ex = Assert.Throws<BadRequestException>(() => QueryParams.StopTimeout(text));
        Assert.Contains($"invalid t value '{text}'", ex.Message);
    }

    [Theory]
    [InlineData("1700000000", 1_700_000_000_000_000_000)]
    [InlineData("1700000000.5", 1_700_000_000_500_000_000)]
    [InlineData("1700000000.000000001", 1_700_000_000_000_000_001)]
    [InlineData("0", 0)]
    [InlineData("+5", 5_000_000_000)]
    [InlineData("-1.5", -500_000_000)] // as Go's time.Unix(-1, 500000000)
    // Outside the nanosecond range: saturated (Testcontainers sends year 1 and year 9999 for "no bound").
    [InlineData("253402300799", long.MaxValue)]
    [InlineData("9223372036", long.MaxValue)]
    [InlineData("-62135596800", long.MinValue)]
    public void Timestamps_are_docker_unix_seconds(string text, long nanos) =>
        Assert.Equal(nanos, QueryParams.UnixNanos(text, "since"));

    [Fact]
    public void A_logs_until_of_0_is_no_bound_as_dockers()
    {
        Assert.Null(QueryParams.LogsUntil("0"));
        Assert.Null(QueryParams.LogsUntil(""));
        Assert.Equal(1_000_000_000, QueryParams.LogsUntil("1"));
        Assert.Throws<BadRequestException>(() => QueryParams.LogsUntil("x"));
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("2024-01-01T00:00:00Z")]
    [InlineData("10m")]
    [InlineData("1.")]
    [InlineData("1.2.3")]
    [InlineData("1.0000000001")]
    [InlineData("1.-5")]
    [InlineData("99999999999999999999")]
    public void Other_timestamps_are_refused(string text)
    {
        var ex = Assert.Throws<BadRequestException>(() => QueryParams.UnixNanos(text, "until"));
        Assert.Contains($"invalid until value '{text}'", ex.Message);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("65536")]
    [InlineData("x")]
    public void Dimensions_are_1_to_65535(string text) =>
        Assert.Throws<BadRequestException>(() => QueryParams.Dimension(text, "h", 24));

    [Fact]
    public void Byte_counts_are_whole_and_not_negative()
    {
        Assert.Equal(5, QueryParams.ByteCount("5", "after"));
        Assert.Null(QueryParams.ByteCount("", "after"));
        Assert.Throws<BadRequestException>(() => QueryParams.ByteCount("-1", "after"));
        Assert.Throws<BadRequestException>(() => QueryParams.ByteCount("x", "after"));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("application/json")]
    [InlineData("application/json; charset=utf-8")]
    [InlineData("Application/JSON")]
    public void Json_content_types_pass(string? ct) => RequestLimits.CheckContentType(ct);

    [Theory]
    [InlineData("text/plain", "unsupported Content-Type header (text/plain): must be 'application/json'")]
    [InlineData("application/x-tar", "unsupported Content-Type header")]
    [InlineData("application/json+x", "unsupported Content-Type header")]
    [InlineData("///", "Content-Type header (///)")]
    public void Other_content_types_are_refused(string ct, string said)
    {
        var ex = Assert.Throws<BadRequestException>(() => RequestLimits.CheckContentType(ct));
        Assert.Contains(said, ex.Message);
    }

    [Theory]
    [InlineData(4L << 20, "4 MiB")]
    [InlineData(65536, "64 KiB")]
    [InlineData(1000, "1000 B")]
    public void Limits_are_described_in_their_unit(long bytes, string text) => Assert.Equal(text, RequestLimits.Describe(bytes));

    [Theory]
    [InlineData("0", "0-1")]
    [InlineData("0-1", "0-1")]
    [InlineData("1,3-4", "0-1,3-7")]
    public void Cpusets_within_the_host_pass(string requested, string available) =>
        ContainerSpecFactory.CheckCpusetAvailable(requested, available);

    [Theory]
    [InlineData("0-9999", "0-1", "Requested CPUs are not available - requested 0-9999, available: 0-1")]
    [InlineData("2", "0-1", "Requested CPUs are not available - requested 2, available: 0-1")]
    [InlineData("2", "0-1,3", "requested 2, available: 0-1,3")]
    [InlineData("0-70000", "0-1", "Invalid value 0-70000 for cpuset cpus")]
    [InlineData("3-1", "0-7", "Invalid value 3-1")]
    [InlineData("0-99999999999", "0-1", "Invalid value 0-99999999999")]
    public void Cpusets_beyond_the_host_are_refused(string requested, string available, string said)
    {
        var ex = Assert.Throws<BadRequestException>(() => ContainerSpecFactory.CheckCpusetAvailable(requested, available));
        Assert.Contains(said, ex.Message);
    }

    [Fact]
    public void The_hosts_cpus_are_read_from_sysfs() =>
        Assert.Equal(File.ReadAllText("/sys/devices/system/cpu/online").Trim(), ContainerSpecFactory.HostCpus());

    static ContainerCreateRequest Req() => new() { Image = "busybox", Cmd = ["true"] };

    [Fact]
    public void A_request_within_bounds_passes()
    {
        var r = Req();
        r.Env = ["A=" + new string('x', ContainerSpecFactory.MaxArgBytes - 2)];
        r.HostConfig = new HostConfig { Binds = [.. Enumerable.Repeat("/a:/b", ContainerSpecFactory.MaxItems)] };
        ContainerSpecFactory.CheckBounds(r);
    }

    [Fact]
    public void Bounds_name_the_field()
    {
        void Refused(Action<ContainerCreateRequest> change, string said)
        {
            var r = Req();
            change(r);
            var ex = Assert.Throws<BadRequestException>(() => ContainerSpecFactory.CheckBounds(r));
            Assert.Contains(said, ex.Message);
        }
        Refused(r => r.Env = ["A=b", "A=" + new string('x', ContainerSpecFactory.MaxArgBytes)], "Env[1]: 131074 bytes, at most 131072");
        // Bytes, not chars: 'é' is two.
        Refused(r => r.Cmd = [new string('é', 70_000)], "Cmd[0]: 140000 bytes");
        Refused(r => r.Entrypoint = [.. Enumerable.Repeat(new string('x', 100_000), 11)], "command and environment");
        Refused(r => r.WorkingDir = "/" + new string('w', 4095), "WorkingDir: ");
        Refused(r => r.Image = new string('i', 513), "Image: ");
        Refused(r => r.HostConfig = new HostConfig { CapAdd = [.. Enumerable.Repeat("NET_ADMIN", 1025)] }, "HostConfig.CapAdd: 1025 entries, at most 1024");
        Refused(r => r.HostConfig = new HostConfig { Tmpfs = new() { ["/t"] = new string('o', 5000) } }, "HostConfig.Tmpfs[/t]: ");
        Refused(r => r.HostConfig = new HostConfig { ConsoleSize = [1, 2, 3] }, "HostConfig.ConsoleSize: 3 entries, at most 2");
        Refused(r => r.HostConfig = new HostConfig { Ulimits = [new Ulimit { Name = new string('n', 100) }] }, "HostConfig.Ulimits.Name: ");
    }

    [Fact]
    public void Exec_bounds_name_the_field()
    {
        var ex = Assert.Throws<BadRequestException>(() => ContainerSpecFactory.CheckBounds(new ExecCreateRequest { Cmd = ["sh"], User = new string('u', 300) }));
        Assert.Contains("User: ", ex.Message);
    }

    [Fact]
    public void Labels_are_bounded()
    {
        ContainerSpecFactory.CheckLabels(new Dictionary<string, string> { ["a"] = "b" });
        void Refused(Dictionary<string, string> labels, string said) =>
            Assert.Contains(said, Assert.Throws<BadRequestException>(() => ContainerSpecFactory.CheckLabels(labels)).Message);
        Refused(Enumerable.Range(0, 1025).ToDictionary(i => $"k{i}", _ => ""), "Labels: 1025 entries, at most 1024");
        Refused(new() { ["k"] = new string('v', 65537) }, "Labels[k]: ");
        Refused(new() { [new string('k', 1025)] = "" }, "Labels key: ");
        Refused(new() { [""] = "v" }, "invalid label key");
        Refused(Enumerable.Range(0, 20).ToDictionary(i => $"k{i}", _ => new string('v', 60_000)), "Labels: 1200050 bytes");
    }

    static DaemonConfig Load(string hocon)
    {
        var file = Path.Combine(Path.GetTempPath(), "gocker-rv-" + Guid.NewGuid().ToString("N")[..8] + ".hocon");
        File.WriteAllText(file, hocon);
        try { return DaemonConfig.Load(file, "/tmp/rv-data", "/tmp/rv-exec", "unix:///tmp/rv.sock", "rv"); }
        finally { File.Delete(file); }
    }

    [Theory]
    [InlineData("gocker.api.max-json-body = 4MiB", 4L << 20)]
    [InlineData("gocker.api.max-json-body = 64KiB", 65536)]
    [InlineData("gocker.api.max-json-body = 1048576", 1048576)]
    [InlineData("gocker.stop-timeout = 10s", RequestLimits.DefaultMaxJsonBody)]
    public void The_body_limit_is_a_hocon_size(string hocon, long bytes) => Assert.Equal(bytes, Load(hocon).MaxJsonBody);

    [Theory]
    [InlineData("gocker.api.max-json-body = lots")]
    [InlineData("gocker.api.max-json-body = 10")]
    [InlineData("gocker.api.max-json-body = 2GiB")]
    public void A_bad_body_limit_names_the_key(string hocon) =>
        Assert.Contains("gocker.api.max-json-body", Assert.Throws<ArgumentException>(() => Load(hocon)).Message);
}
