using Gocker.Images.Build;

namespace Gocker.Tests.Images;

public class DockerfileParserTests
{
    static string? Env(string n) => n switch { "A" => "1", "EMPTY" => "", "NAME" => "world", _ => null };

    [Fact]
    public void Stages_global_args_continuations_and_comments()
    {
        var f = Dockerfile.Parse("""
            # syntax=docker/dockerfile:1
            ARG BASE=busybox
            FROM ${BASE} AS build
            # a comment
            RUN echo one \
                # dropped inside a continuation
                two \

                three
            COPY --from=0 --chown=1:2 --chmod=640 a b /dst/
            FROM build
            CMD ["sh", "-c", "echo hi"]
            """);
        var arg = Assert.Single(f.GlobalArgs);
        Assert.Equal("BASE=busybox", arg.Rest);
        Assert.Equal(2, f.Stages.Count);
        Assert.Equal("build", f.Stages[0].Name);
        Assert.Null(f.Stages[1].Name);
        var run = f.Stages[0].Instructions[0];
        Assert.Equal("RUN", run.Keyword);
        Assert.Equal(5, run.Line);
        Assert.Equal("echo one     two     three", run.Rest);
        var copy = f.Stages[0].Instructions[1];
        Assert.Equal("0", copy.Flag("from"));
        Assert.Equal("1:2", copy.Flag("chown"));
        Assert.Equal("640", copy.Flag("chmod"));
        Assert.Equal("a b /dst/", copy.Rest);
        var cmd = f.Stages[1].Instructions[0];
        Assert.Equal(["sh", "-c", "echo hi"], cmd.Json!);
    }

    [Fact]
    public void Escape_directive_changes_the_continuation_character()
    {
        var f = Dockerfile.Parse("# escape=`\nFROM scratch\nCOPY a `\n  b c:\\dir\\\n");
        Assert.Equal('`', f.Escape);
        var copy = f.Stages[0].Instructions[0];
        Assert.Equal("a   b c:\\dir\\", copy.Rest);
    }

    [Fact]
    public void A_shell_form_that_is_not_json_stays_shell()
    {
        var f = Dockerfile.Parse("FROM scratch\nRUN [not json\nENTRYPOINT [\"a\", 1]\n");
        Assert.Null(f.Stages[0].Instructions[0].Json);
        Assert.Null(f.Stages[0].Instructions[1].Json); // an array with a number is not the exec form
    }

    [Theory]
    [InlineData("FROM busybox\nFOO bar\n", 2, "unknown instruction: FOO")]
    [InlineData("RUN echo\nFROM busybox\n", 1, "before the first FROM")]
    [InlineData("FROM busybox\nRUN --mount=type=cache,target=/x echo\n", 2, "unknown flag: --mount")]
    [InlineData("FROM busybox\nSHELL /bin/bash -c\n", 2, "JSON form")]
    [InlineData("FROM busybox AS a\nFROM busybox AS A\n", 2, "duplicate stage name")]
    [InlineData("FROM busybox as 1x\n", 1, "invalid name for build stage")]
    [InlineData("FROM busybox\nONBUILD FROM x\n", 2, "isn't allowed as an ONBUILD trigger")]
    [InlineData("FROM busybox\n\n\nWORKDIR\n", 4, "requires at least one argument")]
    public void Parse_errors_name_the_line(string text, int line, string message)
    {
        var ex = Assert.Throws<DockerfileParseException>(() => Dockerfile.Parse(text));
        Assert.Equal(line, ex.Line);
        Assert.Contains($"line {line}", ex.Message);
        Assert.Contains(message, ex.Message);
    }

    [Fact]
    public void No_from_is_an_error()
    {
        var ex = Assert.Throws<DockerfileParseException>(() => Dockerfile.Parse("# nothing\nARG A=1\n"));
        Assert.Contains("no FROM", ex.Message);
    }

    [Theory]
    [InlineData("$A", "1")]
    [InlineData("${A}x", "1x")]
    [InlineData("${UNSET:-def}", "def")]
    [InlineData("${EMPTY:-def}", "def")]
    [InlineData("${EMPTY-def}", "")]
    [InlineData("${A:+alt}", "alt")]
    [InlineData("${EMPTY:+alt}", "")]
    [InlineData("${EMPTY+alt}", "alt")]
    [InlineData("${UNSET+alt}", "")]
    [InlineData("'$A'", "$A")]
    [InlineData("\"$A $NAME\"", "1 world")]
    [InlineData("\\$A", "$A")]
    [InlineData("${UNSET:-${NAME}}", "world")]
    [InlineData("a$", "a$")]
    public void Variable_substitution(string word, string expected) =>
        Assert.Equal(expected, ShellWords.Expand(word, Env));

    [Fact]
    public void Bad_substitution_is_refused()
    {
        Assert.Throws<FormatException>(() => ShellWords.Expand("${A", Env));
        Assert.Throws<FormatException>(() => ShellWords.Expand("${A:?x}", Env));
    }

    [Fact]
    public void Key_values_with_quotes_and_the_legacy_form()
    {
        var kv = ShellWords.KeyValues("A=1 B=\"two words\" C=${NAME}", Env, '\\', allowLegacy: true);
        Assert.Equal([new("A", "1"), new("B", "two words"), new("C", "world")], kv);
        var legacy = ShellWords.KeyValues("KEY value with $NAME", Env, '\\', allowLegacy: true);
        Assert.Equal([new("KEY", "value with world")], legacy);
        var arg = ShellWords.KeyValues("NOVALUE", Env, '\\', allowLegacy: false, valueOptional: true);
        Assert.Null(Assert.Single(arg).Value);
    }

    [Fact]
    public void Target_selects_stages_up_to_it()
    {
        var f = Dockerfile.Parse("FROM busybox AS a\nFROM busybox AS b\nFROM busybox AS c\n");
        Assert.Equal(2, f.StagesFor("b").Count);
        Assert.Equal(3, f.StagesFor(null).Count);
        Assert.Throws<DockerfileParseException>(() => f.StagesFor("nope"));
    }

    [Theory]
    [InlineData("*.log", "a.log", true)]
    [InlineData("*.log", "dir/a.log", false)]
    [InlineData("**/*.log", "dir/sub/a.log", true)]
    [InlineData("**/*.log", "a.log", true)]
    [InlineData("secret", "secret/inner/file", true)]
    [InlineData("/secret", "secret", true)]
    [InlineData("sec?et", "secret", true)]
    [InlineData("[a-c]x", "bx", true)]
    [InlineData("[a-c]x", "dx", false)]
    public void Dockerignore_patterns(string pattern, string path, bool ignored) =>
        Assert.Equal(ignored, new DockerIgnore(pattern).Ignores(path));

    [Fact]
    public void Dockerignore_exclusions_last_match_wins()
    {
        var d = new DockerIgnore("# comment\n*.md\n!README.md\ndocs\n!docs/keep.txt\n");
        Assert.True(d.Ignores("CHANGES.md"));
        Assert.False(d.Ignores("README.md"));
        Assert.True(d.Ignores("docs/other.txt"));
        Assert.False(d.Ignores("docs/keep.txt"));
        Assert.False(d.Ignores("src/main.c"));
        Assert.True(d.HasExclusions);
    }
}
