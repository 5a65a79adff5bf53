using Gocker.Syscalls.Spawn;

namespace Gocker.Tests.Spawn;

public class InitSpecReaderTests
{
    static readonly InitSpec Full = new()
    {
        Version = 7, RootfsDir = "/r/rootfs", LowerDirs = ["/l1", "/l2"], UpperDir = "/u", WorkDir = "/w",
        Hostname = "h\u00e9\"x", Args = ["sh", "-c", "echo 'a b' \\ \u2603"], Env = ["A=1", "PATH=/bin"],
        WorkingDir = "/srv", Volumes = [new VolumeMount("/src", "/dst", true), new VolumeMount("/s2", "/d2", false)],
        InjectMountFault = true,
        User = "app:staff",
        Tty = true,
        VolatileUpper = true,
        Capabilities = 0x1234_5678_9abc,
        ReadonlyRootfs = true,
        UnmaskedPaths = true,
        Privileged = true,
        ShmSize = 1 << 20,
        OomScoreAdj = -17,
        Seccomp = [0x20, 0, 0, 0, 4, 0, 0, 0, 0x06, 0, 0, 0, 0, 0, 0xff, 0x7f],
        NoNewPrivileges = true,
        Remapped = true,
        Init = true,
        CgroupNs = true,
        CgroupMounts = ["cgroup cpu,cpuacct cpu,cpuacct", "cgroup2 unified", "link cpu cpu,cpuacct"],
    };

    [Fact]
    public void Fast_reader_agrees_with_the_generated_deserializer_on_every_property()
    {
        var json = InitSpecJson.Serialize(Full);
        var fast = InitSpecReader.TryFast(json);
        // Null here means InitSpec gained a property the fast reader does not know: the init still works
        // (it falls back to InitSpecJson), but teach InitSpecReader the new field to keep the fast path.
        Assert.NotNull(fast);
        var slow = InitSpecJson.Deserialize(json);
        foreach (var prop in typeof(InitSpec).GetProperties())
        {
            var a = prop.GetValue(slow);
            var b = prop.GetValue(fast);
            if (a is System.Collections.IEnumerable ea && a is not string)
                Assert.Equal(ea.Cast<object>(), ((System.Collections.IEnumerable)b!).Cast<object>());
            else
                Assert.Equal(a, b);
        }
    }

    [Fact]
    public void Hardening_lists_are_read_by_the_generated_deserializer()
    {
        var spec = Full with
        {
            Tmpfs = [new TmpfsMount("/run", 14, "size=1m")],
            Rlimits = [new Rlimit("nofile", 7, 10, 20)],
            Devices = [new DeviceNode("/dev/loop0", "/dev/xx", 'b', 7, 0, 0x1b0, 0, 6, "r")],
            Sysctls = [new SysctlSetting("net.ipv4.ip_forward", "1")],
            GroupAdd = ["audio", "10"],
        };
        var back = InitSpecReader.Read(InitSpecJson.Serialize(spec));
        Assert.Equal(spec.Tmpfs, back.Tmpfs);
        Assert.Equal(spec.Rlimits, back.Rlimits);
        Assert.Equal(spec.Devices, back.Devices);
        Assert.Equal(spec.Sysctls, back.Sysctls);
        Assert.Equal(spec.GroupAdd, back.GroupAdd);
        Assert.Equal(spec.Capabilities, back.Capabilities);
    }

    [Fact]
    public void Defaults_apply_when_optional_fields_are_absent()
    {
        var json = """{"RootfsDir":"/r","LowerDirs":["/l"],"UpperDir":"/u","WorkDir":"/w","Hostname":"h","Args":["true"],"Env":[]}"""u8;
        var spec = InitSpecReader.TryFast(json)!;
        Assert.Equal("/", spec.WorkingDir);
        Assert.Empty(spec.Volumes);
        Assert.Equal(1, spec.Version);
        Assert.Null(spec.Seccomp);
        Assert.False(spec.NoNewPrivileges);
    }

    [Fact]
    public void Seccomp_program_is_base64_in_the_json_and_omitted_when_null()
    {
        var json = System.Text.Encoding.UTF8.GetString(InitSpecJson.Serialize(Full));
        Assert.Contains("\"Seccomp\":\"" + Convert.ToBase64String(Full.Seccomp!) + "\"", json);
        var bare = System.Text.Encoding.UTF8.GetString(InitSpecJson.Serialize(Full with { Seccomp = null, NoNewPrivileges = false }));
        Assert.DoesNotContain("Seccomp", bare);
        Assert.DoesNotContain("NoNewPrivileges", bare);
    }

    [Fact]
    public void Unknown_property_falls_back_to_the_generated_deserializer()
    {
        var json = """{"RootfsDir":"/r","LowerDirs":["/l"],"UpperDir":"/u","WorkDir":"/w","Hostname":"h","Args":["true"],"Env":[],"Future":1}"""u8;
        Assert.Null(InitSpecReader.TryFast(json));
        Assert.Equal("/r", InitSpecReader.Read(json).RootfsDir);
    }

    [Fact]
    public void Missing_required_field_is_an_error_not_a_default()
    {
        var json = """{"LowerDirs":["/l"],"UpperDir":"/u","WorkDir":"/w","Hostname":"h","Args":["true"],"Env":[]}"""u8.ToArray();
        Assert.Null(InitSpecReader.TryFast(json));
        Assert.ThrowsAny<Exception>(() => InitSpecReader.Read(json));
    }
}
