using System.Text;
using System.Text.Json;

namespace Gocker.Images.Build;

/// <summary>A Dockerfile that does not parse; the message names the line.</summary>
public sealed class DockerfileParseException(int line, string message)
    : Exception(line > 0 ? $"Dockerfile parse error line {line}: {message}" : $"Dockerfile parse error: {message}")
{
    public int Line { get; } = line;
}

/// <summary>One instruction as written: its keyword (upper case), its --flags, and its arguments
/// either as a JSON array (exec form) or as the text after the flags (shell form). Variables are not
/// expanded here: their values depend on the ARG/ENV state when the step runs (the builder does it).</summary>
public sealed record DockerfileInstruction(int Line, string Keyword, IReadOnlyList<KeyValuePair<string, string>> Flags,
    string Rest, IReadOnlyList<string>? Json, string Original)
{
    public string? Flag(string name) => Flags.LastOrDefault(f => f.Key == name).Value;
    public bool IsJson => Json is not null;
}

/// <summary>A FROM and the instructions up to the next FROM.</summary>
public sealed record DockerfileStage(int Index, DockerfileInstruction From, string? Name, IReadOnlyList<DockerfileInstruction> Instructions);

/// <summary>A parsed Dockerfile: the ARGs before the first FROM (global), then the stages.</summary>
public sealed record Dockerfile(IReadOnlyList<DockerfileInstruction> GlobalArgs, IReadOnlyList<DockerfileStage> Stages, char Escape)
{
    static readonly HashSet<string> Known = new(StringComparer.Ordinal)
    {
        "FROM", "RUN", "COPY", "ADD", "ENV", "ARG", "WORKDIR", "USER", "CMD", "ENTRYPOINT", "EXPOSE", "LABEL",
        "VOLUME", "HEALTHCHECK", "STOPSIGNAL", "SHELL", "ONBUILD", "MAINTAINER",
    };
    /// <summary>Instructions whose leading --name[=value] words are flags (Docker's per-instruction set).</summary>
    static readonly Dictionary<string, string[]> AllowedFlags = new(StringComparer.Ordinal)
    {
        ["FROM"] = ["platform"],
        ["RUN"] = [],
        ["COPY"] = ["from", "chown", "chmod", "link", "parents", "exclude"],
        ["ADD"] = ["chown", "chmod", "link", "keep-git-dir", "checksum", "exclude"],
        ["HEALTHCHECK"] = ["interval", "timeout", "start-period", "start-interval", "retries"],
    };

    public static Dockerfile Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var lines = text.Replace("\r\n", "\n").Split('\n');
        char escape = '\\';
        int i = 0;
        // Parser directives: "# name=value" lines at the very top, before any other line or comment.
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (; i < lines.Length; i++)
        {
            var t = lines[i].Trim();
            if (!t.StartsWith('#')) break;
            var body = t[1..].Trim();
            int eq = body.IndexOf('=');
            if (eq <= 0) break;
            var name = body[..eq].Trim().ToLowerInvariant();
            if (name.Contains(' ')) break;
            var value = body[(eq + 1)..].Trim();
            if (name is not ("escape" or "syntax" or "check")) break; // an ordinary comment
            if (!seen.Add(name)) throw new DockerfileParseException(i + 1, $"only one {name} parser directive can be used");
            if (name == "escape")
            {
                if (value is not ("\\" or "`")) throw new DockerfileParseException(i + 1, $"invalid escape token '{value}' does not match ` or \\");
                escape = value[0];
            }
            // syntax (a BuildKit frontend image) and check are ignored by the classic builder, as Docker's is.
        }

