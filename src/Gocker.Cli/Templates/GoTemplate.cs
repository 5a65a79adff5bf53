using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Gocker.Cli.Templates;

/// <summary>Go's invalid reflect.Value: a missing map key or a JSON null. Printed "&lt;no value&gt;"
/// by an action, "&lt;nil&gt;" inside print/printf, as Go prints them.</summary>
public sealed class Missing
{
    public static readonly Missing Value = new();
    Missing() { }
}

/// <summary>A Go struct-like context (docker's ps/images formatter contexts): named fields, some
/// methods with arguments ({{.Label "k"}}); a field it lacks is an error, as for a Go struct.</summary>
public interface ITemplateObject
{
    /// <summary>The Go type name used in errors ("*formatter.ContainerContext").</summary>
    string TypeName { get; }
    bool TryField(string name, out object? value);
    bool TryMethod(string name, IReadOnlyList<object?> args, out object? value);
    /// <summary>Every field, for {{json .}} (docker marshals its contexts to a JSON object of strings).</summary>
    IEnumerable<KeyValuePair<string, object?>> Fields { get; }
}

/// <summary>
/// Go's text/template (the language of docker's --format) over System.Text.Json values, written by
/// hand: the console is NativeAOT without reflection-based JSON, and the .NET ports of Go's
/// template package are machine conversions built on a runtime reflection layer over Go-shaped
/// types (go.text.template, go.reflect and the go.lib runtime), not over JSON, and none is in the
/// set of packages that restore for net10.0 here. Data: a <see cref="JsonElement"/> (inspect
/// answers, as docker's raw-JSON fallback sees them: objects are maps, numbers print as sent) or
/// an <see cref="ITemplateObject"/>. Functions: Go's built-ins (and, or, not, len, index, slice,
/// print, printf, println, eq, ne, lt, le, gt, ge, html, js, urlquery) and docker's (json, split,
/// join, title, lower, upper, pad, truncate).
/// </summary>
public sealed partial class GoTemplate
{
    static readonly string[] Builtins =
    [
        "and", "or", "not", "len", "index", "slice", "print", "printf", "println", "eq", "ne", "lt", "le", "gt", "ge",
        "html", "js", "urlquery", "call",
        "json", "split", "join", "title", "lower", "upper", "pad", "truncate",
    ];

    readonly string _text;
    readonly ListNode _root;

    GoTemplate(string text, ListNode root)
    {
        _text = text;
        _root = root;
    }

    /// <exception cref="TemplateParseException">Go's parse error text ("template: :1: unclosed action").</exception>
    public static GoTemplate Parse(string text) => new(text, TemplateParser.Parse(text, Builtins));

    /// <summary>Runs the template on <paramref name="data"/>. <paramref name="header"/>: docker's
    /// HeaderFunctions (json, split, join, title, lower, upper, truncate give back their first
    /// argument, so a table's header shows the column names untouched).</summary>
    /// <exception cref="TemplateExecException">Go's execution error text.</exception>
    public string Execute(object? data, bool header = false)
    {
        var state = new State(this, Normalize(data), header);
        var sb = new StringBuilder();
        state.Walk(_root, state.Root, sb);
        return sb.ToString();
    }

    /// <summary>A JSON value as the evaluator holds it: strings, booleans and null unwrapped.</summary>
    internal static object? Normalize(object? v) => v switch
    {
        JsonElement e => e.ValueKind switch
        {
            JsonValueKind.String => e.GetString(),
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            JsonValueKind.Null or JsonValueKind.Undefined => Missing.Value,
            _ => e,
        },
        JsonDocument d => Normalize(d.RootElement),
        int i => (long)i,
        _ => v,
    };

    enum Flow { Normal, Break, Continue }

    sealed partial class State(GoTemplate t, object? root, bool header)
    {
        public object? Root { get; } = root;
        readonly List<(string Name, object? Value)> _vars = [("$", root)];
        Node? _at;

