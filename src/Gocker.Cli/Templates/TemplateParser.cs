using System.Globalization;
using System.Text;

namespace Gocker.Cli.Templates;

/// <summary>A template that does not parse; the message is Go's ("template: :1: unclosed action").</summary>
public sealed class TemplateParseException(string message) : Exception(message);

/// <summary>A template that failed while running ("template: :1:2: executing \"\" at &lt;.X&gt;: ...").</summary>
public sealed class TemplateExecException(string message) : Exception(message);

// ---- the parse tree (Go's text/template/parse node kinds that docker users write) -----------------

abstract record Node(int Pos);
sealed record TextNode(int Pos, string Text) : Node(Pos);
sealed record ListNode(int Pos, List<Node> Nodes) : Node(Pos);
sealed record ActionNode(int Pos, PipeNode Pipe) : Node(Pos);
/// <summary>if / range / with; <see cref="Else"/> may hold a nested if/with for "else if".</summary>
sealed record BranchNode(int Pos, string Kind, PipeNode Pipe, ListNode List, ListNode? Else) : Node(Pos);
sealed record BreakNode(int Pos, bool Continue) : Node(Pos);
sealed record PipeNode(int Pos, List<string> Decl, bool IsAssign, List<CommandNode> Cmds) : Node(Pos);
sealed record CommandNode(int Pos, List<Node> Args) : Node(Pos);
sealed record FieldNode(int Pos, string[] Ident) : Node(Pos);          // .A.B
sealed record VariableNode(int Pos, string[] Ident) : Node(Pos);       // $x.A.B ($ alone: ["$"])
sealed record ChainNode(int Pos, Node Operand, string[] Fields) : Node(Pos); // (pipe).A.B
sealed record IdentifierNode(int Pos, string Name) : Node(Pos);         // a function
sealed record DotNode(int Pos) : Node(Pos);
sealed record NilNode(int Pos) : Node(Pos);
sealed record BoolNode(int Pos, bool Value) : Node(Pos);
sealed record NumberNode(int Pos, string Text, long? Int, double Float) : Node(Pos);
sealed record StringNode(int Pos, string Quoted, string Value) : Node(Pos);

/// <summary>
/// A parser for Go's text/template language (the subset docker's --format users write: actions,
/// fields, variables, pipelines, if/else if/range/with/else/end, break/continue, comments, trim
/// markers, string/raw/char/number literals, parenthesised pipelines). define/template/block are
/// refused by name: a docker format string has no use for them.
/// </summary>
public sealed class TemplateParser
{
    readonly string _text;
    readonly HashSet<string> _funcs;
    int _pos;
    // The tokens of the action being parsed.
    List<Token> _toks = [];
    int _t;
    readonly List<HashSet<string>> _vars = [["$"]];

    enum T { Field, Variable, Ident, String, RawString, Char, Number, Bool, Nil, Dot, Pipe, LParen, RParen, Declare, Assign, Comma, End }
    readonly record struct Token(T Kind, string Text, int Pos);

    TemplateParser(string text, HashSet<string> funcs)
    {
        _text = text;
        _funcs = funcs;
    }

    internal static ListNode Parse(string text, IEnumerable<string> functions)
    {
        var p = new TemplateParser(text, [.. functions]);
        var list = p.ParseList(out var end);
        if (end is not null) throw p.Error(end.Value.Pos, $"unexpected {{{{{end.Value.Word}}}}}");
        return list;
    }

    int Line(int pos) => 1 + _text.AsSpan(0, Math.Min(pos, _text.Length)).Count('\n');
    TemplateParseException Error(int pos, string msg) => new($"template: :{Line(pos)}: {msg}");

