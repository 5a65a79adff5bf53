using System.Text.Json;
using Gocker.Cli.Templates;

namespace Gocker.Tests.Cli;

/// <summary>The Go text/template interpreter behind --format. Expected outputs are Go's (checked
/// against docker's CLI on the same data where docker's raw-JSON mode applies; see
/// FormatOracleTests for the live comparison).</summary>
public class GoTemplateTests
{
    const string Data = """
    {
      "Id": "0123456789abcdef0123",
      "Name": "/web",
      "State": { "Status": "running", "Running": true, "Pid": 4242, "ExitCode": 0, "Health": null },
      "Config": {
        "Cmd": ["sleep", "1000"],
        "Env": ["A=1", "PATH=/bin"],
        "Labels": { "b": "2", "a": "1", "com.example.tier": "web" },
        "Entrypoint": null,
        "Empty": [],
        "NoLabels": {}
      },
      "NetworkSettings": { "Networks": { "bridge": { "IPAddress": "10.0.0.2" }, "back": { "IPAddress": "10.1.0.2" } } },
      "Size": 1500000,
      "Ratio": 0.25
    }
    """;

    static string Run(string template, string json = Data)
    {
        using var doc = JsonDocument.Parse(json);
        return GoTemplate.Parse(template).Execute(doc.RootElement);
    }