        TemplateExecException Error(string message)
        {
            var pos = _at?.Pos ?? 0;
            var text = t._text;
            pos = Math.Min(pos, text.Length);
            int line = 1 + text.AsSpan(0, pos).Count('\n');
            int col = pos - (text.LastIndexOf('\n', Math.Max(0, pos - 1)) + 1);
            if (pos == 0) col = 0;
            var at = _at is null ? "" : $" at <{Describe(_at)}>";
            return new TemplateExecException($"template: :{line}:{col}: executing \"\"{at}: {message}");
        }

        static string Describe(Node n) => n switch
        {
            FieldNode f => "." + string.Join('.', f.Ident),
            VariableNode v => string.Join('.', v.Ident),
            ChainNode c => "(" + Describe(c.Operand) + ")." + string.Join('.', c.Fields),
            IdentifierNode i => i.Name,
            DotNode => ".",
            NilNode => "nil",
            BoolNode b => b.Value ? "true" : "false",
            NumberNode num => num.Text,
            StringNode s => s.Quoted,
            CommandNode c => string.Join(' ', c.Args.Select(Describe)),
            PipeNode p => (p.Decl.Count > 0 ? string.Join(", ", p.Decl) + (p.IsAssign ? " = " : " := ") : "") + string.Join(" | ", p.Cmds.Select(Describe)),
            _ => "",
        };

        public Flow Walk(Node node, object? dot, StringBuilder sb)
        {
            switch (node)
            {
                case TextNode text:
                    sb.Append(text.Text);
                    return Flow.Normal;
                case ListNode list:
                    foreach (var n in list.Nodes)
                    {
                        var f = Walk(n, dot, sb);
                        if (f != Flow.Normal) return f;
                    }
                    return Flow.Normal;
                case ActionNode action:
                {
                    var v = EvalPipe(dot, action.Pipe);
                    if (action.Pipe.Decl.Count == 0) sb.Append(PrintAction(v));
                    return Flow.Normal;
                }
                case BreakNode b:
                    return b.Continue ? Flow.Continue : Flow.Break;
                case BranchNode br:
                    return br.Kind == "range" ? Range(br, dot, sb) : IfWith(br, dot, sb);
                default:
                    throw Error($"unknown node {node.GetType().Name}");
            }
        }

        Flow IfWith(BranchNode br, object? dot, StringBuilder sb)
        {
            int mark = _vars.Count;
            try
            {
                var v = EvalPipe(dot, br.Pipe);
                if (Truth(v)) return Walk(br.List, br.Kind == "with" ? v : dot, sb);
                return br.Else is null ? Flow.Normal : Walk(br.Else, dot, sb);
            }
            finally { _vars.RemoveRange(mark, _vars.Count - mark); }
        }

        Flow Range(BranchNode br, object? dot, StringBuilder sb)
        {
            int mark = _vars.Count;
            try
            {
                // The pipeline without its declaration: the variables take each element (Go's range).
                var value = EvalPipe(dot, br.Pipe with { Decl = [] });
                var items = new List<(object? Key, object? Value)>();
                switch (value)
                {
                    case JsonElement { ValueKind: JsonValueKind.Array } a:
                        long i = 0;
                        foreach (var e in a.EnumerateArray()) items.Add((i++, Normalize(e)));
                        break;
                    case JsonElement { ValueKind: JsonValueKind.Object } o:
                        // Go ranges over a map in key order.
                        foreach (var p in o.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal)) items.Add((p.Name, Normalize(p.Value)));
                        break;
                    case string[] arr:
                        for (int k = 0; k < arr.Length; k++) items.Add(((long)k, arr[k]));
                        break;
                    case Missing or null:
                        break;
                    default:
                        if (AsInteger(value) is { } n)
                        {
                            for (long k = 0; k < n; k++) items.Add((k, k));
                            break;
                        }
                        throw Error($"range can't iterate over {GoPrint(value)}");
                }
                if (items.Count == 0) return br.Else is null ? Flow.Normal : Walk(br.Else, dot, sb);
                foreach (var (key, elem) in items)
                {
                    int inner = _vars.Count;
                    if (br.Pipe.Decl.Count == 1) SetVar(br.Pipe.Decl[0], elem, br.Pipe.IsAssign);
                    else if (br.Pipe.Decl.Count == 2)
                    {
                        SetVar(br.Pipe.Decl[0], key, br.Pipe.IsAssign);
                        SetVar(br.Pipe.Decl[1], elem, br.Pipe.IsAssign);
                    }
                    var f = Walk(br.List, elem, sb);
                    _vars.RemoveRange(inner, _vars.Count - inner);
                    if (f == Flow.Break) break;
                }
                return Flow.Normal;
            }
            finally { _vars.RemoveRange(mark, _vars.Count - mark); }
        }

