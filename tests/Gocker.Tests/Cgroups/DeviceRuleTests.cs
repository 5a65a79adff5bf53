using System.Text.Json;
using Gocker.Actors.Containers;
using Gocker.Syscalls.Cgroups;

namespace Gocker.Tests.Cgroups;

/// <summary>The rule text form, its parser, the ready-made lists and the eBPF generator (pure).</summary>
public class DeviceRuleTests
{
    [Theory]
    [InlineData("c 1:3 rwm", 'c', 1, 3, "rwm")]
    [InlineData("b 8:* m", 'b', 8, -1, "m")]
    [InlineData("c *:* m", 'c', -1, -1, "m")]
    [InlineData("c 136:* rwm", 'c', 136, -1, "rwm")]
    [InlineData("  b 254:0  r ", 'b', 254, 0, "r")]
    [InlineData("c 10:200 mwr", 'c', 10, 200, "rwm")] // access kept in rwm order
    [InlineData("a", 'a', -1, -1, "rwm")]             // the kernel's own form of "everything"
    [InlineData("a *:* rwm", 'a', -1, -1, "rwm")]
    [InlineData("c 4294967295:0 w", 'c', 4294967295L, 0, "w")]
    public void Parse_reads_the_v1_text_form(string text, char type, long major, long minor, string access)
    {
        var r = DeviceRule.Parse(text);
        Assert.Equal(new DeviceRule(type, major, minor, access), r);
        Assert.True(r.Allow);
        Assert.False(DeviceRule.Parse(text, allow: false).Allow);
    }

    [Theory]
    [InlineData("c 1:3 rwm")]
    [InlineData("b 8:* m")]
    [InlineData("c *:* m")]
    [InlineData("a *:* rwm")]
    public void Text_form_round_trips(string text) => Assert.Equal(text, DeviceRule.Parse(text).ToV1Text());

    [Fact]
    public void ToString_marks_deny_rules() =>
        Assert.Equal("deny c 1:3 w", new DeviceRule('c', 1, 3, "w", allow: false).ToString());

    [Theory]
    [InlineData("", "expected \"TYPE MAJOR:MINOR ACCESS\"")]
    [InlineData("c 1:3", "expected \"TYPE MAJOR:MINOR ACCESS\"")]
    [InlineData("x 1:3 rwm", "type 'x' is not a, b or c")]
    [InlineData("cc 1:3 rwm", "expected \"TYPE MAJOR:MINOR ACCESS\"")]
    [InlineData("c 1-3 rwm", "\"1-3\" is not MAJOR:MINOR")]
    [InlineData("c -1:3 rwm", "major \"-1\" is not a number or *")]
    [InlineData("c 1:x rwm", "minor \"x\" is not a number or *")]
    [InlineData("c 1:4294967296 rwm", "minor \"4294967296\" is not a number or *")]
    [InlineData("c 1:3 rwx", "access \"rwx\" is not a non-empty subset of rwm")]
    [InlineData("c 1:3 rr", "access \"rr\" is not a non-empty subset of rwm")]
    [InlineData("c 1:3 rwmr", "access \"rwmr\" is not a non-empty subset of rwm")]
    // the v1 kernel would read these as "every device": refused, not widened
    [InlineData("a 8:* r", "only \"a *:* rwm\"")]
    [InlineData("a *:* m", "only \"a *:* rwm\"")]
    public void Bad_rules_are_refused_naming_the_text(string text, string why)
    {
        var ex = Assert.Throws<ArgumentException>(() => DeviceRule.Parse(text));
        Assert.StartsWith($"invalid device cgroup format '{text}': ", ex.Message);
        Assert.Contains(why, ex.Message);
    }

    [Fact]
    public void Docker_default_is_runc_s_list_with_tun()
    {
        Assert.Equal(
            ["c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
             "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm", "c 10:200 rwm"],
            DeviceRules.DockerDefault.Select(r => r.ToV1Text()));
        Assert.All(DeviceRules.DockerDefault, r => Assert.True(r.Allow));
        Assert.Equal("a *:* rwm", Assert.Single(DeviceRules.AllowAll).ToV1Text());
        Assert.Equal(DeviceRules.DockerDefault.Take(3), DeviceRules.Parse(["c *:* m", "b *:* m", "c 1:3 rwm"]));
    }

    [Fact]
    public void Host_device_rule_takes_the_node_s_type_and_numbers()
    {
        Assert.Equal(new DeviceRule('c', 1, 3, "rwm"), DeviceRule.ForHostDevice("/dev/null"));
        Assert.Equal(new DeviceRule('c', 1, 5, "r"), DeviceRule.ForHostDevice("/dev/zero", "r"));
        Assert.Equal(new DeviceRule('b', 7, 0, "rw"), DeviceRule.ForHostDevice("/dev/loop0", "rw"));
        Assert.Contains("/etc/hostname: not a character or block device",
            Assert.Throws<Gocker.Syscalls.SyscallException>(() => DeviceRule.ForHostDevice("/etc/hostname")).Message);
        Assert.Contains("/dev/no-such-device",
            Assert.Throws<Gocker.Syscalls.SyscallException>(() => DeviceRule.ForHostDevice("/dev/no-such-device")).Message);
    }