    [Theory]
    [InlineData("{{.Name}}", "/web")]
    [InlineData("{{.State.Pid}}", "4242")]
    [InlineData("{{.State.Running}}", "true")]
    [InlineData("{{.Size}} {{.Ratio}}", "1500000 0.25")]
    [InlineData("{{.Config.Cmd}}", "[sleep 1000]")]
    [InlineData("{{.Config.Labels}}", "map[a:1 b:2 com.example.tier:web]")]
    [InlineData("{{.Config.Empty}}|{{.Config.NoLabels}}", "[]|map[]")]
    [InlineData("{{.Nope}}", "<no value>")]
    [InlineData("{{.Nope.Deeper}}", "<no value>")]
    [InlineData("{{.State.Health}}", "<no value>")]
    [InlineData("{{.Config.Labels.zz}}", "<no value>")]
    [InlineData("{{index .Config.Labels \"com.example.tier\"}}", "web")]
    [InlineData("{{index .Config.Labels \"missing\"}}", "")]
    [InlineData("{{index .Config.Cmd 1}}", "1000")]
    [InlineData("{{index .NetworkSettings.Networks \"bridge\" \"IPAddress\"}}", "10.0.0.2")]
    [InlineData("{{json .Config.Labels}}", "{\"b\":\"2\",\"a\":\"1\",\"com.example.tier\":\"web\"}")]
    [InlineData("{{json .Config.Cmd}}", "[\"sleep\",\"1000\"]")]
    [InlineData("{{json .Name}} {{json .State.Pid}} {{json .Nope}} {{json .Config.Entrypoint}}", "\"/web\" 4242 null null")]
    [InlineData("{{json \"<a&b>\"}}", "\"<a&b>\"")]
    [InlineData("{{range .Config.Cmd}}[{{.}}]{{end}}", "[sleep][1000]")]
    [InlineData("{{range $i, $e := .Config.Env}}{{$i}}={{$e}};{{end}}", "0=A=1;1=PATH=/bin;")]
    [InlineData("{{range $k, $v := .Config.Labels}}{{$k}}={{$v}},{{end}}", "a=1,b=2,com.example.tier=web,")]
    [InlineData("{{range $v := .Config.Labels}}{{$v}}{{end}}", "12web")]
    [InlineData("{{range .Config.Empty}}x{{else}}empty{{end}}", "empty")]
    [InlineData("{{range .Config.Entrypoint}}x{{else}}none{{end}}", "none")]
    [InlineData("{{range $k, $v := .NetworkSettings.Networks}}{{$k}}:{{$v.IPAddress}} {{end}}", "back:10.1.0.2 bridge:10.0.0.2 ")]
    [InlineData("{{range .Config.Cmd}}{{if eq . \"sleep\"}}{{continue}}{{end}}{{.}}{{end}}", "1000")]
    [InlineData("{{range .Config.Cmd}}{{.}}{{break}}{{end}}", "sleep")]
    [InlineData("{{range 3}}{{.}}{{end}}", "012")]
    [InlineData("{{if .State.Running}}up{{else}}down{{end}}", "up")]
    [InlineData("{{if .Nope}}yes{{else}}no{{end}}", "no")]
    [InlineData("{{if .Config.Empty}}yes{{else}}no{{end}}", "no")]
    [InlineData("{{if eq .State.Status \"exited\"}}E{{else if eq .State.Status \"running\"}}R{{else}}?{{end}}", "R")]
    [InlineData("{{with .Config}}{{.Cmd}}{{end}}", "[sleep 1000]")]
    [InlineData("{{with .Nope}}x{{else}}no config{{end}}", "no config")]
    [InlineData("{{with $x := .State.Pid}}{{$x}}{{end}}", "4242")]
    [InlineData("{{join .Config.Cmd \" \"}}", "sleep 1000")]
    [InlineData("{{split \"a:b:c\" \":\"}}", "[a b c]")]
    [InlineData("{{index (split \"a:b:c\" \":\") 2}}", "c")]
    [InlineData("{{len (split \"a,b\" \",\")}}", "2")]
    [InlineData("{{upper .Name}} {{lower \"ABC\"}} {{title \"hello wide-world foo_bar\"}}", "/WEB abc Hello Wide-World Foo_bar")]
    [InlineData("{{len .Config.Env}} {{len .Name}} {{len .Config.Labels}} {{len \"é\"}}", "2 4 3 2")]
    [InlineData("{{printf \"%s-%d-%v-%t\" .Name .State.Pid .State.Running true}}", "/web-4242-true-true")]
    [InlineData("{{printf \"%5s|%-5s|%05d|%x|%X|%o|%.2f|%q|%%\" \"ab\" \"cd\" 42 255 255 8 3.14159 \"q\"}}", "   ab|cd   |00042|ff|FF|10|3.14|\"q\"|%")]
    [InlineData("{{printf \"%d\" \"x\"}}", "%!d(string=x)")]
    [InlineData("{{printf \"%s %s\" \"only\"}}", "only %!s(MISSING)")]
    [InlineData("{{printf \"%s\" \"a\" \"extra\"}}", "a%!(EXTRA string=extra)")]
    [InlineData("{{printf \"%v\" .Nope}}", "<nil>")]
    [InlineData("{{printf \"%e\" 1234.5}}", "1.234500e+03")]
    [InlineData("{{print 1 2 \"a\" \"b\" 3}}", "1 2ab3")]
    [InlineData("{{println \"a\" 1}}", "a 1\n")]
    [InlineData("{{.Name | printf \"%s!\"}}", "/web!")]
    [InlineData("{{.Name | upper | lower}}", "/web")]
    [InlineData("{{\"x\" | printf \"%s%s\" \"y\"}}", "yx")]
    [InlineData("{{$n := .Name}}{{$n}}{{$n = \"x\"}}{{$n}}", "/webx")]
    [InlineData("{{$}}", "map[Config:map[Cmd:[sleep 1000] Empty:[] Entrypoint:<nil> Env:[A=1 PATH=/bin] Labels:map[a:1 b:2 com.example.tier:web] NoLabels:map[]] Id:0123456789abcdef0123 Name:/web NetworkSettings:map[Networks:map[back:map[IPAddress:10.1.0.2] bridge:map[IPAddress:10.0.0.2]]] Ratio:0.25 Size:1500000 State:map[ExitCode:0 Health:<nil> Pid:4242 Running:true Status:running]]")]
    [InlineData("{{with .State}}{{$.Name}}:{{.Status}}{{end}}", "/web:running")]
    [InlineData("{{and .State.Running \"yes\"}} {{or \"\" \"fallback\"}} {{not .State.Running}} {{and 0 .Nope.x}}", "yes fallback false 0")]
    [InlineData("{{lt 1 2}} {{le 2 2}} {{gt 1 2}} {{ge 3 2.5}} {{ne .Name \"/web\"}} {{eq 1 2 1}}", "true true false true false true")]
    [InlineData("{{eq .State.Pid 4242}} {{lt \"a\" \"b\"}}", "true true")]
    [InlineData("{{slice .Name 1 3}} {{slice .Config.Cmd 1}}", "we [1000]")]
    [InlineData("{{truncate .Id 12}}|{{pad \"x\" 1 2}}|{{pad \"\" 1 2}}|", "0123456789ab| x  ||")]
    [InlineData("{{html \"<a&'b>\"}} {{urlquery \"a b&c\"}} {{js \"it's <x>\"}}", "&lt;a&amp;&#39;b&gt; a+b%26c it\\'s \\u003Cx\\u003E")]
    [InlineData("{{\"quoted\\tstring\"}}|{{`raw\\t`}}|{{'a'}}|{{0x10}}|{{1e3}}|{{-5}}|{{1_000}}|{{0o17}}", "quoted\tstring|raw\\t|97|16|1000|-5|1000|15")]
    [InlineData("{{/* a comment */}}ok", "ok")]
    [InlineData("a  {{- /* trimmed */ -}}  b", "ab")]
    [InlineData("x\n  {{- .Name -}}  \n y", "x/weby")]
    [InlineData("{{- .Name}} {{.State.Pid -}} !", "/web 4242!")]
    [InlineData("{{(.State).Pid}} {{(index .NetworkSettings.Networks \"bridge\").IPAddress}}", "4242 10.0.0.2")]
    [InlineData("{{nil | print}}", "<nil>")]
    [InlineData("{{.Name}}\n{{.State.Status}}", "/web\nrunning")]
    [InlineData("plain text, no action", "plain text, no action")]
    [InlineData("{{range $i, $c := .Config.Cmd}}{{if $i}},{{end}}{{$c}}{{end}}", "sleep,1000")]
    [InlineData("{{if and .State.Running (gt .State.Pid 1)}}big{{end}}", "big")]
    public void Renders_as_go_does(string template, string expected) => Assert.Equal(expected, Run(template));