        void SetVar(string name, object? value, bool assign)
        {
            if (assign)
            {
                for (int i = _vars.Count - 1; i >= 0; i--)
                    if (_vars[i].Name == name) { _vars[i] = (name, value); return; }
                throw Error($"undefined variable: {name}");
            }
            _vars.Add((name, value));
        }

        object? GetVar(string name)
        {
            for (int i = _vars.Count - 1; i >= 0; i--)
                if (_vars[i].Name == name) return _vars[i].Value;
            throw Error($"undefined variable: {name}");
        }

        object? EvalPipe(object? dot, PipeNode pipe)
        {
            object? value = null;
            bool hasFinal = false;
            foreach (var cmd in pipe.Cmds)
            {
                value = EvalCommand(dot, cmd, hasFinal, value);
                hasFinal = true;
            }
            foreach (var name in pipe.Decl) SetVar(name, value, pipe.IsAssign);
            return value;
        }

        object? EvalCommand(object? dot, CommandNode cmd, bool hasFinal, object? final)
        {
            var first = cmd.Args[0];
            _at = first;
            switch (first)
            {
                case FieldNode f:
                    return EvalFieldChain(dot, dot, f, f.Ident, cmd.Args, hasFinal, final);
                case ChainNode c:
                {
                    var receiver = EvalArg(dot, c.Operand);
                    return EvalFieldChain(dot, receiver, c, c.Fields, cmd.Args, hasFinal, final);
                }
                case VariableNode v:
                {
                    var value = GetVar(v.Ident[0]);
                    if (v.Ident.Length == 1)
                    {
                        NotAFunction(cmd.Args, hasFinal, v.Ident[0]);
                        return value;
                    }
                    return EvalFieldChain(dot, value, v, v.Ident[1..], cmd.Args, hasFinal, final);
                }
                case IdentifierNode id:
                    return Call(dot, id, cmd.Args, hasFinal, final);
                case PipeNode p:
                    NotAFunction(cmd.Args, hasFinal, "(pipeline)");
                    return EvalPipe(dot, p);
            }
            NotAFunction(cmd.Args, hasFinal, Describe(first));
            return EvalArg(dot, first);
        }

        void NotAFunction(List<Node> args, bool hasFinal, string name)
        {
            if (args.Count > 1 || hasFinal) throw Error($"can't give argument to non-function {name}");
        }

        object? EvalArg(object? dot, Node n)
        {
            _at = n;
            return n switch
            {
                DotNode => dot,
                NilNode => null,
                BoolNode b => b.Value,
                NumberNode num => num.Int is { } i ? (object)i : num.Float,
                StringNode s => s.Value,
                FieldNode f => EvalFieldChain(dot, dot, f, f.Ident, [f], false, null),
                VariableNode v => v.Ident.Length == 1 ? GetVar(v.Ident[0]) : EvalFieldChain(dot, GetVar(v.Ident[0]), v, v.Ident[1..], [v], false, null),
                ChainNode c => EvalFieldChain(dot, EvalArg(dot, c.Operand), c, c.Fields, [c], false, null),
                PipeNode p => EvalPipe(dot, p),
                IdentifierNode id => Call(dot, id, [id], false, null),
                _ => throw Error($"can't handle {Describe(n)}"),
            };
        }

        object? EvalFieldChain(object? dot, object? receiver, Node node, string[] idents, List<Node> args, bool hasFinal, object? final)
        {
            for (int i = 0; i < idents.Length - 1; i++) receiver = Field(dot, receiver, idents[i], [], false, null);
            _at = node;
            return Field(dot, receiver, idents[^1], args, hasFinal, final);
        }