        var instructions = new List<DockerfileInstruction>();
        for (; i < lines.Length; i++)
        {
            var raw = lines[i];
            var trimmed = raw.TrimStart();
            if (trimmed.Length == 0 || trimmed.StartsWith('#')) continue;
            int start = i;
            var sb = new StringBuilder();
            var line = raw.TrimEnd();
            // Continuations: a line ending in the escape character goes on; comment and empty lines
            // inside a continued instruction are dropped (Docker's rule).
            while (line.EndsWith(escape))
            {
                sb.Append(line, 0, line.Length - 1);
                i++;
                while (i < lines.Length && (lines[i].Trim().Length == 0 || lines[i].TrimStart().StartsWith('#'))) i++;
                if (i >= lines.Length) { line = ""; break; }
                line = lines[i].TrimEnd();
            }
            sb.Append(line);
            instructions.Add(ParseInstruction(start + 1, sb.ToString().Trim(), escape));
        }

        var globals = new List<DockerfileInstruction>();
        var stages = new List<DockerfileStage>();
        DockerfileInstruction? from = null;
        string? stageName = null;
        var body2 = new List<DockerfileInstruction>();
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var ins in instructions)
        {
            if (ins.Keyword == "FROM")
            {
                if (from is not null) stages.Add(new DockerfileStage(stages.Count, from, stageName, body2));
                from = ins;
                body2 = [];
                stageName = ParseFromName(ins);
                if (stageName is not null && !names.Add(stageName))
                    throw new DockerfileParseException(ins.Line, $"duplicate stage name \"{stageName}\"");
                continue;
            }
            if (from is null)
            {
                if (ins.Keyword != "ARG") throw new DockerfileParseException(ins.Line, $"{ins.Keyword} before the first FROM (only ARG may come first)");
                globals.Add(ins);
                continue;
            }
            body2.Add(ins);
        }
        if (from is null) throw new DockerfileParseException(0, "the Dockerfile has no FROM (file with no instructions)");
        stages.Add(new DockerfileStage(stages.Count, from, stageName, body2));
        return new Dockerfile(globals, stages, escape);
    }

    static string? ParseFromName(DockerfileInstruction ins)
    {
        var words = ShellWords.Split(ins.Rest, '\\');
        if (words.Count == 1) return null;
        if (words.Count == 3 && words[1].Equals("AS", StringComparison.OrdinalIgnoreCase))
        {
            var n = words[2];
            if (n.Length == 0 || !char.IsAsciiLetter(n[0]) || !n.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
                throw new DockerfileParseException(ins.Line, $"invalid name for build stage: \"{n}\", name can't start with a number or contain symbols");
            return n.ToLowerInvariant();
        }
        throw new DockerfileParseException(ins.Line, "FROM requires either one or three arguments (FROM IMAGE [AS NAME])");
    }

    /// <summary>One logical line (continuations joined) into an instruction.</summary>
    public static DockerfileInstruction ParseInstruction(int line, string text, char escape = '\\')
    {
        int sp = 0;
        while (sp < text.Length && !char.IsWhiteSpace(text[sp])) sp++;
        var keyword = text[..sp].ToUpperInvariant();
        if (!Known.Contains(keyword)) throw new DockerfileParseException(line, $"unknown instruction: {text[..sp]}");
        var rest = text[sp..].TrimStart();
        var flags = new List<KeyValuePair<string, string>>();
        if (AllowedFlags.TryGetValue(keyword, out var allowed))
        {
            while (rest.StartsWith("--", StringComparison.Ordinal))
            {
                int end = 0;
                while (end < rest.Length && !char.IsWhiteSpace(rest[end])) end++;
                var word = rest[2..end];
                rest = rest[end..].TrimStart();
                if (word.Length == 0) break; // "--" ends the flags
                int eq = word.IndexOf('=');
                var name = eq < 0 ? word : word[..eq];
                var value = eq < 0 ? "" : word[(eq + 1)..];
                // RUN's flags (--mount, --network, --security) are BuildKit's: refused, named.
                if (!allowed.Contains(name)) throw new DockerfileParseException(line, $"unknown flag: --{name} ({keyword} takes {(allowed.Length == 0 ? "no flags in the classic builder" : string.Join(", ", allowed.Select(a => "--" + a)))})");
                flags.Add(new(name, value));
            }
        }
        if (keyword == "ONBUILD")
        {
            if (rest.Length == 0) throw new DockerfileParseException(line, "ONBUILD requires an instruction");
            var inner = ParseInstruction(line, rest, escape);
            if (inner.Keyword is "ONBUILD" or "FROM" or "MAINTAINER")
                throw new DockerfileParseException(line, $"{inner.Keyword} isn't allowed as an ONBUILD trigger");
            return new DockerfileInstruction(line, keyword, flags, rest, null, text);
        }
        IReadOnlyList<string>? json = null;
        if (rest.StartsWith('[') && keyword is "RUN" or "CMD" or "ENTRYPOINT" or "SHELL" or "COPY" or "ADD" or "VOLUME" or "HEALTHCHECK")
            json = TryJson(rest);
        if (keyword == "SHELL" && json is null) throw new DockerfileParseException(line, "SHELL requires the arguments to be in JSON form");
        if (rest.Length == 0 && keyword is not ("RUN" or "CMD" or "ENTRYPOINT"))
            throw new DockerfileParseException(line, $"{keyword} requires at least one argument");
        return new DockerfileInstruction(line, keyword, flags, rest, json, text);
    }

    static List<string>? TryJson(string s)
    {
        try
        {
            using var doc = JsonDocument.Parse(s);
            if (doc.RootElement.ValueKind != JsonValueKind.Array) return null;
            var list = new List<string>();
            foreach (var e in doc.RootElement.EnumerateArray())
            {
                if (e.ValueKind != JsonValueKind.String) return null;
                list.Add(e.GetString()!);
            }
            return list;
        }
        catch (JsonException) { return null; } // not JSON: the shell form, as Docker falls back
    }

    /// <summary>The stages the target needs, in order (the target and those it names in FROM or
    /// COPY --from, transitively); other stages are skipped, as Docker's classic builder does.</summary>
    public IReadOnlyList<DockerfileStage> StagesFor(string? target)
    {
        int last = Stages.Count - 1;
        if (!string.IsNullOrEmpty(target))
        {
            last = Stages.ToList().FindIndex(s => string.Equals(s.Name, target, StringComparison.OrdinalIgnoreCase));
            if (last < 0) throw new DockerfileParseException(0, $"failed to reach build target {target} in Dockerfile");
        }
        return Stages.Take(last + 1).ToList();
    }
}

