using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Gocker.Cli.Templates;

public sealed partial class GoTemplate
{
    /// <summary>The template functions: Go's built-ins and docker's templates.basicFunctions.</summary>
    static class Funcs
    {
        static void Want(string name, List<object?> a, int n)
        {
            if (a.Count != n) throw new ArgException($"wrong number of args for {name}: want {n} got {a.Count}");
        }

        static void WantAtLeast(string name, List<object?> a, int n)
        {
            if (a.Count < n) throw new ArgException($"wrong number of args for {name}: want at least {n} got {a.Count}");
        }

        /// <summary>A string argument (Go refuses other types, and an invalid value, for a string parameter).</summary>
        static string Str(object? v) => v switch
        {
            string s => s,
            Missing => throw new ArgException("invalid value; expected string"),
            _ => throw new ArgException($"wrong type for value; expected string; got {TypeName(v)}"),
        };

        static long Int(object? v) => AsInteger(v) ?? throw new ArgException($"wrong type for value; expected int; got {TypeName(v)}");

        public static object? Call(State s, string name, List<object?> a, bool header)
        {
            if (header && name is "json" or "split" or "join" or "title" or "lower" or "upper" or "truncate")
            {
                // docker's HeaderFunctions: a table header keeps the column's name.
                WantAtLeast(name, a, 1);
                return a[0];
            }
            switch (name)
            {
                case "not":
                    Want(name, a, 1);
                    return !Truth(a[0]);
                case "len":
                    Want(name, a, 1);
                    return a[0] switch
                    {
                        string str => (long)Encoding.UTF8.GetByteCount(str),
                        string[] arr => (long)arr.Length,
                        JsonElement { ValueKind: JsonValueKind.Array } arr => (long)arr.GetArrayLength(),
                        JsonElement { ValueKind: JsonValueKind.Object } obj => (long)obj.EnumerateObject().Count(),
                        null or Missing => throw new FuncException("len of nil pointer"),
                        var v => throw new FuncException($"len of type {TypeName(v)}"),
                    };
                case "index":
                {
                    WantAtLeast(name, a, 1);
                    var item = a[0];
                    for (int i = 1; i < a.Count; i++) item = Index(item, a[i]);
                    return item;
                }
                case "slice":
                {
                    WantAtLeast(name, a, 1);
                    if (a.Count > 4) throw new FuncException($"too many slice indexes: {a.Count - 1}");
                    var idx = a.Skip(1).Select(Int).ToArray();
                    switch (a[0])
                    {
                        case string str:
                        {
                            if (idx.Length == 3) throw new FuncException("cannot 3-index slice a string");
                            var bytes = Encoding.UTF8.GetBytes(str);
                            long lo = idx.Length > 0 ? idx[0] : 0, hi = idx.Length > 1 ? idx[1] : bytes.Length;
                            if (lo < 0 || hi > bytes.Length || lo > hi) throw new FuncException($"index out of range: {(lo > hi ? lo : hi)}");
                            return Encoding.UTF8.GetString(bytes, (int)lo, (int)(hi - lo));
                        }
                        case string[] or JsonElement { ValueKind: JsonValueKind.Array }:
                        {
                            var items = Elements(a[0]);
                            long lo = idx.Length > 0 ? idx[0] : 0, hi = idx.Length > 1 ? idx[1] : items.Count;
                            if (lo < 0 || hi > items.Count || lo > hi) throw new FuncException($"index out of range: {(lo > hi ? lo : hi)}");
                            return items.Skip((int)lo).Take((int)(hi - lo)).Select(x => GoPrint(x)).ToArray();
                        }
                        default:
                            throw new FuncException($"can't slice item of type {TypeName(a[0])}");
                    }
                }
                case "print":
                    return Sprint(a, newline: false);
                case "println":
                    return Sprint(a, newline: true);
                case "printf":
                    WantAtLeast(name, a, 1);
                    return Printf.Format(Str(a[0]), a.Skip(1).ToList());
                case "eq":
                {
                    WantAtLeast(name, a, 1);
                    if (a.Count == 1) throw new FuncException("missing argument for comparison");
                    for (int i = 1; i < a.Count; i++)
                        if (Equal(a[0], a[i])) return true;
                    return false;
                }
                case "ne":
                    Want(name, a, 2);
                    return !Equal(a[0], a[1]);
                case "lt": Want(name, a, 2); return Compare(a[0], a[1]) < 0;
                case "le": Want(name, a, 2); return Compare(a[0], a[1]) <= 0;
                case "gt": Want(name, a, 2); return Compare(a[0], a[1]) > 0;
                case "ge": Want(name, a, 2); return Compare(a[0], a[1]) >= 0;
                case "html":
                    return System.Net.WebUtility.HtmlEncode(Sprint(a, false)).Replace("&#39;", "&#39;");
                case "urlquery":
                    return Uri.EscapeDataString(Sprint(a, false)).Replace("%20", "+");
                case "js":
                    return JsEscape(Sprint(a, false));
                case "call":
                    throw new FuncException("call is not supported: the data has no functions");
                case "json":
                    Want(name, a, 1);
                    return Json(a[0]);
                case "split":
                    Want(name, a, 2);
                    return GoSplit(Str(a[0]), Str(a[1]));
                case "join":
                    Want(name, a, 2);
                    return a[0] switch
                    {
                        string[] arr => string.Join(Str(a[1]), arr),
                        JsonElement { ValueKind: JsonValueKind.Array } arr => string.Join(Str(a[1]),
                            arr.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.String ? e.GetString()
                                : throw new ArgException($"wrong type for value; expected []string; got []interface {{}}"))),
                        null or Missing => "",
                        var v => throw new ArgException($"wrong type for value; expected []string; got {TypeName(v)}"),
                    };
                case "title":
                    Want(name, a, 1);
                    return Title(Str(a[0]));
                case "lower":
                    Want(name, a, 1);
                    return Str(a[0]).ToLowerInvariant();
                case "upper":
                    Want(name, a, 1);
                    return Str(a[0]).ToUpperInvariant();
                case "pad":
                {
                    Want(name, a, 3);
                    var src = Str(a[0]);
                    return src.Length == 0 ? src : new string(' ', (int)Math.Max(0, Int(a[1]))) + src + new string(' ', (int)Math.Max(0, Int(a[2])));
                }
                case "truncate":
                {
                    Want(name, a, 2);
                    var src = Str(a[0]);
                    var n = Int(a[1]);
                    // Go slices bytes; keep whole characters of ASCII-range text the same way.
                    var bytes = Encoding.UTF8.GetBytes(src);
                    return bytes.Length < n ? src : Encoding.UTF8.GetString(bytes, 0, (int)Math.Max(0, n));
                }
            }
            throw new FuncException($"function \"{name}\" not defined");
        }