        object? Field(object? dot, object? receiver, string name, List<Node> args, bool hasFinal, object? final)
        {
            bool hasArgs = args.Count > 1 || hasFinal;
            switch (receiver)
            {
                case Missing or null:
                    if (hasArgs) throw Error($"nil pointer evaluating interface {{}}.{name}");
                    return Missing.Value;
                case JsonElement { ValueKind: JsonValueKind.Object } o:
                    if (hasArgs) throw Error($"{name} is not a method but has arguments");
                    return o.TryGetProperty(name, out var v) ? Normalize(v) : Missing.Value;
                case ITemplateObject obj:
                    if (hasArgs)
                    {
                        var values = new List<object?>();
                        for (int i = 1; i < args.Count; i++) values.Add(EvalArg(dot, args[i]));
                        if (hasFinal) values.Add(final);
                        if (obj.TryMethod(name, values, out var r)) return r;
                    }
                    else
                    {
                        if (obj.TryField(name, out var fv)) return Normalize(fv);
                        if (obj.TryMethod(name, [], out var r)) return r;
                    }
                    throw Error($"can't evaluate field {name} in type {obj.TypeName}");
                default:
                    // Values read from JSON sit in Go's interface{} (docker's raw-JSON mode names that type).
                    throw Error($"can't evaluate field {name} in type {(Root is JsonElement ? "interface {}" : TypeName(receiver))}");
            }
        }

        object? Call(object? dot, IdentifierNode id, List<Node> args, bool hasFinal, object? final)
        {
            // and/or evaluate lazily (Go 1.18): the first deciding argument is the answer.
            if (id.Name is "and" or "or")
            {
                int n = args.Count - 1 + (hasFinal ? 1 : 0);
                if (n < 1) throw Error($"wrong number of args for {id.Name}: want at least 1 got 0");
                object? v = null;
                for (int i = 1; i <= n; i++)
                {
                    v = i < args.Count ? EvalArg(dot, args[i]) : final;
                    if (Truth(v) != (id.Name == "and")) return v;
                }
                return v;
            }
            var values = new List<object?>();
            for (int i = 1; i < args.Count; i++) values.Add(EvalArg(dot, args[i]));
            if (hasFinal) values.Add(final);
            _at = id;
            try
            {
                return Funcs.Call(this, id.Name, values, header);
            }
            catch (FuncException e)
            {
                throw Error($"error calling {id.Name}: {e.Message}");
            }
            catch (ArgException e)
            {
                throw Error(e.Message);
            }
        }