    [Theory]
    [InlineData("{{", "template: :1: unclosed action")]
    [InlineData("{{.Name", "template: :1: unclosed action")]
    [InlineData("{{.ID | foo}}", "template: :1: function \"foo\" not defined")]
    [InlineData("{{end}}", "template: :1: unexpected {{end}}")]
    [InlineData("{{else}}", "template: :1: unexpected {{else}}")]
    [InlineData("{{if .A}}x", "template: :1: unexpected EOF")]
    [InlineData("{{range .A}}x{{else}}y{{else}}z{{end}}", "template: :1: expected end; found {{else}}")]
    [InlineData("{{$x}}", "template: :1: undefined variable \"$x\"")]
    [InlineData("{{\"abc}}", "template: :1: unterminated quoted string")]
    [InlineData("a\n{{.A | \"x\"}}", "template: :2: non executable command in pipeline stage 2")]
    [InlineData("{{template \"x\"}}", "template: :1: template is not supported in a format string")]
    [InlineData("{{/* open", "template: :1: unclosed comment")]
    [InlineData("{{(.A}}", "template: :1: unclosed left paren")]
    [InlineData("{{.A)}}", "template: :1: unexpected right paren")]
    [InlineData("{{12x}}", "template: :1: illegal number syntax: \"12x\"")]
    [InlineData("{{}}", "template: :1: missing value for command")]
    public void Parse_errors_are_gos(string template, string expected)
    {
        var e = Assert.Throws<TemplateParseException>(() => GoTemplate.Parse(template));
        Assert.Equal(expected, e.Message);
    }

    [Theory]
    [InlineData("{{.Name.Sub}}", "template: :1:7: executing \"\" at <.Name.Sub>: can't evaluate field Sub in type interface {}")]
    [InlineData("{{index .Config.Cmd 5}}", "template: :1:2: executing \"\" at <index>: error calling index: index out of range: 5")]
    [InlineData("{{index .Nope 1}}", "template: :1:2: executing \"\" at <index>: error calling index: index of untyped nil")]
    [InlineData("{{upper .State.Pid}}", "template: :1:2: executing \"\" at <upper>: wrong type for value; expected string; got json.Number")]
    [InlineData("{{upper .Nope}}", "template: :1:2: executing \"\" at <upper>: invalid value; expected string")]
    [InlineData("{{len .State.Pid}}", "template: :1:2: executing \"\" at <len>: error calling len: len of type json.Number")]
    [InlineData("{{eq .Name 1}}", "template: :1:2: executing \"\" at <eq>: error calling eq: incompatible types for comparison")]
    [InlineData("{{lt .Config.Cmd 1}}", "template: :1:2: executing \"\" at <lt>: error calling lt: invalid type for comparison")]
    [InlineData("{{range .Name}}{{end}}", "template: :1:8: executing \"\" at <.Name>: range can't iterate over /web")]
    [InlineData("{{not}}", "template: :1:2: executing \"\" at <not>: wrong number of args for not: want 1 got 0")]
    [InlineData("x\n {{.Name 1}}", "template: :2:3: executing \"\" at <.Name>: Name is not a method but has arguments")]
    public void Execution_errors_are_gos(string template, string expected)
    {
        var e = Assert.Throws<TemplateExecException>(() => Run(template));
        Assert.Equal(expected, e.Message);
    }