        static List<object?> Elements(object? v) => v switch
        {
            string[] arr => [.. arr],
            JsonElement { ValueKind: JsonValueKind.Array } arr => arr.EnumerateArray().Select(e => Normalize(e)).ToList(),
            _ => [],
        };

        static object? Index(object? item, object? key)
        {
            switch (item)
            {
                case JsonElement { ValueKind: JsonValueKind.Object } obj:
                {
                    if (key is not string k) throw new FuncException($"value has type {TypeName(key)}; should be string");
                    if (obj.TryGetProperty(k, out var v)) return Normalize(v);
                    // A missing key gives the element type's zero value: "" for a map of strings
                    // (Labels, Options), nil (printed <no value>) otherwise.
                    var values = obj.EnumerateObject().ToList();
                    return values.Count > 0 && values.All(p => p.Value.ValueKind == JsonValueKind.String) ? "" : Missing.Value;
                }
                case string[] or JsonElement { ValueKind: JsonValueKind.Array }:
                {
                    var items = Elements(item);
                    var i = AsInteger(key) ?? throw new FuncException($"cannot index slice/array with type {TypeName(key)}");
                    if (i < 0 || i >= items.Count) throw new FuncException($"index out of range: {i}");
                    return items[(int)i];
                }
                case string str:
                {
                    var i = AsInteger(key) ?? throw new FuncException($"cannot index slice/array with type {TypeName(key)}");
                    var bytes = Encoding.UTF8.GetBytes(str);
                    if (i < 0 || i >= bytes.Length) throw new FuncException($"index out of range: {i}");
                    return (long)bytes[i];
                }
                case null or Missing:
                    throw new FuncException("index of untyped nil");
                default:
                    throw new FuncException($"can't index item of type {TypeName(item)}");
            }
        }

        /// <summary>fmt.Sprint / Sprintln: Sprint puts a space between two operands when neither is a string.</summary>
        static string Sprint(List<object?> a, bool newline)
        {
            var sb = new StringBuilder();
            for (int i = 0; i < a.Count; i++)
            {
                if (i > 0 && (newline || a[i] is not string && a[i - 1] is not string)) sb.Append(' ');
                sb.Append(GoPrint(a[i]));
            }
            if (newline) sb.Append('\n');
            return sb.ToString();
        }

        static bool Equal(object? x, object? y)
        {
            if (x is null or Missing || y is null or Missing)
            {
                if (x is null or Missing && y is null or Missing) return true;
                throw new FuncException("incompatible types for comparison");
            }
            if (Num(x) is { } a && Num(y) is { } b) return a == b;
            return (x, y) switch
            {
                (string s1, string s2) => s1 == s2,
                (bool b1, bool b2) => b1 == b2,
                (JsonElement { ValueKind: JsonValueKind.Object or JsonValueKind.Array }, _) or (_, JsonElement { ValueKind: JsonValueKind.Object or JsonValueKind.Array })
                    or (string[], _) or (_, string[]) => throw new FuncException("non-comparable type"),
                _ => throw new FuncException("incompatible types for comparison"),
            };
        }

