using System.CommandLine;
using System.Formats.Tar;
using System.IO.Pipes;
using System.Text.Json;
using Gocker.Api;

namespace Gocker.Cli.Commands;

/// <summary>`gocker build`: the context (a directory, sent as a tar made on the fly, or a tar on
/// stdin with "-") to POST /build, the daemon's progress stream printed as it comes. The daemon
/// applies .dockerignore and refuses what it does not implement (exit 125 then, as for usage).</summary>
public static class BuildCommand
{
    public static Command Build(CliContext ctx, ImageCommandTree.Guarded guard)
    {
        var tags = new Option<string[]>("--tag", "-t") { Description = "Name and optionally a tag (name:tag); repeatable", AllowMultipleArgumentsPerToken = false };
        var file = new Option<string?>("--file", "-f") { Description = "Name of the Dockerfile (default: CONTEXT/Dockerfile)" };
        var buildArgs = new Option<string[]>("--build-arg") { Description = "Set build-time variables (K=V, or K to take it from the environment)", AllowMultipleArgumentsPerToken = false };
        var target = new Option<string?>("--target") { Description = "Set the target build stage to build" };
        var noCache = new Option<bool>("--no-cache") { Description = "Do not use cache when building the image" };
        var pull = new Option<bool>("--pull") { Description = "Always attempt to pull a newer version of the image (not supported: refused)" };
        var labels = new Option<string[]>("--label") { Description = "Set metadata for an image (K=V)", AllowMultipleArgumentsPerToken = false };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Suppress the build output and print image ID on success" };
        var network = new Option<string?>("--network") { Description = "Networking mode for the RUN instructions (default, none, host, or a network)" };
        var rm = new Option<bool>("--rm") { Description = "Remove intermediate containers after a successful build", DefaultValueFactory = _ => true };
        var forceRm = new Option<bool>("--force-rm") { Description = "Always remove intermediate containers" };
        var platform = new Option<string?>("--platform") { Description = "Set platform (only the host's)" };
        var context = new Argument<string>("CONTEXT") { Description = "A directory, or - for a tar on stdin" };
        var cmd = new Command("build", "Build an image from a Dockerfile")
            { tags, file, buildArgs, target, noCache, pull, labels, quiet, network, rm, forceRm, platform, context };
        cmd.SetAction(pr => guard(pr, () => Run(ctx, pr.GetValue(context)!, pr.GetValue(tags) ?? [], pr.GetValue(file), pr.GetValue(buildArgs) ?? [],
            pr.GetValue(target), pr.GetValue(noCache), pr.GetValue(pull), pr.GetValue(labels) ?? [], pr.GetValue(quiet), pr.GetValue(network),
            pr.GetValue(rm), pr.GetValue(forceRm), pr.GetValue(platform))));
        return cmd;
    }

    static string Esc(string s) => Uri.EscapeDataString(s);

