using System.Text;
using System.Text.Json;

namespace Gocker.Cli.Templates;

/// <summary>A --format failure as docker reports it: its message (docker's wording for that
/// command) and exit code (64 for a template that does not parse in inspect/info/version, else 1).</summary>
public sealed class TemplateFailure(int exitCode, string message) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}

/// <summary>A docker formatter context (ContainerContext, imageContext, networkContext): ordered
/// fields computed on demand, plus methods with arguments such as .Label "key".</summary>
public sealed class FieldContext(string typeName) : ITemplateObject
{
    readonly List<(string Name, Func<object?> Value)> _fields = [];
    readonly Dictionary<string, Func<IReadOnlyList<object?>, object?>> _methods = new(StringComparer.Ordinal);

    public string TypeName => typeName;

    public FieldContext Add(string name, Func<object?> value) { _fields.Add((name, value)); return this; }
    public FieldContext Method(string name, Func<IReadOnlyList<object?>, object?> call) { _methods[name] = call; return this; }

    public bool TryField(string name, out object? value)
    {
        foreach (var (n, v) in _fields)
            if (n == name) { value = v(); return true; }
        value = null;
        return false;
    }

    public bool TryMethod(string name, IReadOnlyList<object?> args, out object? value)
    {
        value = null;
        if (!_methods.TryGetValue(name, out var m)) return false;
        value = m(args);
        return true;
    }

    public IEnumerable<KeyValuePair<string, object?>> Fields => _fields.Select(f => new KeyValuePair<string, object?>(f.Name, f.Value()));
}

/// <summary>How a command reports template errors (docker's wording differs per command).</summary>
public sealed record FormatErrors(string ParsePrefix, int ParseExit, string ExecPrefix, int ExecExit)
{
    /// <summary>docker ps: "failed to parse template: ...", "failed to execute template: ...", exit 1.</summary>
    public static readonly FormatErrors Ps = new("failed to parse template: ", 1, "failed to execute template: ", 1);
    /// <summary>docker images, network ls, system df: "template parsing error: ..." for both, exit 1.</summary>
    public static readonly FormatErrors Lists = new("template parsing error: ", 1, "template parsing error: ", 1);
    /// <summary>docker inspect: parse errors exit 64, execution errors 1, both "template parsing error: ".</summary>
    public static readonly FormatErrors Inspect = new("template parsing error: ", 64, "template parsing error: ", 1);
    /// <summary>docker info / version: parse errors exit 64, execution errors print Go's error alone, exit 1.</summary>
    public static readonly FormatErrors Info = new("template parsing error: ", 64, "", 1);
}

/// <summary>docker's formatter.Context: "table" formats get a header row (the same template run
/// over the column names, with docker's HeaderFunctions) and columns aligned by a tabwriter
/// (minwidth 10, padding 3); other formats print one line per item; "json" is {{json .}}.</summary>
public static class FormatOutput
{
    public static GoTemplate Parse(string format, FormatErrors errors)
    {
        try { return GoTemplate.Parse(format); }
        catch (TemplateParseException e) { throw new TemplateFailure(errors.ParseExit, errors.ParsePrefix + e.Message); }
    }

    public static string Execute(GoTemplate t, object? data, FormatErrors errors, bool header = false)
    {
        try { return t.Execute(data, header); }
        catch (TemplateExecException e) { throw new TemplateFailure(errors.ExecExit, errors.ExecPrefix + e.Message); }
    }