        /// <summary>How an action prints its value (text/template's printValue).</summary>
        static string PrintAction(object? v) => v is Missing ? "<no value>" : GoPrint(v);
    }

    /// <summary>A function's own failure: "error calling NAME: ...".</summary>
    internal sealed class FuncException(string message) : Exception(message);
    /// <summary>Arguments of the wrong number or type (Go reports these without "error calling").</summary>
    internal sealed class ArgException(string message) : Exception(message);

    // ---- values -----------------------------------------------------------------------------------

    /// <summary>Go's truth: false, 0, "", nil and empty collections are false.</summary>
    internal static bool Truth(object? v) => v switch
    {
        null or Missing => false,
        bool b => b,
        string s => s.Length > 0,
        long l => l != 0,
        double d => d != 0,
        string[] a => a.Length > 0,
        JsonElement { ValueKind: JsonValueKind.Array } a => a.GetArrayLength() > 0,
        JsonElement { ValueKind: JsonValueKind.Object } o => o.EnumerateObject().Any(),
        JsonElement { ValueKind: JsonValueKind.Number } n => n.TryGetDouble(out var d) && d != 0,
        _ => true,
    };

    internal static string TypeName(object? v) => v switch
    {
        null or Missing => "<nil>",
        string => "string",
        bool => "bool",
        long => "int",
        double => "float64",
        string[] => "[]string",
        JsonElement { ValueKind: JsonValueKind.Array } => "[]interface {}",
        JsonElement { ValueKind: JsonValueKind.Object } => "map[string]interface {}",
        JsonElement { ValueKind: JsonValueKind.Number } => "json.Number",
        ITemplateObject o => o.TypeName,
        _ => v.GetType().Name,
    };

    internal static long? AsInteger(object? v) => v switch
    {
        long l => l,
        JsonElement { ValueKind: JsonValueKind.Number } n when n.TryGetInt64(out var l) => l,
        _ => null,
    };

    /// <summary>fmt's %v: maps as map[k:v ...] in key order, slices as [a b], nil inside as &lt;nil&gt;.</summary>
    internal static string GoPrint(object? v)
    {
        var sb = new StringBuilder();
        AppendGo(sb, v);
        return sb.ToString();
    }

    static void AppendGo(StringBuilder sb, object? v)
    {
        switch (v)
        {
            case null or Missing: sb.Append("<nil>"); break;
            case string s: sb.Append(s); break;
            case bool b: sb.Append(b ? "true" : "false"); break;
            case long l: sb.Append(l.ToString(CultureInfo.InvariantCulture)); break;
            case double d: sb.Append(GoFloat(d)); break;
            case string[] a:
                sb.Append('[');
                for (int i = 0; i < a.Length; i++) { if (i > 0) sb.Append(' '); sb.Append(a[i]); }
                sb.Append(']');
                break;
            case JsonElement e:
                switch (e.ValueKind)
                {
                    case JsonValueKind.Object:
                        sb.Append("map[");
                        bool first = true;
                        foreach (var p in e.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal))
                        {
                            if (!first) sb.Append(' ');
                            first = false;
                            sb.Append(p.Name).Append(':');
                            AppendGo(sb, Normalize(p.Value));
                        }
                        sb.Append(']');
                        break;
                    case JsonValueKind.Array:
                        sb.Append('[');
                        int k = 0;
                        foreach (var x in e.EnumerateArray()) { if (k++ > 0) sb.Append(' '); AppendGo(sb, Normalize(x)); }
                        sb.Append(']');
                        break;
                    case JsonValueKind.Number: sb.Append(e.GetRawText()); break;
                    default: AppendGo(sb, Normalize(e)); break;
                }
                break;
            case ITemplateObject o:
                sb.Append('{');
                bool f1 = true;
                foreach (var (_, val) in o.Fields) { if (!f1) sb.Append(' '); f1 = false; AppendGo(sb, Normalize(val)); }
                sb.Append('}');
                break;
            default: sb.Append(v); break;
        }
    }

    /// <summary>strconv.FormatFloat(f, 'g', -1, 64) as %v prints it: shortest digits, an exponent
    /// below 1e-4 and from 1e21.</summary>
    internal static string GoFloat(double d)
    {
        if (double.IsPositiveInfinity(d)) return "+Inf";
        if (double.IsNegativeInfinity(d)) return "-Inf";
        if (double.IsNaN(d)) return "NaN";
        if (d == 0) return double.IsNegative(d) ? "-0" : "0";
        var r = d.ToString("R", CultureInfo.InvariantCulture);
        int e = r.IndexOfAny(['E', 'e']);
        string mant = e < 0 ? r : r[..e];
        int exp10 = (int)Math.Floor(Math.Log10(Math.Abs(d)));
        if (exp10 < -4 || exp10 >= 21)
        {
            // Shortest mantissa digits in d.ddd form.
            var digits = (e < 0 ? r : mant).Replace("-", "").Replace(".", "").TrimStart('0').TrimEnd('0');
            if (digits.Length == 0) digits = "0";
            var m = digits.Length > 1 ? digits[0] + "." + digits[1..] : digits;
            return (d < 0 ? "-" : "") + m + "e" + (exp10 < 0 ? "-" : "+") + Math.Abs(exp10).ToString("00", CultureInfo.InvariantCulture);
        }
        if (e < 0) return r;
        return decimal.TryParse(r, NumberStyles.Float, CultureInfo.InvariantCulture, out var dec) ? dec.ToString(CultureInfo.InvariantCulture) : r;
    }
}
