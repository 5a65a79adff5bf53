using Gocker.Syscalls.Security;

namespace Gocker.Tests.Security;

/// <summary>userns-remap settings resolved from subordinate id files, as dockerd resolves them.</summary>
public sealed class SubIdsTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("gocker-subids-").FullName;
    string F(string name) => Path.Combine(_dir, name);

    public void Dispose() => Directory.Delete(_dir, true);

    IdMap Resolve(string setting) => SubIds.Resolve(setting, F("subuid"), F("subgid"), F("passwd"), F("group"));

    void Write(string subuid, string subgid, string passwd = "", string group = "")
    {
        File.WriteAllText(F("subuid"), subuid);
        File.WriteAllText(F("subgid"), subgid);
        File.WriteAllText(F("passwd"), passwd);
        File.WriteAllText(F("group"), group);
    }

    [Fact]
    public void Default_gives_gockremap_a_range_after_every_existing_one_once()
    {
        Write("alice:100000:65536\nbob:165536:65536", "alice:100000:65536\n");
        var map = Resolve("default");
        Assert.Equal(new IdMap(231072, 165536, 65536), map); // each file's own next free range
        Assert.Equal("alice:100000:65536\nbob:165536:65536\ngockremap:231072:65536\n", File.ReadAllText(F("subuid")));
        Assert.Equal("alice:100000:65536\ngockremap:165536:65536\n", File.ReadAllText(F("subgid")));
        // A second start finds it: nothing appended.
        Assert.Equal(map, Resolve("default"));
        Assert.Single(File.ReadAllLines(F("subuid")), l => l.StartsWith("gockremap:"));
    }

    [Fact]
    public void Users_and_groups_resolve_by_name_or_id()
    {
        Write("1000:300000:65536\nsvc:400000:70000\n", "grp:500000:65536\nsvc:600000:65536\n",
            passwd: "alice:x:1000:1000::/home/alice:/bin/sh\n", group: "grp:x:2000:\n");
        Assert.Equal(new IdMap(300000, 500000, 65536), Resolve("alice:grp"));   // alice by her uid, grp by name
        Assert.Equal(new IdMap(400000, 600000, 65536), Resolve("svc"));         // the smaller of the two counts
        Assert.Equal(new IdMap(300000, 500000, 65536), Resolve("1000:2000"));   // ids that name entries
    }

    [Theory]
    [InlineData("nobody-here", "no subordinate uid range for 'nobody-here'")]
    [InlineData("small", "fewer than 65536 ids")]
    [InlineData("zero", "starts at 0")]
    [InlineData("a:b:c", "is not USER, USER:GROUP")]
    public void Unusable_settings_are_refused_naming_why(string setting, string message)
    {
        Write("small:100000:1000\nzero:0:65536\n", "small:100000:1000\nzero:0:65536\n");
        var ex = Assert.Throws<ArgumentException>(() => Resolve(setting));
        Assert.Contains(message, ex.Message);
    }

    [Fact]
    public void Ids_translate_both_ways_and_unmapped_ones_show_as_overflow()
    {
        var m = new IdMap(100000, 200000, 65536);
        Assert.Equal("0 100000 65536\n", m.UidMapLine);
        Assert.Equal(100005u, m.ToHostUid(5));
        Assert.Null(m.ToHostUid(65536));
        Assert.Equal(5u, m.ToContainerUid(100005));
        Assert.Equal(65534u, m.ToContainerUid(0));
        Assert.Equal(7u, m.ToContainerGid(200007));
    }
}