    /// <summary>Writes <paramref name="items"/> with a user's --format, docker's way.</summary>
    /// <param name="headers">Column titles by field name (docker's FullHeader); a field not listed
    /// shows in upper case.</param>
    public static void WriteList(TextWriter w, string format, IEnumerable<ITemplateObject> items,
        IReadOnlyDictionary<string, string> headers, string defaultTable, FormatErrors errors)
    {
        if (format == "json") format = "{{json .}}";
        bool table = format.StartsWith("table", StringComparison.Ordinal);
        if (table)
        {
            format = format["table".Length..];
            if (format.Trim(' ').Length == 0) format = defaultTable.StartsWith("table", StringComparison.Ordinal) ? defaultTable["table".Length..] : defaultTable;
        }
        format = format.Trim(' ').Replace("\\t", "\t").Replace("\\n", "\n");
        var t = Parse(format, errors);
        var body = new StringBuilder();
        foreach (var item in items) body.Append(Execute(t, item, errors)).Append('\n');
        if (!table)
        {
            w.Write(body.ToString());
            return;
        }
        string headerLine;
        try { headerLine = GoTemplate.Parse(format).Execute(new HeaderObject(headers), header: true); }
        catch (TemplateExecException) { headerLine = ""; }
        w.Write(TabWriter(headerLine + "\n" + body));
    }

    /// <summary>The header row's data: any field gives its column title.</summary>
    sealed class HeaderObject(IReadOnlyDictionary<string, string> headers) : ITemplateObject
    {
        public string TypeName => "header";
        public bool TryField(string name, out object? value) { value = headers.GetValueOrDefault(name) ?? name.ToUpperInvariant(); return true; }
        public bool TryMethod(string name, IReadOnlyList<object?> args, out object? value) { value = headers.GetValueOrDefault(name) ?? name.ToUpperInvariant(); return true; }
        public IEnumerable<KeyValuePair<string, object?>> Fields => headers.Select(h => new KeyValuePair<string, object?>(h.Key, h.Value));
    }

    /// <summary>Go's text/tabwriter with docker's settings (minwidth 10, tabwidth 1, padding 3, ' '):
    /// a tab ends a cell; a column is as wide as its widest cell plus 3, at least 10; the text after
    /// a line's last tab is not aligned.</summary>
    public static string TabWriter(string text)
    {
        var lines = text.Split('\n');
        var cells = lines.Select(l => l.Split('\t')).ToList();
        var sb = new StringBuilder();
        // Go aligns column j over each run of consecutive lines that have a cell j (ended by a tab).
        var widths = new int[cells.Count][];
        for (int i = 0; i < cells.Count; i++) widths[i] = new int[Math.Max(0, cells[i].Length - 1)];
        int maxCols = cells.Max(c => c.Length - 1);
        for (int col = 0; col < maxCols; col++)
        {
            int i = 0;
            while (i < cells.Count)
            {
                if (cells[i].Length - 1 <= col) { i++; continue; }
                int start = i, width = 10;
                while (i < cells.Count && cells[i].Length - 1 > col)
                {
                    width = Math.Max(width, RuneWidth(cells[i][col]) + 3);
                    i++;
                }
                for (int k = start; k < i; k++) widths[k][col] = width;
            }
        }
        for (int i = 0; i < cells.Count; i++)
        {
            for (int col = 0; col < cells[i].Length; col++)
            {
                sb.Append(cells[i][col]);
                if (col < cells[i].Length - 1) sb.Append(' ', widths[i][col] - RuneWidth(cells[i][col]));
            }
            if (i < cells.Count - 1) sb.Append('\n');
        }
        return sb.ToString();
    }

    static int RuneWidth(string s) => s.EnumerateRunes().Count();

    /// <summary>inspect --format: the template on each JSON answer, one line each (docker's
    /// TemplateInspector); with no answer at all, one empty line as docker prints.</summary>
    public static string Inspect(string format, IEnumerable<JsonElement> elements)
    {
        var t = Parse(format, FormatErrors.Inspect);
        var sb = new StringBuilder();
        foreach (var e in elements) sb.Append(Execute(t, e, FormatErrors.Inspect)).Append('\n');
        return sb.Length == 0 ? "\n" : sb.ToString();
    }
}

/// <summary>docker's imageContext and networkContext for `images --format` and `network ls --format`.</summary>
public static class ListContexts
{
    public static readonly Dictionary<string, string> ImageHeaders = new(StringComparer.Ordinal)
    {
        ["ID"] = "IMAGE ID", ["Repository"] = "REPOSITORY", ["Tag"] = "TAG", ["Digest"] = "DIGEST",
        ["CreatedSince"] = "CREATED", ["CreatedAt"] = "CREATED AT", ["Size"] = "SIZE", ["Containers"] = "CONTAINERS",
        ["VirtualSize"] = "VIRTUAL SIZE", ["SharedSize"] = "SHARED SIZE", ["UniqueSize"] = "UNIQUE SIZE",
    };

