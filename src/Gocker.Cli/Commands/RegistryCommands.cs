using System.CommandLine;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Gocker.Api;
using Gocker.Cli.Http;

namespace Gocker.Cli.Commands;

/// <summary>pull, push, login, logout, and the pull that run/create do for an absent image (--pull).</summary>
public static class RegistryCommands
{
    public static void Register(Command root, Func<ParseResult, Func<int>, int> guard, CliContext ctx)
    {
        var platform = new Option<string?>("--platform") { Description = "Set platform if server is multi-platform capable (os/arch[/variant])", HelpName = "string" };
        var all = new Option<bool>("--all-tags", "-a") { Description = "Download all tagged images in the repository" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Suppress verbose output" };
        var name = new Argument<string>("NAME[:TAG|@DIGEST]");
        var pull = new Command("pull", "Download an image from a registry") { platform, all, quiet, name };
        pull.SetAction(pr => guard(pr, () => Pull(ctx, pr.GetValue(name)!, pr.GetValue(platform), pr.GetValue(all), pr.GetValue(quiet), ctx.IO.Out)));

        var pushQuiet = new Option<bool>("--quiet", "-q") { Description = "Suppress verbose output" };
        var pushName = new Argument<string>("NAME[:TAG]");
        var push = new Command("push", "Upload an image to a registry") { pushQuiet, pushName };
        push.SetAction(pr => guard(pr, () => Push(ctx, pr.GetValue(pushName)!, pr.GetValue(pushQuiet))));

        var user = new Option<string?>("--username", "-u") { Description = "Username", HelpName = "string" };
        var pass = new Option<string?>("--password", "-p") { Description = "Password (insecure: prefer --password-stdin)", HelpName = "string" };
        var passStdin = new Option<bool>("--password-stdin") { Description = "Take the password from stdin" };
        var server = new Argument<string?>("SERVER") { Arity = ArgumentArity.ZeroOrOne };
        var login = new Command("login", "Log in to a registry") { user, pass, passStdin, server };
        login.SetAction(pr => guard(pr, () => Login(ctx, pr.GetValue(server), pr.GetValue(user), pr.GetValue(pass), pr.GetValue(passStdin))));

        var logoutServer = new Argument<string?>("SERVER") { Arity = ArgumentArity.ZeroOrOne };
        var logout = new Command("logout", "Log out from a registry") { logoutServer };
        logout.SetAction(pr => guard(pr, () => Logout(ctx, pr.GetValue(logoutServer))));

        root.Add(pull);
        root.Add(push);
        root.Add(login);
        root.Add(logout);
        foreach (var c in root.Subcommands.Where(c => c.Name == "image"))
        {
            var ipull = new Command("pull", pull.Description) { platform, all, quiet, name };
            ipull.Action = pull.Action;
            var ipush = new Command("push", push.Description) { pushQuiet, pushName };
            ipush.Action = push.Action;
            c.Add(ipull);
            c.Add(ipush);
        }
    }

    // ---- names ----

    /// <summary>The registry of a reference, by Docker's rule (a first component with '.' or ':', or "localhost").</summary>
    internal static string RegistryOf(string reference)
    {
        var name = reference.Split('@')[0];
        int slash = name.IndexOf('/');
        if (slash <= 0) return "docker.io";
        var first = name[..slash];
        return first.Contains('.') || first.Contains(':') || first == "localhost" || first.Any(char.IsUpper)
            ? (first is "index.docker.io" or "registry-1.docker.io" ? "docker.io" : first) : "docker.io";
    }

    static bool HasTagOrDigest(string name)
    {
        if (name.Contains('@')) return true;
        int colon = name.LastIndexOf(':');
        return colon >= 0 && name.IndexOf('/', colon) < 0;
    }

    /// <summary>"x" -> "x:latest" (what docker prints in "Unable to find image ..." and after a pull).</summary>
    internal static string WithTag(string name) => HasTagOrDigest(name) ? name : name + ":latest";

    // ---- credentials (Docker's config.json "auths") ----

    internal static string ConfigDir(CliContext ctx) =>
        ctx.GetEnv("GOCKER_CONFIG") is { Length: > 0 } d ? d : Path.Combine(ctx.GetEnv("HOME") ?? "/root", ".gocker");

    static string DockerConfigDir(CliContext ctx) =>
        ctx.GetEnv("DOCKER_CONFIG") is { Length: > 0 } d ? d : Path.Combine(ctx.GetEnv("HOME") ?? "/root", ".docker");

    /// <summary>"https://index.docker.io/v1/", "http://h:5000/", "h:5000" -> "docker.io" / "h:5000".</summary>
    internal static string HostOf(string server)
    {
        var s = server.Trim();
        if (s.StartsWith("http://", StringComparison.OrdinalIgnoreCase)) s = s[7..];
        else if (s.StartsWith("https://", StringComparison.OrdinalIgnoreCase)) s = s[8..];
        int slash = s.IndexOf('/');
        if (slash >= 0) s = s[..slash];
        s = s.ToLowerInvariant();
        return s is "index.docker.io" or "registry-1.docker.io" ? "docker.io" : s;
    }

    /// <summary>The key login writes: Docker Hub's is its v1 index URL, as docker's.</summary>
    static string KeyOf(string registry) => registry == "docker.io" ? "https://index.docker.io/v1/" : registry;

    /// <summary>user and password for a registry from ~/.gocker/config.json, else ~/.docker/config.json.</summary>
    internal static (string User, string Password)? Credentials(CliContext ctx, string registry)
    {
        foreach (var dir in new[] { ConfigDir(ctx), DockerConfigDir(ctx) })
        {
            JsonNode? root;
            try { root = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json"))); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException) { continue; }
            if (root?["auths"] is not JsonObject auths) continue;
            foreach (var (key, value) in auths)
            {
                if (HostOf(key) != registry || value?["auth"]?.GetValue<string>() is not { Length: > 0 } b64) continue;
                string plain;
                try { plain = Encoding.UTF8.GetString(Convert.FromBase64String(b64)); }
                catch (FormatException) { continue; }
                int colon = plain.IndexOf(':');
                if (colon > 0) return (plain[..colon], plain[(colon + 1)..]);
            }
        }
        return null;
    }

    /// <summary>X-Registry-Auth for the registry (none when not logged in): base64url of the AuthConfig JSON.</summary>
    internal static List<string> AuthHeader(CliContext ctx, string registry, (string User, string Password)? creds = null)
    {
        creds ??= Credentials(ctx, registry);
        if (creds is not { } c) return [];
        var json = JsonSerializer.SerializeToUtf8Bytes(new AuthConfig { Username = c.User, Password = c.Password, ServerAddress = KeyOf(registry) }, GockerRegistryJson.Default.AuthConfig);
        return ["X-Registry-Auth: " + Convert.ToBase64String(json).Replace('+', '-').Replace('/', '_')];
    }

    // ---- pull / push ----

    static string Esc(string s) => Uri.EscapeDataString(s);

    public static int Pull(CliContext ctx, string name, string? platform, bool allTags, bool quiet, TextWriter output)
    {
        if (allTags && HasTagOrDigest(name)) throw new UsageException("tag can't be used with --all-tags/-a");
        string from = name, tag = "";
        if (!allTags)
        {
            int at = name.IndexOf('@');
            int colon = name.LastIndexOf(':');
            if (at >= 0) { from = name[..at]; tag = name[(at + 1)..]; }
            else if (colon >= 0 && name.IndexOf('/', colon) < 0) { from = name[..colon]; tag = name[(colon + 1)..]; }
            else tag = "latest";
        }
        var target = $"/images/create?fromImage={Esc(from)}&tag={Esc(tag)}" + (string.IsNullOrEmpty(platform) ? "" : "&platform=" + Esc(platform));
        using var r = ctx.Client.Http.SendWithHeaders("POST", target, AuthHeader(ctx, RegistryOf(name)));
        GockerClient.EnsureSuccess(r);
        Relay(r, quiet ? TextWriter.Null : output);
        if (!allTags) output.Write((quiet ? Canonical(name) : Canonical(name)) + "\n");
        output.Flush();
        return 0;
    }

    /// <summary>docker.io/library/x:latest as docker prints it after a pull.</summary>
    static string Canonical(string name)
    {
        var full = WithTag(name);
        if (RegistryOf(name) != "docker.io" || full.StartsWith("docker.io/", StringComparison.Ordinal)) return full;
        return "docker.io/" + (full.Split('@')[0].Split(':')[0].Contains('/') ? "" : "library/") + full;
    }

    /// <summary>Prints the progress stream as docker does without a terminal: every status line, not the
    /// byte counts. An error in the stream fails the command with its message.</summary>
    static void Relay(HttpResponse r, TextWriter output)
    {
        using var reader = new StreamReader(r.Body, Encoding.UTF8);
        string? line;
        while ((line = reader.ReadLine()) is not null)
        {
            if (line.Length == 0) continue;
            ProgressMessage? m;
            try { m = JsonSerializer.Deserialize(line, GockerRegistryJson.Default.ProgressMessage); }
            catch (JsonException) { continue; }
            if (m is null) continue;
            if (m.ErrorDetail is not null || m.Error is not null) { output.Flush(); throw new ApiException(500, m.ErrorDetail?.Message ?? m.Error!); }
            if (m.Status is null || m.Status is "Downloading" or "Pushing" or "Waiting" or "Extracting") continue;
            output.Write((m.Id is null ? "" : m.Id + ": ") + m.Status + "\n");
            output.Flush();
        }
    }

    public static int Push(CliContext ctx, string name, bool quiet)
    {
        string repo = name, tag = "";
        int colon = name.LastIndexOf(':');
        if (name.Contains('@')) throw new UsageException($"push: {name}: push a tag, not a digest");
        if (colon >= 0 && name.IndexOf('/', colon) < 0) { repo = name[..colon]; tag = name[(colon + 1)..]; }
        else tag = "latest";
        using var r = ctx.Client.Http.SendWithHeaders("POST", $"/images/{ImageClient.EscName(repo)}/push?tag={Esc(tag)}", AuthHeader(ctx, RegistryOf(name)));
        GockerClient.EnsureSuccess(r);
        Relay(r, quiet ? TextWriter.Null : ctx.IO.Out);
        if (quiet) ctx.IO.Out.Write(WithTag(name) + "\n");
        return 0;
    }

    /// <summary>run/create --pull: missing (the default), always, never. As the docker CLI, `missing`
    /// does not look first: it creates, and only a create refused with "No such image" pulls (saying so
    /// on stderr) and creates again, so a run of a present image costs no extra request.</summary>
    public static int WithImage(CliContext ctx, string image, string? policy, Func<int> create)
    {
        switch (policy ?? "missing")
        {
            case "never": return create();
            case "always":
                Pull(ctx, image, null, false, false, ctx.IO.Err);
                return create();
            case "missing":
                try { return create(); }
                catch (ApiException e) when (e.StatusCode == 404 && e.Message.StartsWith("No such image", StringComparison.Ordinal))
                {
                    ctx.IO.Err.Write($"Unable to find image '{WithTag(image)}' locally\n");
                    ctx.IO.Err.Flush();
                    Pull(ctx, image, null, false, false, ctx.IO.Err);
                    return create();
                }
            default:
                throw new UsageException($"invalid pull option: '{policy}': must be one of \"always\", \"missing\" or \"never\"");
        }
    }

    // ---- login / logout ----

    public static int Login(CliContext ctx, string? server, string? user, string? password, bool passwordStdin)
    {
        var registry = string.IsNullOrEmpty(server) ? "docker.io" : HostOf(server);
        if (passwordStdin)
        {
            if (password is not null) throw new UsageException("--password and --password-stdin are mutually exclusive");
            if (string.IsNullOrEmpty(user)) throw new UsageException("Must provide --username with --password-stdin");
            password = Console.In.ReadToEnd().TrimEnd('\n', '\r');
        }
        if (string.IsNullOrEmpty(user) || password is null)
        {
            if (Console.IsInputRedirected) throw new UsageException("Cannot perform an interactive login from a non TTY device");
            if (string.IsNullOrEmpty(user)) { ctx.IO.Out.Write("Username: "); ctx.IO.Out.Flush(); user = Console.ReadLine()?.Trim(); }
            if (string.IsNullOrEmpty(user)) throw new UsageException("Error: Non-null Username Required");
            ctx.IO.Out.Write("Password: "); ctx.IO.Out.Flush();
            password = ReadHidden();
            ctx.IO.Out.Write("\n");
        }
        if (string.IsNullOrEmpty(password)) throw new UsageException("Error: Password Required");
        var body = JsonSerializer.SerializeToUtf8Bytes(new AuthConfig { Username = user, Password = password, ServerAddress = KeyOf(registry) }, GockerRegistryJson.Default.AuthConfig);
        using (var r = ctx.Client.Http.Send("POST", "/auth", body, "application/json"))
            GockerClient.EnsureSuccess(r);
        Store(ctx, KeyOf(registry), Convert.ToBase64String(Encoding.UTF8.GetBytes(user + ":" + password)));
        ctx.IO.Out.Write("Login Succeeded\n");
        return 0;
    }

    static string ReadHidden()
    {
        var sb = new StringBuilder();
        while (true)
        {
            var k = Console.ReadKey(intercept: true);
            if (k.Key == ConsoleKey.Enter) return sb.ToString();
            if (k.Key == ConsoleKey.Backspace) { if (sb.Length > 0) sb.Length--; }
            else sb.Append(k.KeyChar);
        }
    }

    public static int Logout(CliContext ctx, string? server)
    {
        var registry = string.IsNullOrEmpty(server) ? "docker.io" : HostOf(server);
        var removed = Store(ctx, KeyOf(registry), null);
        ctx.IO.Out.Write(removed ? $"Removing login credentials for {KeyOf(registry)}\n" : $"Not logged in to {KeyOf(registry)}\n");
        return 0;
    }

    /// <summary>Sets (auth != null) or removes the registry's entry in ~/.gocker/config.json, keeping every
    /// other key; written 0600 through a temp file and a rename (the file holds passwords).</summary>
    static bool Store(CliContext ctx, string key, string? auth)
    {
        var dir = ConfigDir(ctx);
        var path = Path.Combine(dir, "config.json");
        JsonObject root;
        try { root = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? new JsonObject(); }
        catch (FileNotFoundException) { root = new JsonObject(); }
        catch (DirectoryNotFoundException) { root = new JsonObject(); }
        catch (JsonException e) { throw new UsageException($"{path}: not valid JSON: {e.Message}"); }
        if (root["auths"] is not JsonObject auths) root["auths"] = auths = new JsonObject();
        bool had = false;
        foreach (var k in auths.Select(kv => kv.Key).Where(k => HostOf(k) == HostOf(key)).ToList()) { auths.Remove(k); had = true; }
        if (auth is not null) auths[key] = new JsonObject { ["auth"] = auth };
        else if (!had) return false;
        Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var tmp = path + ".tmp" + Environment.ProcessId;
        using (var f = new FileStream(tmp, new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite }))
            f.Write(Encoding.UTF8.GetBytes(root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n"));
        File.Move(tmp, path, overwrite: true);
        return true;
    }
}
