using System.CommandLine;
using System.Text.Json;
using Gocker.Cli.Templates;

namespace Gocker.Cli.Commands;

/// <summary>inspect (any object: container, then image, then network, as docker looks them up, or
/// --type), container inspect, image inspect, network inspect: the JSON array docker prints, or
/// each object through -f/--format (Go template; "json" for compact JSON).</summary>
public static class InspectCommands
{
    public enum Kind { Any, Container, Image, Network }

    public static Option<string?> FormatOption() => new("--format", "-f")
    {
        Description = "Format output using a Go template ('json' for compact JSON)",
        HelpName = "string",
    };

    /// <summary>An inspect command for <paramref name="kind"/>: NAME... with -f/--format (and --type for Any).</summary>
    public static Command Build(string name, string description, Kind kind, string argName, CliContext ctx, Func<ParseResult, Func<int>, int> guard)
    {
        var names = new Argument<string[]>(argName) { Arity = ArgumentArity.OneOrMore };
        var format = FormatOption();
        var cmd = new Command(name, description) { format, names };
        Option<string?>? type = null;
        if (kind == Kind.Any)
        {
            type = new Option<string?>("--type") { Description = "Only inspect objects of this type (container, image, network)", HelpName = "string" };
            cmd.Add(type);
        }
        var size = new Option<bool>("--size", "-s") { Description = "Display total file sizes (refused: gockerd does not compute them for inspect)" };
        if (kind is Kind.Any or Kind.Container) cmd.Add(size);
        cmd.SetAction(pr => guard(pr, () =>
        {
            if (pr.GetValue(size)) throw new UsageException("--size is not supported by gocker inspect (use gocker system df -v)");
            var k = kind;
            if (type is not null && pr.GetValue(type) is { } t)
                k = t switch
                {
                    "container" => Kind.Container,
                    "image" => Kind.Image,
                    "network" => Kind.Network,
                    _ => throw new UsageException($"\"{t}\" is not a valid value for --type (gocker inspects container, image, network)"),
                };
            return Inspect(ctx, pr.GetValue(names)!, pr.GetValue(format), k);
        }));
        return cmd;
    }

    public static int Inspect(CliContext ctx, string[] names, string? format, Kind kind)
    {
        // The template is checked before any request, as docker does (exit 64 without touching the daemon).
        GoTemplate? template = string.IsNullOrEmpty(format) || format == "json" ? null : FormatOutput.Parse(format, FormatErrors.Inspect);
        var found = new List<JsonDocument>();
        var errors = new List<string>();
        try
        {
            foreach (var name in names)
            {
                var (doc, error) = Fetch(ctx, name, kind);
                if (doc is not null) found.Add(doc);
                else errors.Add(error!);
            }
            var io = ctx.IO;
            if (template is not null)
            {
                // Each object's line; an object the template fails on is an error, the others print.
                var sb = new System.Text.StringBuilder();
                foreach (var d in found)
                {
                    try { sb.Append(FormatOutput.Execute(template, d.RootElement, FormatErrors.Inspect)).Append('\n'); }
                    catch (TemplateFailure e) { errors.Add(e.Message); }
                }
                io.Out.Write(sb.Length == 0 ? "\n" : sb.ToString());
            }
            else
            {
                io.Out.Flush();
                using (var json = new Utf8JsonWriter(io.StdOut, new JsonWriterOptions { Indented = format != "json", IndentSize = 4, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
                {
                    json.WriteStartArray();
                    foreach (var d in found) d.RootElement.WriteTo(json);
                    json.WriteEndArray();
                }
                io.StdOut.Write("\n"u8);
                io.StdOut.Flush();
            }
            foreach (var e in errors) io.Error(e);
            return errors.Count == 0 ? 0 : 1;
        }
        finally
        {
            foreach (var d in found) d.Dispose();
        }
    }

    static (JsonDocument? Doc, string? Error) Fetch(CliContext ctx, string name, Kind kind)
    {
        var tries = kind switch
        {
            Kind.Container => new[] { Kind.Container },
            Kind.Image => [Kind.Image],
            Kind.Network => [Kind.Network],
            _ => [Kind.Container, Kind.Image, Kind.Network],
        };
        foreach (var k in tries)
        {
            try
            {
                byte[] raw = k switch
                {
                    Kind.Container => ctx.Client.InspectRaw(name),
                    Kind.Image => ctx.Client.InspectImageRaw(name),
                    _ => NetworkRaw(ctx, name),
                };
                return (JsonDocument.Parse(raw), null);
            }
            catch (ApiException e) when (e.StatusCode == 404 || (kind == Kind.Any && e.StatusCode == 400))
            {
                // Not this kind (an image lookup answers 400 for a name that cannot be an image reference).
                if (kind != Kind.Any) return (null, kind switch
                {
                    Kind.Container => "Error: No such container: " + name,
                    Kind.Image => "Error: No such image: " + name,
                    _ => "Error: No such network: " + name,
                });
            }
            catch (ApiException e)
            {
                return (null, "Error response from daemon: " + e.Message);
            }
            catch (JsonException e)
            {
                return (null, $"the daemon answered malformed JSON for {name}: {e.Message}");
            }
        }
        return (null, "Error: No such object: " + name);
    }

    static byte[] NetworkRaw(CliContext ctx, string name)
    {
        using var r = ctx.Client.Http.Send("GET", "/networks/" + Uri.EscapeDataString(name));
        GockerClient.EnsureSuccess(r);
        return r.ReadBodyBytes();
    }
}