        static int Compare(object? x, object? y)
        {
            if (Num(x) is { } a && Num(y) is { } b) return a.CompareTo(b);
            if (x is string s1 && y is string s2) return string.CompareOrdinal(s1, s2);
            if (x is string or long or double or JsonElement { ValueKind: JsonValueKind.Number } &&
                y is string or long or double or JsonElement { ValueKind: JsonValueKind.Number })
                throw new FuncException("incompatible types for comparison");
            throw new FuncException("invalid type for comparison");
        }

        static double? Num(object? v) => v switch
        {
            long l => l,
            double d => d,
            JsonElement { ValueKind: JsonValueKind.Number } n => n.GetDouble(),
            _ => null,
        };

        /// <summary>strings.Split: "" as separator splits into characters; an empty string gives [""].</summary>
        static string[] GoSplit(string s, string sep)
        {
            if (sep.Length == 0)
            {
                var parts = new List<string>();
                var e = StringInfo.GetTextElementEnumerator(s);
                while (e.MoveNext()) parts.Add((string)e.Current);
                return [.. parts];
            }
            return s.Split(sep);
        }

        /// <summary>strings.Title: the first letter of each word upper-cased; words are separated by
        /// ASCII characters other than letters, digits and '_', and by white space.</summary>
        static string Title(string s)
        {
            var sb = new StringBuilder(s.Length);
            char prev = ' ';
            foreach (char c in s)
            {
                bool prevSep = prev <= 0x7f ? !(char.IsAsciiLetterOrDigit(prev) || prev == '_') : char.IsWhiteSpace(prev);
                sb.Append(prevSep ? char.ToUpperInvariant(c) : c);
                prev = c;
            }
            return sb.ToString();
        }

        static string JsEscape(string s)
        {
            var sb = new StringBuilder();
            foreach (char c in s)
            {
                switch (c)
                {
                    case '\\': sb.Append(@"\\"); break;
                    case '\'': sb.Append(@"\'"); break;
                    case '"': sb.Append("\\\""); break;
                    case '<': sb.Append(@"\u003C"); break;
                    case '>': sb.Append(@"\u003E"); break;
                    case '&': sb.Append(@"\u0026"); break;
                    case '=': sb.Append(@"\u003D"); break;
                    case '\n': sb.Append(@"\n"); break;
                    case '\r': sb.Append(@"\r"); break;
                    case '\t': sb.Append(@"\t"); break;
                    default:
                        if (c < ' ') sb.Append($"\\u{(int)c:X4}");
                        else sb.Append(c);
                        break;
                }
            }
            return sb.ToString();
        }
    }

    // ---- json: encoding/json with SetEscapeHTML(false), trailing newline trimmed ------------------

    /// <summary>docker's json function: the value as compact JSON (the daemon's field order kept, no
    /// HTML escaping, as Go's encoder with SetEscapeHTML(false)).</summary>
    internal static string Json(object? v)
    {
        var sb = new StringBuilder();
        WriteJson(sb, v);
        return sb.ToString();
    }

    static void WriteJson(StringBuilder sb, object? v)
    {
        switch (v)
        {
            case null or Missing: sb.Append("null"); break;
            case string s: JsonString(sb, s); break;
            case bool b: sb.Append(b ? "true" : "false"); break;
            case long l: sb.Append(l.ToString(CultureInfo.InvariantCulture)); break;
            case double d: sb.Append(d.ToString("R", CultureInfo.InvariantCulture)); break;
            case string[] a:
                sb.Append('[');
                for (int i = 0; i < a.Length; i++) { if (i > 0) sb.Append(','); JsonString(sb, a[i]); }
                sb.Append(']');
                break;
            case JsonElement e:
                switch (e.ValueKind)
                {
                    case JsonValueKind.Object:
                        sb.Append('{');
                        bool first = true;
                        foreach (var p in e.EnumerateObject())
                        {
                            if (!first) sb.Append(',');
                            first = false;
                            JsonString(sb, p.Name);
                            sb.Append(':');
                            WriteJson(sb, p.Value);
                        }
                        sb.Append('}');
                        break;
                    case JsonValueKind.Array:
                        sb.Append('[');
                        int k = 0;
                        foreach (var x in e.EnumerateArray()) { if (k++ > 0) sb.Append(','); WriteJson(sb, x); }
                        sb.Append(']');
                        break;
                    case JsonValueKind.Number: sb.Append(e.GetRawText()); break;
                    default: WriteJson(sb, Normalize(e)); break;
                }
                break;
            case ITemplateObject o:
                sb.Append('{');
                bool f1 = true;
                foreach (var (key, val) in o.Fields)
                {
                    if (!f1) sb.Append(',');
                    f1 = false;
                    JsonString(sb, key);
                    sb.Append(':');
                    WriteJson(sb, Normalize(val));
                }
                sb.Append('}');
                break;
            default: JsonString(sb, v.ToString() ?? ""); break;
        }
    }

    static void JsonString(StringBuilder sb, string s)
    {
        sb.Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\u2028': sb.Append("\\u2028"); break;
                case '\u2029': sb.Append("\\u2029"); break;
                default:
                    if (c < 0x20) sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        sb.Append('"');
    }
}