    static string JsonObject(IEnumerable<KeyValuePair<string, string?>> items)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            foreach (var (k, v) in items)
            {
                if (v is null) w.WriteNull(k);
                else w.WriteString(k, v);
            }
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(ms.ToArray());
    }

    public static int Run(CliContext ctx, string context, string[] tags, string? file, string[] buildArgs, string? target, bool noCache, bool pull,
        string[] labels, bool quiet, string? network, bool rm, bool forceRm, string? platform)
    {
        var q = new List<string>();
        foreach (var t in tags) q.Add("t=" + Esc(t));
        string? extraName = null;
        string? dockerfileHost = null;
        if (file is not null)
        {
            if (context == "-") q.Add("dockerfile=" + Esc(file));
            else
            {
                // Inside the context: its path there; outside: sent along under a name of its own (as docker's CLI does).
                var full = Path.GetFullPath(file);
                var ctxFull = Path.GetFullPath(context).TrimEnd('/');
                if (full.StartsWith(ctxFull + "/", StringComparison.Ordinal)) q.Add("dockerfile=" + Esc(Path.GetRelativePath(ctxFull, full)));
                else
                {
                    if (!File.Exists(full)) throw new UsageException($"unable to prepare context: the Dockerfile ({file}) cannot be read");
                    extraName = ".dockerfile." + Guid.NewGuid().ToString("N")[..12];
                    dockerfileHost = full;
                    q.Add("dockerfile=" + Esc(extraName));
                }
            }
        }
        var args = new List<KeyValuePair<string, string?>>();
        foreach (var a in buildArgs)
        {
            int eq = a.IndexOf('=');
            // "K" alone takes K from the environment, and is left out when it is not set (docker's rule).
            if (eq < 0) { if (ctx.GetEnv(a) is { } v) args.Add(new(a, v)); }
            else args.Add(new(a[..eq], a[(eq + 1)..]));
        }
        if (args.Count > 0) q.Add("buildargs=" + Esc(JsonObject(args)));
        var lbls = new List<KeyValuePair<string, string?>>();
        foreach (var l in labels)
        {
            int eq = l.IndexOf('=');
            lbls.Add(eq < 0 ? new(l, "") : new(l[..eq], l[(eq + 1)..]));
        }
        if (lbls.Count > 0) q.Add("labels=" + Esc(JsonObject(lbls)));
        if (target is not null) q.Add("target=" + Esc(target));
        if (noCache) q.Add("nocache=1");
        if (pull) q.Add("pull=1");
        if (quiet) q.Add("q=1");
        if (network is not null) q.Add("networkmode=" + Esc(network));
        q.Add("rm=" + (rm ? "1" : "0"));
        if (forceRm) q.Add("forcerm=1");
        if (platform is not null) q.Add("platform=" + Esc(platform));
        var path = "/build?" + string.Join('&', q);

        Stream body;
        Thread? producer = null;
        Exception? failure = null;
        AnonymousPipeServerStream? server = null;
        if (context == "-")
        {
            if (!Console.IsInputRedirected) throw new UsageException("the context is '-' but stdin is a terminal: pipe a tar of the context");
            body = Console.OpenStandardInput();
        }
        else
        {
            if (!Directory.Exists(context)) throw new UsageException($"unable to prepare context: path \"{context}\" not found");
            server = new AnonymousPipeServerStream(PipeDirection.Out);
            body = new AnonymousPipeClientStream(PipeDirection.In, server.ClientSafePipeHandle);
            var srv = server;
            producer = new Thread(() =>
            {
                try
                {
                    using var w = new TarWriter(srv, TarEntryFormat.Pax, leaveOpen: true);
                    AddTree(w, Path.GetFullPath(context), "");
                    if (dockerfileHost is not null) w.WriteEntry(dockerfileHost, extraName!);
                }
                catch (IOException) when (failure is null) { /* the daemon answered early and closed */ }
                catch (Exception e) { failure = e; }
                finally { srv.Dispose(); }
            }) { IsBackground = true };
            producer.Start();
        }
        try
        {
            using var r = ctx.Client.Http.SendStreaming("POST", path, body, "application/x-tar");
            if (!r.IsSuccess)
            {
                try { GockerClient.EnsureSuccess(r); }
                catch (ApiException e) when (e.StatusCode is 400 or 413)
                {
                    ctx.IO.Error("Error response from daemon: " + e.Message);
                    return CliApp.ExitUsage;
                }
            }
            producer?.Join();
            if (failure is not null) throw new UsageException($"cannot read the context {context}: {failure.Message}");
            using var reader = new StreamReader(r.Body);
            string? line;
            while ((line = reader.ReadLine()) is not null)
            {
                if (line.Length == 0) continue;
                JsonMessage? m;
                try { m = JsonSerializer.Deserialize(line, GockerImageJson.Default.JsonMessage); }
                catch (JsonException) { ctx.IO.Out.WriteLine(line); continue; }
                if (m?.Error is { } err)
                {
                    ctx.IO.Out.Flush();
                    ctx.IO.Error(err);
                    return 1;
                }
                if (m?.Stream is { } s)
                {
                    ctx.IO.Out.Write(s);
                    ctx.IO.Out.Flush();
                }
            }
            return 0;
        }
        finally
        {
            body.Dispose();
            server?.Dispose();
        }
    }

    /// <summary>The context directory as tar entries (links as links, never followed).</summary>
    static void AddTree(TarWriter w, string dir, string prefix)
    {
        foreach (var e in Directory.EnumerateFileSystemEntries(dir).Order(StringComparer.Ordinal))
        {
            var name = prefix + Path.GetFileName(e);
            var info = new FileInfo(e);
            if (info.LinkTarget is null && Directory.Exists(e))
            {
                w.WriteEntry(e, name + "/");
                AddTree(w, e, name + "/");
            }
            else if (info.LinkTarget is not null || info.Exists) w.WriteEntry(e, name);
        }
    }
}
