using Gocker.Syscalls.Cgroups;

namespace Gocker.Tests.Cgroups;

public class CgroupNameAndParsingTests
{
    [Theory]
    [InlineData("gocker")]
    [InlineData("gocker-test-ab12")]
    [InlineData("a/b/c")]
    [InlineData("x.y:z_1")]
    public void Valid_parents_pass(string parent) => CgroupName.ValidateParent(parent);

    [Theory]
    [InlineData("", "must not be empty")]
    [InlineData("/gocker", "must be relative")]
    [InlineData("gocker/../etc", "segment \"..\" is not allowed")]
    [InlineData("./gocker", "segment \".\" is not allowed")]
    [InlineData("gocker//x", "empty path segment")]
    [InlineData("gocker/", "empty path segment")]
    [InlineData("gocker test", "character ' ' is not allowed")]
    [InlineData("gocker\nx", "character '\\u000a' is not allowed")]
    [InlineData("göcker", "character 'ö' is not allowed")]
    public void Bad_parents_are_refused_with_a_reason(string parent, string reason) =>
        Assert.Contains(reason, Assert.Throws<ArgumentException>(() => CgroupName.ValidateParent(parent)).Message);

    [Theory]
    [InlineData("", "empty path segment")]
    [InlineData(".", "is not allowed")]
    [InlineData("..", "is not allowed")]
    [InlineData("a/b", "must not contain '/'")]
    [InlineData("/abs", "must not contain '/'")]
    [InlineData("id;rm", "character ';' is not allowed")]
    public void Bad_names_are_refused_with_a_reason(string name, string reason) =>
        Assert.Contains(reason, Assert.Throws<ArgumentException>(() => CgroupName.ValidateName(name)).Message);

    [Fact]
    public void Managers_validate_before_touching_anything()
    {
        var mgr = new V2CgroupManager("/nonexistent-root", new ThrowingGuard());
        Assert.Throws<ArgumentException>(() => mgr.Create("gocker", "..", CgroupLimits.None));
        Assert.Throws<ArgumentException>(() => mgr.Open("../x", "c1"));
        Assert.Throws<ArgumentException>(() => mgr.Exists("gocker", "a/b"));
    }

    sealed class ThrowingGuard : ICgroupFsGuard
    {
        public void EnsureCgroupDirectory(string directory) => throw new InvalidOperationException("must not be reached");
    }

    [Theory]
    [InlineData("0-3,5,7-8", "0,1,2,3,5,7,8", "0-3,5,7-8")]
    [InlineData("1", "1", "1")]
    [InlineData("3,1,2", "1,2,3", "1-3")]
    [InlineData(" 0-1\n", "0,1", "0-1")]
    public void Cpu_lists_parse_and_format(string text, string cpus, string canonical)
    {
        var set = CpusetList.Parse(text);
        Assert.Equal(cpus, string.Join(",", set));
        Assert.Equal(canonical, CpusetList.Format(set));
    }

    [Theory]
    [InlineData("1-")]
    [InlineData("-1")]
    [InlineData("a")]
    [InlineData("3-1")]
    [InlineData("1,,2")]
    [InlineData("99999")]
    public void Bad_cpu_lists_are_refused(string text) =>
        Assert.StartsWith($"cpuset-cpus {text}:", Assert.Throws<ArgumentException>(() => CpusetList.Parse(text)).Message);

    [Fact]
    public void Keyed_values_parse()
    {
        Assert.Equal(4, CgroupValues.KeyedValue("oom_kill_disable 0\nunder_oom 0\noom_kill 4\n", "oom_kill"));
        Assert.Null(CgroupValues.KeyedValue("oom_kill_disable 0\n", "oom_kill"));
        Assert.Equal(0, CgroupValues.KeyedValue("low 0\noom_kill 0\noom_group_kill 9", "oom_kill"));
        Assert.Equal(long.MaxValue, CgroupValues.Number("max\n"));
        Assert.Equal(12, CgroupValues.Number("12\n"));
    }
}