    /// <summary>Nodes up to an {{end}}/{{else ...}} (returned in <paramref name="end"/>) or the end of the text.</summary>
    ListNode ParseList(out (string Word, int Pos, int TokenIndex)? end)
    {
        var list = new ListNode(_pos, []);
        end = null;
        bool trimNext = false;
        while (_pos < _text.Length)
        {
            int open = _text.IndexOf("{{", _pos, StringComparison.Ordinal);
            string text = open < 0 ? _text[_pos..] : _text[_pos..open];
            // "{{- " trims the space before the action (the dash needs a space after it: "{{-3}}" is -3).
            bool trimLeft = open >= 0 && open + 3 < _text.Length && _text[open + 2] == '-' && IsSpace(_text[open + 3]);
            if (trimNext) text = text.TrimStart(' ', '\t', '\r', '\n');
            if (trimLeft) text = text.TrimEnd(' ', '\t', '\r', '\n');
            if (text.Length > 0) list.Nodes.Add(new TextNode(_pos, text));
            if (open < 0) { _pos = _text.Length; break; }
            int start = open + 2 + (trimLeft ? 2 : 0);
            // Comment: {{/* ... */}} (with optional trim markers around it).
            if (_text.AsSpan(start).StartsWith("/*"))
            {
                int close = _text.IndexOf("*/", start + 2, StringComparison.Ordinal);
                if (close < 0) throw Error(open, "unclosed comment");
                int after = close + 2;
                bool trimRight = _text.AsSpan(after).StartsWith(" -}}");
                if (trimRight) after++;
                else if (!_text.AsSpan(after).StartsWith("}}")) throw Error(open, "comment ends before closing delimiter");
                _pos = after + (trimRight ? 3 : 2);
                trimNext = trimRight;
                continue;
            }
            var (tokens, after2, trimR) = Lex(start, open);
            _pos = after2;
            trimNext = trimR;
            _toks = tokens;
            _t = 0;
            var first = _toks[0];
            if (first.Kind == T.End) throw Error(open, "missing value for command");
            if (first.Kind == T.Ident)
            {
                switch (first.Text)
                {
                    case "end":
                        _t++;
                        Expect(T.End, "end");
                        end = ("end", open, 0);
                        return list;
                    case "else":
                        _t++;
                        end = ("else", open, _t);
                        return list;
                    case "if" or "range" or "with":
                        _t++;
                        list.Nodes.Add(ParseBranch(first.Text, open));
                        continue;
                    case "break" or "continue":
                        _t++;
                        Expect(T.End, first.Text);
                        list.Nodes.Add(new BreakNode(open, first.Text == "continue"));
                        continue;
                    case "define" or "template" or "block":
                        throw Error(open, $"{first.Text} is not supported in a format string");
                }
            }
            list.Nodes.Add(new ActionNode(open, ParsePipe("command", open)));
        }
        return list;
    }

    static bool IsSpace(char c) => c is ' ' or '\t' or '\r' or '\n';

    void Expect(T kind, string context)
    {
        if (_toks[_t].Kind != kind) throw Error(_toks[_t].Pos, $"unexpected {Describe(_toks[_t])} in {context}");
        _t++;
    }

    static string Describe(Token t) => t.Kind switch
    {
        T.End => "EOF",
        T.String or T.RawString => $"quoted string",
        _ => $"\"{t.Text}\"",
    };

    int _rangeDepth;

    Node ParseBranch(string kind, int pos)
    {
        _vars.Add([]);
        var pipe = ParsePipe(kind, pos);
        if (kind == "range") _rangeDepth++;
        var list = ParseList(out var end);
        if (kind == "range") _rangeDepth--;
        if (end is null) throw Error(_text.Length, "unexpected EOF");
        ListNode? elseList = null;
        if (end.Value.Word == "else")
        {
            // "else if ..." / "else with ...": a nested branch that shares our {{end}}.
            if (_toks[_t].Kind == T.Ident && _toks[_t].Text == kind && kind is "if" or "with")
            {
                var nestedKind = _toks[_t].Text;
                _t++;
                var nested = ParseBranch(nestedKind, end.Value.Pos);
                elseList = new ListNode(end.Value.Pos, [nested]);
            }
            else
            {
                Expect(T.End, "else");
                elseList = ParseList(out var end2);
                if (end2 is null) throw Error(_text.Length, "unexpected EOF");
                if (end2.Value.Word != "end") throw Error(end2.Value.Pos, "expected end; found {{else}}");
            }
        }
        _vars.RemoveAt(_vars.Count - 1);
        return new BranchNode(pos, kind, pipe, list, elseList);
    }