    [Fact]
    public void Rules_survive_the_container_record_json()
    {
        var spec = new ContainerSpec
        {
            Id = "x", Name = "n", Image = "busybox", ImageId = "i", ImageLayers = [], Args = ["sh"], Env = [], Hostname = "h",
            Limits = new CgroupLimits { PidsMax = 5, Devices = [.. DeviceRules.DockerDefault, DeviceRule.Parse("b 7:0 r", allow: false)] },
        };
        var json = JsonSerializer.Serialize(new ContainerRecord { Spec = spec }, StateJson.Default.ContainerRecord);
        var back = JsonSerializer.Deserialize(json, StateJson.Default.ContainerRecord)!.Spec.Limits;
        Assert.Equal(spec.Limits.Devices, back.Devices);
        Assert.Equal(5, back.PidsMax);
        // records written before device rules existed read back as "no device control"
        var old = JsonSerializer.Deserialize(json.Replace("\"Devices\"", "\"Ignored\""), StateJson.Default.ContainerRecord)!;
        Assert.Null(old.Spec.Limits.Devices);
    }

    // ---- the eBPF program ----

    static string Dis(BpfInsn i) => $"{i.Code:x2} r{i.Dst} r{i.Src} {i.Off} {i.Imm}";

    [Fact]
    public void Program_for_one_pts_rule_is_prologue_type_major_allow_then_deny()
    {
        var p = DeviceFilter.Generate([DeviceRule.Parse("c 136:* rwm")]).Select(Dis).ToArray();
        Assert.Equal(
        [
            "61 r2 r1 0 0", "54 r2 r0 0 65535", // w2 = ctx->access_type & 0xffff (type)
            "61 r3 r1 0 0", "74 r3 r0 0 16",    // w3 = access_type >> 16 (access)
            "61 r4 r1 4 0", "61 r5 r1 8 0",     // w4 = major, w5 = minor
            "56 r2 r0 3 2",                     // type != CHAR: skip the 3 to the block's end
            "56 r4 r0 2 136",                   // major != 136: skip 2
            "b4 r0 r0 0 1", "95 r0 r0 0 0",     // allow (rwm, minor *: no access or minor test)
            "b4 r0 r0 0 0", "95 r0 r0 0 0",     // nothing matched: deny
        ], p);
    }

    [Fact]
    public void Partial_access_is_tested_as_a_subset_and_blocks_run_last_rule_first()
    {
        var p = DeviceFilter.Generate([DeviceRule.Parse("b *:* m"), DeviceRule.Parse("c 1:3 w", allow: false)]).Select(Dis).ToArray();
        Assert.Equal(
        [
            "61 r2 r1 0 0", "54 r2 r0 0 65535", "61 r3 r1 0 0", "74 r3 r0 0 16", "61 r4 r1 4 0", "61 r5 r1 8 0",
            // the deny rule (last) first: char, (req & w) == req, 1:3 → 0
            "56 r2 r0 7 2", "bc r1 r3 0 0", "54 r1 r0 0 4", "5e r1 r3 4 0", "56 r4 r0 3 1", "56 r5 r0 2 3",
            "b4 r0 r0 0 0", "95 r0 r0 0 0",
            // then b *:* m: block, (req & m) == req → 1
            "56 r2 r0 5 1", "bc r1 r3 0 0", "54 r1 r0 0 1", "5e r1 r3 2 0", "b4 r0 r0 0 1", "95 r0 r0 0 0",
            "b4 r0 r0 0 0", "95 r0 r0 0 0",
        ], p);
    }

    [Fact]
    public void Docker_default_program_size_and_a_match_all_rule_ends_it()
    {
        // 6 prologue + 2×6 (mknod wildcards) + 9×5 (type, major, minor, allow) + 4 (pts) + 2 epilogue
        Assert.Equal(69, DeviceFilter.Generate(DeviceRules.DockerDefault).Count);
        Assert.Equal(8, DeviceFilter.Generate([]).Count); // deny all
        // AllowAll: prologue + "return 1"; rules before it are shadowed and not emitted (unreachable code fails the verifier)
        var all = DeviceFilter.Generate([.. DeviceRules.DockerDefault, .. DeviceRules.AllowAll]);
        Assert.Equal(["b4 r0 r0 0 1", "95 r0 r0 0 0"], all.Skip(6).Select(Dis));
        Assert.Equal(0x0000_0001_0000_00b4UL, all[6].Encode()); // code b4, regs 0, off 0, imm 1
        Assert.Equal(0x0000_0003_0002_415eUL, new BpfInsn(0x5e, 1, 4, 2, 3).Encode());
        Assert.Equal(0xffff_ffff_ffff_415eUL, new BpfInsn(0x5e, 1, 4, -1, -1).Encode());
    }
}