    [Fact]
    public void Struct_contexts_error_on_unknown_fields_and_take_method_arguments()
    {
        var ctx = new FieldContext("*formatter.ContainerContext")
            .Add("ID", () => "abc")
            .Add("Names", () => "web")
            .Method("Label", a => a[0] is "tier" ? "front" : "");
        var t = GoTemplate.Parse("{{.ID}} {{.Names}} {{.Label \"tier\"}} [{{.Label \"x\"}}] {{json .}}");
        Assert.Equal("abc web front [] {\"ID\":\"abc\",\"Names\":\"web\"}", t.Execute(ctx));
        var e = Assert.Throws<TemplateExecException>(() => GoTemplate.Parse("{{.Nope}}").Execute(ctx));
        Assert.Equal("template: :1:2: executing \"\" at <.Nope>: can't evaluate field Nope in type *formatter.ContainerContext", e.Message);
    }

    [Fact]
    public void Table_formats_get_headers_and_tabwriter_columns()
    {
        var rows = new[] { ("abc", "web"), ("defghijklmnop", "db") }
            .Select(r => (ITemplateObject)new FieldContext("ctx").Add("ID", () => r.Item1).Add("Names", () => r.Item2));
        var w = new StringWriter();
        FormatOutput.WriteList(w, "table {{.ID}}\\t{{.Names | upper}}", rows,
            new Dictionary<string, string> { ["ID"] = "CONTAINER ID", ["Names"] = "NAMES" }, "", FormatErrors.Ps);
        // Header functions leave the column name as it is (upper of "NAMES"); minwidth 10, padding 3.
        Assert.Equal("CONTAINER ID    NAMES\nabc             WEB\ndefghijklmnop   DB\n", w.ToString());
    }

    [Fact]
    public void A_bare_table_format_is_the_default_table()
    {
        var rows = new[] { (ITemplateObject)new FieldContext("ctx").Add("ID", () => "abc").Add("Names", () => "web") };
        var w = new StringWriter();
        FormatOutput.WriteList(w, "table", rows, new Dictionary<string, string> { ["ID"] = "CONTAINER ID", ["Names"] = "NAMES" },
            "table {{.ID}}\\t{{.Names}}", FormatErrors.Ps);
        Assert.Equal("CONTAINER ID   NAMES\nabc            web\n", w.ToString());
    }

    [Fact]
    public void Tabwriter_pads_short_columns_to_ten()
    {
        Assert.Equal("A         B\nxx        y\n", FormatOutput.TabWriter("A\tB\nxx\ty\n"));
    }

    [Fact]
    public void Json_format_is_json_of_the_context_and_plain_formats_end_each_item_with_a_newline()
    {
        var rows = new[] { "a", "b" }.Select(n => (ITemplateObject)new FieldContext("ctx").Add("Name", () => n));
        var w = new StringWriter();
        FormatOutput.WriteList(w, "json", rows, new Dictionary<string, string>(), "", FormatErrors.Lists);
        Assert.Equal("{\"Name\":\"a\"}\n{\"Name\":\"b\"}\n", w.ToString());
        w = new StringWriter();
        FormatOutput.WriteList(w, "{{.Name}}\\t!", rows, new Dictionary<string, string>(), "", FormatErrors.Lists);
        Assert.Equal("a\t!\nb\t!\n", w.ToString());
    }

    [Fact]
    public void Command_errors_carry_dockers_wording_and_exit_codes()
    {
        var parse = Assert.Throws<TemplateFailure>(() => FormatOutput.Parse("{{", FormatErrors.Inspect));
        Assert.Equal((64, "template parsing error: template: :1: unclosed action"), (parse.ExitCode, parse.Message));
        var ps = Assert.Throws<TemplateFailure>(() => FormatOutput.Parse("{{", FormatErrors.Ps));
        Assert.Equal((1, "failed to parse template: template: :1: unclosed action"), (ps.ExitCode, ps.Message));
        using var doc = JsonDocument.Parse("{}");
        var exec = Assert.Throws<TemplateFailure>(() => FormatOutput.Execute(GoTemplate.Parse("{{upper 1}}"), doc.RootElement, FormatErrors.Info));
        Assert.Equal(1, exec.ExitCode);
        Assert.StartsWith("template: :1:2: executing", exec.Message);
    }

    [Theory]
    [InlineData(1e21, "1e+21")]
    [InlineData(1e20, "100000000000000000000")]
    [InlineData(0.0001, "0.0001")]
    [InlineData(0.00001, "1e-05")]
    [InlineData(1.5e-7, "1.5e-07")]
    [InlineData(-2.5, "-2.5")]
    public void Floats_print_as_go_v(double value, string expected) => Assert.Equal(expected, GoTemplate.GoFloat(value));
}