    PipeNode ParsePipe(string context, int pos)
    {
        var decl = new List<string>();
        bool assign = false;
        // Declarations: $x := / $x = / $k, $v :=
        if (_toks[_t].Kind == T.Variable && !_toks[_t].Text.Contains('.'))
        {
            int save = _t;
            var names = new List<string> { _toks[_t].Text };
            _t++;
            if (_toks[_t].Kind == T.Comma && context == "range" && _toks[_t + 1].Kind == T.Variable)
            {
                names.Add(_toks[_t + 1].Text);
                _t += 2;
            }
            if (_toks[_t].Kind is T.Declare or T.Assign)
            {
                assign = _toks[_t].Kind == T.Assign;
                _t++;
                if (assign)
                {
                    foreach (var n in names)
                        if (!IsDeclared(n)) throw Error(pos, $"undefined variable \"{n}\"");
                }
                else foreach (var n in names) _vars[^1].Add(n);
                decl = names;
            }
            else _t = save;
        }
        var cmds = new List<CommandNode>();
        while (true)
        {
            var cmd = ParseCommand();
            if (cmds.Count > 0 && cmd.Args[0] is StringNode or NumberNode or BoolNode or NilNode or DotNode)
                throw Error(cmd.Pos, $"non executable command in pipeline stage {cmds.Count + 1}");
            cmds.Add(cmd);
            if (_toks[_t].Kind == T.Pipe) { _t++; continue; }
            if (_toks[_t].Kind == T.End || _toks[_t].Kind == T.RParen) break;
            throw Error(_toks[_t].Pos, $"unexpected {Describe(_toks[_t])} in operand");
        }
        if (_toks[_t].Kind == T.RParen && _parenDepth == 0) throw Error(_toks[_t].Pos, "unexpected right paren");
        if (_parenDepth == 0) Expect(T.End, context);
        if (cmds.Count == 0) throw Error(pos, $"missing value for {context}");
        return new PipeNode(pos, decl, assign, cmds);
    }

    int _parenDepth;

    bool IsDeclared(string name) => _vars.Any(s => s.Contains(name));

    CommandNode ParseCommand()
    {
        var cmd = new CommandNode(_toks[_t].Pos, []);
        while (true)
        {
            var tok = _toks[_t];
            if (tok.Kind is T.End or T.Pipe or T.RParen) break;
            cmd.Args.Add(ParseOperand());
        }
        if (cmd.Args.Count == 0) throw Error(_toks[_t].Pos, "missing value for command");
        return cmd;
    }

    Node ParseOperand()
    {
        var tok = _toks[_t++];
        Node term;
        switch (tok.Kind)
        {
            case T.Field:
                // Go places a field chain at its last field (".A.B" is reported at ".B").
                return new FieldNode(tok.Pos + tok.Text.LastIndexOf('.'), tok.Text[1..].Split('.'));
            case T.Variable:
            {
                var parts = tok.Text.Split('.');
                if (!IsDeclared(parts[0])) throw Error(tok.Pos, $"undefined variable \"{parts[0]}\"");
                return new VariableNode(tok.Pos, parts);
            }
            case T.Ident:
                if (tok.Text is "if" or "range" or "with" or "else" or "end" or "break" or "continue" or "define" or "template" or "block")
                    throw Error(tok.Pos, $"unexpected <{tok.Text}> in command");
                if (!_funcs.Contains(tok.Text)) throw Error(tok.Pos, $"function \"{tok.Text}\" not defined");
                return new IdentifierNode(tok.Pos, tok.Text);
            case T.Dot: term = new DotNode(tok.Pos); break;
            case T.Nil: term = new NilNode(tok.Pos); break;
            case T.Bool: term = new BoolNode(tok.Pos, tok.Text == "true"); break;
            case T.Number or T.Char: term = Number(tok); break;
            case T.String: term = new StringNode(tok.Pos, tok.Text, Unquote(tok)); break;
            case T.RawString: term = new StringNode(tok.Pos, tok.Text, tok.Text[1..^1]); break;
            case T.LParen:
                _parenDepth++;
                var pipe = ParsePipe("parenthesized pipeline", tok.Pos);
                _parenDepth--;
                if (_toks[_t].Kind != T.RParen) throw Error(tok.Pos, "unclosed left paren");
                _t++;
                term = pipe;
                break;
            default:
                throw Error(tok.Pos, $"unexpected {Describe(tok)} in operand");
        }
        // (pipe).Field chains and .Field after a literal (Go refuses those at parse time: "unexpected . after term").
        if (_toks[_t].Kind == T.Field && _toks[_t].Pos == EndOf(_toks[_t - 1]))
        {
            var f = _toks[_t++];
            if (term is not PipeNode) throw Error(f.Pos, $"unexpected . after term \"{_toks[_t - 2].Text}\"");
            return new ChainNode(tok.Pos, term, f.Text[1..].Split('.'));
        }
        return term;
    }

