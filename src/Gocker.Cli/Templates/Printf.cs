using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Gocker.Cli.Templates;

/// <summary>Go's fmt.Sprintf for the verbs format strings use: %v %s %q %d %t %x %X %o %b %c %f %e
/// %g %%, flags (- + # 0 space), width and precision (also *). A verb that does not fit its operand
/// prints Go's %!d(string=x); a missing operand %!d(MISSING); extra ones %!(EXTRA type=value).</summary>
public static class Printf
{
    public static string Format(string format, IReadOnlyList<object?> args)
    {
        var sb = new StringBuilder();
        int argi = 0;
        for (int i = 0; i < format.Length; i++)
        {
            char c = format[i];
            if (c != '%') { sb.Append(c); continue; }
            i++;
            if (i >= format.Length) { sb.Append("%!(NOVERB)"); break; }
            bool minus = false, plus = false, sharp = false, zero = false, space = false;
            for (; i < format.Length; i++)
            {
                switch (format[i])
                {
                    case '-': minus = true; continue;
                    case '+': plus = true; continue;
                    case '#': sharp = true; continue;
                    case '0': zero = !minus; continue;
                    case ' ': space = true; continue;
                }
                break;
            }
            int? width = null, prec = null;
            if (i < format.Length && format[i] == '*')
            {
                width = argi < args.Count ? (int?)GoTemplate.AsInteger(args[argi]) : null;
                argi++;
                i++;
            }
            else width = Digits(format, ref i);
            if (i < format.Length && format[i] == '.')
            {
                i++;
                if (i < format.Length && format[i] == '*')
                {
                    prec = argi < args.Count ? (int?)GoTemplate.AsInteger(args[argi]) : 0;
                    argi++;
                    i++;
                }
                else prec = Digits(format, ref i) ?? 0;
            }
            if (i >= format.Length) { sb.Append("%!(NOVERB)"); break; }
            char verb = format[i];
            if (verb == '%') { sb.Append('%'); continue; }
            if (argi >= args.Count) { sb.Append("%!").Append(verb).Append("(MISSING)"); continue; }
            var arg = args[argi++];
            var text = Verb(verb, arg, prec, plus, sharp, space);
            if (width is { } w && text.Length < w)
            {
                if (minus) text = text.PadRight(w);
                else if (zero && verb is 'd' or 'f' or 'e' or 'g' or 'x' or 'X' or 'o' or 'b' && text.Length > 0 && text[0] is '-' or '+')
                    text = text[0] + text[1..].PadLeft(w - 1, '0');
                else text = text.PadLeft(w, zero && verb != 's' && verb != 'v' && verb != 'q' ? '0' : ' ');
            }
            sb.Append(text);
        }
        if (argi < args.Count)
        {
            sb.Append("%!(EXTRA ");
            sb.Append(string.Join(", ", args.Skip(argi).Select(a => $"{GoTemplate.TypeName(a)}={GoTemplate.GoPrint(a)}")));
            sb.Append(')');
        }
        return sb.ToString();
    }

    static int? Digits(string f, ref int i)
    {
        int start = i;
        while (i < f.Length && char.IsAsciiDigit(f[i])) i++;
        return i > start ? int.Parse(f.AsSpan(start, i - start), CultureInfo.InvariantCulture) : null;
    }

    static string Bad(char verb, object? arg) =>
        arg is null or Missing ? $"%!{verb}(<nil>)" : $"%!{verb}({GoTemplate.TypeName(arg)}={GoTemplate.GoPrint(arg)})";

    static string Verb(char verb, object? arg, int? prec, bool plus, bool sharp, bool space)
    {
        // JSON numbers: integers act as Go ints, others as float64 (docker's typed inspect structs).
        object? v = arg is JsonElement { ValueKind: JsonValueKind.Number } n
            ? (n.TryGetInt64(out var l) ? (object)l : n.GetDouble())
            : arg;
        switch (verb)
        {
            case 'v':
                if (v is string sv && sharp) return Quote(sv);
                if (v is long lv && plus) return lv.ToString(CultureInfo.InvariantCulture);
                return GoTemplate.GoPrint(arg);
            case 's':
                return v switch
                {
                    string s => prec is { } p && p < s.Length ? s[..p] : s,
                    string[] or JsonElement { ValueKind: JsonValueKind.Array or JsonValueKind.Object } => GoTemplate.GoPrint(arg),
                    _ when arg is JsonElement { ValueKind: JsonValueKind.Number } num => num.GetRawText(),
                    _ => Bad(verb, arg),
                };
            case 'q':
                return v switch
                {
                    string s => sharp && !s.Contains('`') ? "`" + s + "`" : Quote(s),
                    long ch => "'" + char.ConvertFromUtf32((int)ch) + "'",
                    _ => Bad(verb, arg),
                };
            case 't':
                return v is bool b ? (b ? "true" : "false") : Bad(verb, arg);
            case 'd':
                return v is long dv ? Signed(dv.ToString(CultureInfo.InvariantCulture), dv, plus, space) : Bad(verb, arg);
            case 'c':
                return v is long c ? char.ConvertFromUtf32((int)c) : Bad(verb, arg);
            case 'x' or 'X':
            {
                string r = v switch
                {
                    long x => (x < 0 ? "-" : "") + (sharp ? "0x" : "") + Math.Abs(x).ToString("x", CultureInfo.InvariantCulture),
                    string s => Convert.ToHexString(Encoding.UTF8.GetBytes(s)).ToLowerInvariant(),
                    _ => Bad(verb, arg),
                };
                return verb == 'X' && !r.StartsWith("%!", StringComparison.Ordinal) ? r.ToUpperInvariant() : r;
            }
            case 'o':
                return v is long o ? (sharp ? "0" : "") + Convert.ToString(o, 8) : Bad(verb, arg);
            case 'b':
                return v is long bi ? Convert.ToString(bi, 2) : Bad(verb, arg);
            case 'f' or 'F':
                return v is double or long ? Signed(Convert.ToDouble(v, CultureInfo.InvariantCulture).ToString("F" + (prec ?? 6), CultureInfo.InvariantCulture), Convert.ToDouble(v, CultureInfo.InvariantCulture), plus, space) : Bad(verb, arg);
            case 'e' or 'E':
            {
                if (v is not (double or long)) return Bad(verb, arg);
                var d = Convert.ToDouble(v, CultureInfo.InvariantCulture);
                var s = d.ToString((verb == 'e' ? "e" : "E") + (prec ?? 6), CultureInfo.InvariantCulture);
                // .NET writes three exponent digits (e+006), Go two (e+06).
                int ePos = s.IndexOfAny(['e', 'E']);
                var exp = int.Parse(s.AsSpan(ePos + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
                s = s[..(ePos + 1)] + (exp < 0 ? "-" : "+") + Math.Abs(exp).ToString("00", CultureInfo.InvariantCulture);
                return Signed(s, d, plus, space);
            }
            case 'g' or 'G':
                return v is double or long ? Signed(GoTemplate.GoFloat(Convert.ToDouble(v, CultureInfo.InvariantCulture)), Convert.ToDouble(v, CultureInfo.InvariantCulture), plus, space) : Bad(verb, arg);
            default:
                return Bad(verb, arg);
        }
    }

    static string Signed(string s, double value, bool plus, bool space) =>
        value >= 0 && plus ? "+" + s : value >= 0 && space ? " " + s : s;

    /// <summary>strconv.Quote.</summary>
    static string Quote(string s) => Gocker.Cli.Format.Quote(s);
}