/// <summary>Docker's shell-word processing (moby/buildkit frontend/dockerfile/shell): word splitting
/// with quotes, escapes, and $VAR, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:+alt}, ${VAR+alt}.</summary>
public static class ShellWords
{
    /// <summary>Splits on unquoted whitespace, keeping quotes and escapes in the words (for
    /// <see cref="Expand"/> later).</summary>
    public static List<string> Split(string s, char escape)
    {
        var words = new List<string>();
        var sb = new StringBuilder();
        char quote = '\0';
        bool inWord = false;
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (quote == '\0' && char.IsWhiteSpace(c))
            {
                if (inWord) { words.Add(sb.ToString()); sb.Clear(); inWord = false; }
                continue;
            }
            inWord = true;
            if (c == escape && quote != '\'' && i + 1 < s.Length) { sb.Append(c).Append(s[++i]); continue; }
            if (quote == '\0' && c is '"' or '\'') quote = c;
            else if (quote == c) quote = '\0';
            sb.Append(c);
        }
        if (inWord) words.Add(sb.ToString());
        return words;
    }

    /// <summary>One word: quotes removed, escapes resolved, variables expanded from env.</summary>
    public static string Expand(string word, Func<string, string?> env, char escape = '\\')
    {
        var sb = new StringBuilder();
        int i = 0;
        ExpandInto(word, ref i, sb, env, escape, '\0', stopAtBrace: false);
        return sb.ToString();
    }

    /// <summary>Splits then expands each word (COPY sources, EXPOSE ports, VOLUME paths...).</summary>
    public static List<string> ExpandWords(string s, Func<string, string?> env, char escape = '\\') =>
        Split(s, escape).Select(w => Expand(w, env, escape)).ToList();

    static void ExpandInto(string s, ref int i, StringBuilder sb, Func<string, string?> env, char escape, char quote, bool stopAtBrace)
    {
        while (i < s.Length)
        {
            char c = s[i];
            if (stopAtBrace && c == '}' && quote == '\0') return;
            if (quote == '\'')
            {
                if (c == '\'') { quote = '\0'; i++; continue; }
                sb.Append(c); i++; continue;
            }
            if (c == escape && i + 1 < s.Length)
            {
                char n = s[i + 1];
                // Inside double quotes only $, ", the escape and a newline are escaped (as in sh).
                if (quote == '"' && n != '$' && n != '"' && n != escape) sb.Append(c);
                sb.Append(n);
                i += 2;
                continue;
            }
            if (c == '\'' && quote == '\0' && !stopAtBrace) { quote = '\''; i++; continue; }
            if (c == '"') { quote = quote == '"' ? '\0' : '"'; i++; continue; }
            if (c == '$' && i + 1 < s.Length)
            {
                i++;
                sb.Append(Variable(s, ref i, env, escape));
                continue;
            }
            sb.Append(c);
            i++;
        }
    }

    static string Variable(string s, ref int i, Func<string, string?> env, char escape)
    {
        if (s[i] == '{')
        {
            i++;
            int nameStart = i;
            while (i < s.Length && (char.IsAsciiLetterOrDigit(s[i]) || s[i] == '_')) i++;
            var name = s[nameStart..i];
            if (name.Length == 0) throw new FormatException($"bad substitution: {s}");
            if (i >= s.Length) throw new FormatException($"missing '}}' in {s}");
            if (s[i] == '}') { i++; return env(name) ?? ""; }
            bool colon = s[i] == ':';
            if (colon) i++;
            if (i >= s.Length) throw new FormatException($"missing '}}' in {s}");
            char op = s[i++];
            if (op is not ('-' or '+')) throw new FormatException($"unsupported modifier ({(colon ? ":" : "")}{op}) in substitution: {s}");
            var word = new StringBuilder();
            ExpandInto(s, ref i, word, env, escape, '\0', stopAtBrace: true);
            if (i >= s.Length || s[i] != '}') throw new FormatException($"missing '}}' in {s}");
            i++;
            var value = env(name);
            bool set = value is not null && (!colon || value.Length > 0);
            return op == '-' ? (set ? value! : word.ToString()) : (set ? word.ToString() : "");
        }
        int start = i;
        while (i < s.Length && (char.IsAsciiLetterOrDigit(s[i]) || s[i] == '_')) i++;
        if (i == start) return "$"; // a lone $ stays
        return env(s[start..i]) ?? "";
    }

    /// <summary>ENV/LABEL/ARG: "K=V K2=V2" (each value expanded), or the legacy "K V with spaces".</summary>
    public static List<KeyValuePair<string, string>> KeyValues(string rest, Func<string, string?> env, char escape, bool allowLegacy, bool valueOptional = false)
    {
        var words = Split(rest, escape);
        var result = new List<KeyValuePair<string, string>>();
        if (words.Count == 0) return result;
        if (!words[0].Contains('=') && allowLegacy && words.Count > 1)
        {
            // Legacy form: the key, then everything after the first whitespace, expanded as one word.
            var key = words[0];
            var value = rest.TrimStart()[key.Length..].Trim();
            result.Add(new(key, Expand(value, env, escape)));
            return result;
        }
        foreach (var w in words)
        {
            int eq = w.IndexOf('=');
            if (eq < 0)
            {
                if (!valueOptional) throw new FormatException($"{w}: expected KEY=VALUE");
                result.Add(new(Expand(w, env, escape), null!));
                continue;
            }
            var k = Expand(w[..eq], env, escape);
            if (k.Length == 0) throw new FormatException($"{w}: the name is empty");
            result.Add(new(k, Expand(w[(eq + 1)..], env, escape)));
        }
        return result;
    }
}