    static int EndOf(Token t) => t.Pos + t.Text.Length;

    TemplateParseException BadNumber(Token t) => Error(t.Pos, $"illegal number syntax: \"{t.Text}\"");

    NumberNode Number(Token tok)
    {
        var s = tok.Text;
        if (tok.Kind == T.Char)
        {
            var v = Unquote(tok);
            if (v.Length == 0 || char.ConvertToUtf32(v, 0) is var cp && v.Length != char.ConvertFromUtf32(cp).Length)
                throw Error(tok.Pos, $"malformed character constant: {s}");
            return new NumberNode(tok.Pos, s, char.ConvertToUtf32(v, 0), char.ConvertToUtf32(v, 0));
        }
        var clean = s.Replace("_", "");
        bool neg = clean.StartsWith('-');
        var body = clean.TrimStart('+', '-');
        long? i = null;
        if (body.StartsWith("0x", StringComparison.OrdinalIgnoreCase) && long.TryParse(body[2..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var h)) i = h;
        else if (body.StartsWith("0b", StringComparison.OrdinalIgnoreCase)) { try { i = Convert.ToInt64(body[2..], 2); } catch (FormatException) { throw BadNumber(tok); } }
        else if (body.StartsWith("0o", StringComparison.OrdinalIgnoreCase)) { try { i = Convert.ToInt64(body[2..], 8); } catch (FormatException) { throw BadNumber(tok); } }
        else if (body.Length > 1 && body[0] == '0' && body.All(char.IsAsciiDigit)) { try { i = Convert.ToInt64(body, 8); } catch (FormatException) { throw BadNumber(tok); } }
        else if (long.TryParse(body, NumberStyles.None, CultureInfo.InvariantCulture, out var d)) i = d;
        if (i is { } iv) { if (neg) iv = -iv; return new NumberNode(tok.Pos, s, iv, iv); }
        if (double.TryParse(body, NumberStyles.Float, CultureInfo.InvariantCulture, out var f)) return new NumberNode(tok.Pos, s, null, neg ? -f : f);
        throw BadNumber(tok);
    }

    /// <summary>Go's strconv.Unquote for "..." and '...' literals.</summary>
    string Unquote(Token tok)
    {
        var s = tok.Text;
        var sb = new StringBuilder();
        for (int i = 1; i < s.Length - 1; i++)
        {
            char c = s[i];
            if (c != '\\') { sb.Append(c); continue; }
            char e = s[++i];
            switch (e)
            {
                case 'n': sb.Append('\n'); break;
                case 't': sb.Append('\t'); break;
                case 'r': sb.Append('\r'); break;
                case 'a': sb.Append('\a'); break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                case 'v': sb.Append('\v'); break;
                case '\\': sb.Append('\\'); break;
                case '"': sb.Append('"'); break;
                case '\'': sb.Append('\''); break;
                case 'x': sb.Append((char)Convert.ToInt32(s.Substring(i + 1, 2), 16)); i += 2; break;
                case 'u': sb.Append(char.ConvertFromUtf32(Convert.ToInt32(s.Substring(i + 1, 4), 16))); i += 4; break;
                case 'U': sb.Append(char.ConvertFromUtf32(Convert.ToInt32(s.Substring(i + 1, 8), 16))); i += 8; break;
                case >= '0' and <= '7': sb.Append((char)Convert.ToInt32(s.Substring(i, 3), 8)); i += 2; break;
                default: throw Error(tok.Pos, $"invalid syntax: {s}");
            }
        }
        return sb.ToString();
    }

    /// <summary>The tokens of one action, from <paramref name="start"/> to its "}}" (or " -}}").</summary>
    (List<Token> Tokens, int After, bool TrimRight) Lex(int start, int open)
    {
        var toks = new List<Token>();
        int i = start;
        while (true)
        {
            if (i >= _text.Length) throw Error(open, "unclosed action");
            char c = _text[i];
            if (c == '}' && i + 1 < _text.Length && _text[i + 1] == '}')
            {
                toks.Add(new Token(T.End, "", i));
                return (toks, i + 2, false);
            }
            if (IsSpace(c))
            {
                // " -}}": the right trim marker (newlines inside actions are allowed, as since Go 1.16).
                if (i + 3 < _text.Length && _text[i + 1] == '-' && _text[i + 2] == '}' && _text[i + 3] == '}')
                {
                    toks.Add(new Token(T.End, "", i + 2));
                    return (toks, i + 4, true);
                }
                i++;
                continue;
            }
            int s = i;
            switch (c)
            {
                case '|': toks.Add(new Token(T.Pipe, "|", i++)); continue;
                case '(': toks.Add(new Token(T.LParen, "(", i++)); continue;
                case ')': toks.Add(new Token(T.RParen, ")", i++)); continue;
                case ',': toks.Add(new Token(T.Comma, ",", i++)); continue;
                case ':':
                    if (i + 1 < _text.Length && _text[i + 1] == '=') { toks.Add(new Token(T.Declare, ":=", i)); i += 2; continue; }
                    throw Error(i, "expected :=");
                case '=': toks.Add(new Token(T.Assign, "=", i++)); continue;
                case '"':
                case '\'':
                {
                    i++;
                    while (i < _text.Length && _text[i] != c)
                    {
                        if (_text[i] == '\\') i++;
                        if (i < _text.Length && _text[i] == '\n') throw Error(s, "unterminated quoted string");
                        i++;
                    }
                    if (i >= _text.Length) throw Error(s, c == '"' ? "unterminated quoted string" : "unterminated character constant");
                    i++;
                    toks.Add(new Token(c == '"' ? T.String : T.Char, _text[s..i], s));
                    continue;
                }
                case '`':
                {
                    int close = _text.IndexOf('`', i + 1);
                    if (close < 0) throw Error(s, "unterminated raw quoted string");
                    i = close + 1;
                    toks.Add(new Token(T.RawString, _text[s..i], s));
                    continue;
                }
                case '$':
                    i++;
                    while (i < _text.Length && (IsAlnum(_text[i]) || _text[i] == '.' && i + 1 < _text.Length && IsAlnum(_text[i + 1]))) i++;
                    toks.Add(new Token(T.Variable, _text[s..i], s));
                    continue;
                case '.':
                    if (i + 1 < _text.Length && char.IsAsciiDigit(_text[i + 1])) break; // .5: a number
                    i++;
                    if (i < _text.Length && IsAlnum(_text[i]))
                    {
                        while (i < _text.Length && (IsAlnum(_text[i]) || _text[i] == '.' && i + 1 < _text.Length && IsAlnum(_text[i + 1]))) i++;
                        toks.Add(new Token(T.Field, _text[s..i], s));
                    }
                    else toks.Add(new Token(T.Dot, ".", s));
                    continue;
            }
            if (char.IsAsciiDigit(c) || c is '-' or '+' or '.')
            {
                i++;
                while (i < _text.Length && (char.IsAsciiLetterOrDigit(_text[i]) || _text[i] is '.' or '_' ||
                                            _text[i] is '+' or '-' && (_text[i - 1] is 'e' or 'E' or 'p' or 'P'))) i++;
                toks.Add(new Token(T.Number, _text[s..i], s));
                continue;
            }
            if (IsAlnum(c))
            {
                while (i < _text.Length && IsAlnum(_text[i])) i++;
                var word = _text[s..i];
                toks.Add(new Token(word is "true" or "false" ? T.Bool : word == "nil" ? T.Nil : T.Ident, word, s));
                continue;
            }
            throw Error(i, $"unexpected \"{c}\" in command");
        }
    }

    static bool IsAlnum(char c) => char.IsLetterOrDigit(c) || c == '_';
}
