using Gocker.Actors.Containers;
using Gocker.Api;
using Gocker.Host;
using Gocker.Syscalls.Cgroups;

namespace Gocker.Tests.Api;

/// <summary>The pure rules behind update, the prune filters and signal names.</summary>
public class VerbRulesTests
{
    static ContainerSpec Spec(CgroupLimits? limits = null, bool autoRemove = false, string? group = null) => new()
    {
        Id = new string('a', 64), Name = "n", Image = "busybox", ImageId = "sha256:x", ImageLayers = ["/fake"],
        Args = ["true"], Env = [], Hostname = "h", Created = DateTimeOffset.UtcNow,
        Limits = limits ?? new CgroupLimits { MemoryBytes = 32 << 20 }, AutoRemove = autoRemove, Group = group,
    };

    [Fact]
    public void Update_changes_only_what_is_set_and_says_what_to_write()
    {
        var r = ContainerUpdate.Apply(Spec(), new ContainerUpdateRequest { Memory = 64 << 20, NanoCpus = 500_000_000, PidsLimit = 0 });
        Assert.True(r.ChangesLimits);
        Assert.Equal(64L << 20, r.Spec.Limits.MemoryBytes);
        Assert.Equal(50_000, r.Spec.Limits.CpuQuotaMicros);
        Assert.Equal(500_000_000, r.Spec.NanoCpus);
        Assert.Equal(-1, r.Spec.Limits.PidsMax); // 0 = unlimited, as Docker's
        Assert.Null(r.Delta.CpuShares);
        Assert.Null(r.Delta.CpusetCpus);
        // Nothing set: nothing changes.
        var none = ContainerUpdate.Apply(Spec(), new ContainerUpdateRequest());
        Assert.False(none.ChangesLimits);
        Assert.Equal(Spec().Limits, none.Spec.Limits);
    }

    [Theory]
    [InlineData("MemoryReservation")]
    [InlineData("CpusetMems")]
    [InlineData("BlkioWeight")]
    [InlineData("MemorySwap")]
    public void Update_refuses_what_the_drivers_cannot_apply_by_name(string field)
    {
        var req = field switch
        {
            "MemoryReservation" => new ContainerUpdateRequest { MemoryReservation = 1 << 20 },
            "CpusetMems" => new ContainerUpdateRequest { CpusetMems = "0" },
            "BlkioWeight" => new ContainerUpdateRequest { BlkioWeight = 300 },
            _ => new ContainerUpdateRequest { Memory = 64 << 20, MemorySwap = 128 << 20 },
        };
        var ex = Assert.Throws<BadRequestException>(() => ContainerUpdate.Apply(Spec(), req));
        Assert.Contains(field, ex.Message);
    }

    [Fact]
    public void Update_accepts_dockers_zero_valued_fields_and_refuses_unknown_ones()
    {
        var json = """{"Memory":67108864,"MemorySwap":0,"CpuRealtimePeriod":0,"Devices":null,"MemorySwappiness":null,"RestartPolicy":{"Name":"","MaximumRetryCount":0}}""";
        var req = System.Text.Json.JsonSerializer.Deserialize(json, GockerVerbJson.Default.ContainerUpdateRequest)!;
        Assert.Equal(64L << 20, ContainerUpdate.Apply(Spec(), req).Spec.Limits.MemoryBytes);
        var odd = System.Text.Json.JsonSerializer.Deserialize("""{"KernelMemoryTCP":1024}""", GockerVerbJson.Default.ContainerUpdateRequest)!;
        Assert.Contains("KernelMemoryTCP", Assert.Throws<BadRequestException>(() => ContainerUpdate.Apply(Spec(), odd)).Message);
    }

    [Fact]
    public void Update_of_the_restart_policy_keeps_dockers_rules()
    {
        var r = ContainerUpdate.Apply(Spec(), new ContainerUpdateRequest { RestartPolicy = new RestartPolicy { Name = "on-failure", MaximumRetryCount = 2 } });
        Assert.Equal(Gocker.Actors.Restart.RestartMode.OnFailure, r.Spec.Restart.Mode);
        Assert.Equal(2, r.Spec.Restart.MaximumRetryCount);
        Assert.False(r.ChangesLimits);
        Assert.Contains("AutoRemove", Assert.Throws<BadRequestException>(() =>
            ContainerUpdate.Apply(Spec(autoRemove: true), new ContainerUpdateRequest { RestartPolicy = new RestartPolicy { Name = "always" } })).Message);
        Assert.Contains("group", Assert.Throws<BadRequestException>(() =>
            ContainerUpdate.Apply(Spec(group: "g"), new ContainerUpdateRequest { RestartPolicy = new RestartPolicy { Name = "always" } })).Message);
        var backoff = ContainerUpdate.Apply(Spec(), new ContainerUpdateRequest { GockerRestartBackoff = new RestartBackoff { DelayMs = 500 } });
        Assert.Equal(TimeSpan.FromMilliseconds(500), backoff.Spec.Restart.Backoff.Delay);
    }

    [Fact]
    public void Prune_filters_select_by_until_and_labels_and_refuse_unknown_names()
    {
        var now = DateTimeOffset.Parse("2026-01-01T00:00:00Z");
        var f = PruneFilters.Parse("""{"until":["1h"],"label":["a=1"],"label!":["b"]}""", ["until", "label", "label!"], now);
        var old = now.AddHours(-2);
        Assert.True(f.Matches(old, new Dictionary<string, string> { ["a"] = "1" }));
        Assert.False(f.Matches(now.AddMinutes(-10), new Dictionary<string, string> { ["a"] = "1" }));   // too new
        Assert.False(f.Matches(old, new Dictionary<string, string> { ["a"] = "2" }));                   // wrong value
        Assert.False(f.Matches(old, null));                                                              // no labels at all
        Assert.False(f.Matches(old, new Dictionary<string, string> { ["a"] = "1", ["b"] = "x" }));       // label! matches
        // The older map form.
        Assert.True(PruneFilters.Parse("""{"label":{"a":true}}""", ["label"], now).Matches(now, new Dictionary<string, string> { ["a"] = "" }));
        Assert.Contains("'name'", Assert.Throws<BadRequestException>(() => PruneFilters.Parse("""{"name":["x"]}""", ["label"], now)).Message);
        Assert.False(PruneFilters.Parse("""{"dangling":["false"]}""", ["dangling"], now).Dangling!.Value);
        Assert.Throws<BadRequestException>(() => PruneFilters.Parse("""{"until":["soon"]}""", ["until"], now));
    }

    [Theory]
    [InlineData("SIGTERM", 15)]
    [InlineData("term", 15)]
    [InlineData("9", 9)]
    [InlineData("SIGRTMIN+3", 37)]
    [InlineData("RTMAX-1", 63)]
    public void Signal_names_parse_as_dockers(string name, int number) => Assert.Equal(number, SignalNames.Parse(name));

    [Theory]
    [InlineData("NOPE")]
    [InlineData("0")]
    [InlineData("65")]
    [InlineData("-1")]
    public void Bad_signal_names_are_refused_by_name(string name) =>
        Assert.Contains(name, Assert.Throws<BadRequestException>(() => SignalNames.Parse(name, "stop signal")).Message);
}