    public const string ImageTable = "table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}\\t{{.CreatedSince}}\\t{{.Size}}";

    /// <summary>One row per repository:tag, as `docker images` lists them ("&lt;none&gt;" for an untagged image).</summary>
    public static IEnumerable<ITemplateObject> Images(IEnumerable<Gocker.Api.ImageSummary> images, DateTimeOffset now, bool noTrunc)
    {
        foreach (var image in images)
        {
            var tags = image.RepoTags.Count > 0 ? image.RepoTags : ["<none>:<none>"];
            foreach (var t in tags)
            {
                int colon = t.LastIndexOf(':');
                bool hasTag = colon > t.LastIndexOf('/') && colon > 0;
                var repo = hasTag ? t[..colon] : t;
                var tag = hasTag ? t[(colon + 1)..] : "<none>";
                yield return new FieldContext("*formatter.imageContext")
                    .Add("Containers", () => "N/A")
                    .Add("CreatedAt", () => PsTemplate.GoTime(DateTimeOffset.FromUnixTimeSeconds(image.Created)))
                    .Add("CreatedSince", () => Format.Ago(image.Created, now))
                    .Add("Digest", () => "<none>")
                    .Add("ID", () => noTrunc ? image.Id : Format.ShortId(image.Id))
                    .Add("Repository", () => repo)
                    .Add("SharedSize", () => "N/A")
                    .Add("Size", () => Format.HumanSize(image.Size))
                    .Add("Tag", () => tag)
                    .Add("UniqueSize", () => "N/A")
                    .Add("VirtualSize", () => Format.HumanSize(image.Size));
            }
        }
    }

    public static readonly Dictionary<string, string> NetworkHeaders = new(StringComparer.Ordinal)
    {
        ["ID"] = "NETWORK ID", ["Name"] = "NAME", ["Driver"] = "DRIVER", ["Scope"] = "SCOPE", ["IPv6"] = "IPV6",
        ["IPv4"] = "IPV4", ["Internal"] = "INTERNAL", ["Labels"] = "LABELS", ["Label"] = "LABEL", ["CreatedAt"] = "CREATED AT",
    };

    public const string NetworkTable = "table {{.ID}}\\t{{.Name}}\\t{{.Driver}}\\t{{.Scope}}";

    /// <summary>docker's networkContext over one /networks answer item.</summary>
    public static ITemplateObject Network(JsonElement n, bool noTrunc)
    {
        string S(string name) => n.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : "";
        string B(string name) => n.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.True ? "true" : "false";
        Dictionary<string, string> Labels()
        {
            var d = new Dictionary<string, string>(StringComparer.Ordinal);
            if (n.TryGetProperty("Labels", out var l) && l.ValueKind == JsonValueKind.Object)
                foreach (var p in l.EnumerateObject()) d[p.Name] = p.Value.GetString() ?? "";
            return d;
        }
        return new FieldContext("*network.networkContext")
            .Add("ID", () => noTrunc ? S("Id") : Format.ShortId(S("Id")))
            .Add("Name", () => S("Name"))
            .Add("Driver", () => S("Driver"))
            .Add("Scope", () => S("Scope"))
            .Add("IPv4", () => n.TryGetProperty("EnableIPv4", out var v4) && v4.ValueKind == JsonValueKind.False ? "false" : "true")
            .Add("IPv6", () => B("EnableIPv6"))
            .Add("Internal", () => B("Internal"))
            .Add("Labels", () => string.Join(",", Labels().OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => l.Key + "=" + l.Value)))
            .Add("CreatedAt", () => DateTimeOffset.TryParse(S("Created"), System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out var t) ? PsTemplate.GoTime(t) : S("Created"))
            .Method("Label", a => a.Count == 1 && a[0] is string k ? Labels().GetValueOrDefault(k, "") : "");
    }
}
