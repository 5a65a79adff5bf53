using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Gocker.Tests.Images;

namespace Gocker.Tests.Integration;

/// <summary>A real registry (Debian's docker-registry, the CNCF distribution) on a free loopback port with
/// its own config and storage under a temp dir; with a user it uses htpasswd basic auth. Its access log
/// is kept (tests count blob fetches in it). Killed and removed by Dispose.</summary>
public sealed class RegistryProcess : IDisposable
{
    public const string Binary = "/usr/bin/docker-registry";
    public string Dir { get; }
    public int Port { get; }
    public string Host => $"127.0.0.1:{Port}";
    public string Storage => Path.Combine(Dir, "storage");
    readonly Process _process;
    readonly StringBuilder _log = new();

    public RegistryProcess(string? user = null, string? password = null)
    {
        if (!File.Exists(Binary)) throw new InvalidOperationException($"{Binary} is missing: apt-get install docker-registry (deps.sh installs it)");
        Dir = Path.Combine("/tmp", "gocker-registry-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(Storage);
        using (var l = new TcpListener(IPAddress.Loopback, 0)) { l.Start(); Port = ((IPEndPoint)l.LocalEndpoint).Port; l.Stop(); }
        var auth = "";
        if (user is not null)
        {
            var htpasswd = Path.Combine(Dir, "htpasswd");
            var (code, output, err) = Tool("htpasswd", "-Bbn", user, password!);
            if (code != 0) throw new InvalidOperationException($"htpasswd: exit {code}: {err}");
            File.WriteAllText(htpasswd, output);
            auth = $"auth:\n  htpasswd:\n    realm: gocker-test\n    path: {htpasswd}\n";
        }
        var config = Path.Combine(Dir, "config.yml");
        File.WriteAllText(config, $"""
            version: 0.1
            log:
              level: warn
              formatter: text
            storage:
              filesystem:
                rootdirectory: {Storage}
              delete:
                enabled: true
            http:
              addr: {Host}
              secret: gocker-test-{Port}
            {auth}
            """);
        var psi = new ProcessStartInfo(Binary, ["serve", config]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        _process = Process.Start(psi)!;
        _process.OutputDataReceived += (_, e) => { lock (_log) _log.AppendLine(e.Data); };
        _process.ErrorDataReceived += (_, e) => { lock (_log) _log.AppendLine(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        using var http = new HttpClient();
        for (var deadline = DateTime.UtcNow.AddSeconds(30); ;)
        {
            if (_process.HasExited) throw new InvalidOperationException($"docker-registry exited with {_process.ExitCode}:\n{Log}");
            try
            {
                using var resp = http.GetAsync($"http://{Host}/v2/").GetAwaiter().GetResult();
                if (resp.StatusCode is HttpStatusCode.OK or HttpStatusCode.Unauthorized) break;
            }
            catch (HttpRequestException) { }
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"docker-registry did not answer on {Host}:\n{Log}");
            Thread.Sleep(50);
        }
    }

    public string Log { get { lock (_log) return _log.ToString(); } }

    /// <summary>How many GETs of that blob (by digest) the registry answered.</summary>
    public int BlobGets(string digest) =>
        Log.Split('\n').Count(l => l.Contains("\"GET /v2/") && l.Contains("/blobs/" + digest));

    /// <summary>The file the registry serves a blob from (to tamper with it).</summary>
    public string BlobFile(string digest)
    {
        var hex = digest["sha256:".Length..];
        return Path.Combine(Storage, "docker", "registry", "v2", "blobs", "sha256", hex[..2], hex, "data");
    }

    internal static (int Code, string Out, string Err) Tool(string tool, params string[] args)
    {
        var psi = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(180_000)) { p.Kill(true); throw new TimeoutException($"{tool} {string.Join(' ', args)} did not finish"); }
        return (p.ExitCode, o.Result, e.Result);
    }

    public void Dispose()
    {
        try { if (!_process.HasExited) { _process.Kill(true); _process.WaitForExit(10_000); } } catch (InvalidOperationException) { }
        _process.Dispose();
        try { Directory.Delete(Dir, recursive: true); } catch (DirectoryNotFoundException) { }
    }
}

/// <summary>One daemon and two registries (open, and htpasswd basic auth) for RegistryTests; images are
/// put in with skopeo from OCI layouts built here.</summary>
public sealed class RegistryFixture : IDisposable
{
    public const string User = "gocker";
    public const string Password = "s3cret-pw";
    public DaemonFixture Daemon { get; } = new();
    public RegistryProcess Open { get; } = new();
    public RegistryProcess Auth { get; } = new(User, Password);
    public string Work { get; } = Path.Combine("/tmp", "gocker-regwork-" + Guid.NewGuid().ToString("N")[..10]);

    public RegistryFixture() => Directory.CreateDirectory(Work);

    public void Dispose()
    {
        Open.Dispose();
        Auth.Dispose();
        Daemon.Dispose();
        try { Directory.Delete(Work, recursive: true); } catch (DirectoryNotFoundException) { }
    }

    /// <summary>A runnable image: the three test layers (busybox in the first) plus a layer with /arch and /marker.</summary>
    public static (byte[][] Layers, JsonObject Config) Image(string arch, string marker)
    {
        var layers = ImageArchives.ThreeLayers(withBusybox: true).Append(
            new TarBuilder().File("arch", arch).File("marker", marker).Bytes()).ToArray();
        var config = ImageArchives.Config(layers, cmd: ["cat", "/marker"]);
        config["architecture"] = arch;
        return (layers, config);
    }

    /// <summary>Writes an OCI layout holding one image (or an index of several, one per architecture) under ref "latest".</summary>
    public string Layout(params (string Arch, byte[][] Layers, JsonObject Config)[] images)
    {
        var dir = Path.Combine(Work, "layout-" + Guid.NewGuid().ToString("N")[..8]);
        var blobs = Path.Combine(dir, "blobs", "sha256");
        Directory.CreateDirectory(blobs);
        string Put(byte[] b) { var h = ImageArchives.Hex(b); File.WriteAllBytes(Path.Combine(blobs, h), b); return h; }
        var manifests = new JsonArray();
        foreach (var (arch, layers, config) in images)
        {
            var configBytes = Encoding.UTF8.GetBytes(config.ToJsonString());
            var configHex = Put(configBytes);
            var descs = new JsonArray();
            foreach (var l in layers)
            {
                var gz = ImageArchives.Gzip(l);
                descs.Add(new JsonObject { ["mediaType"] = "application/vnd.oci.image.layer.v1.tar+gzip", ["digest"] = "sha256:" + Put(gz), ["size"] = gz.Length });
            }
            var manifest = Encoding.UTF8.GetBytes(new JsonObject
            {
                ["schemaVersion"] = 2,
                ["mediaType"] = "application/vnd.oci.image.manifest.v1+json",
                ["config"] = new JsonObject { ["mediaType"] = "application/vnd.oci.image.config.v1+json", ["digest"] = "sha256:" + configHex, ["size"] = configBytes.Length },
                ["layers"] = descs,
            }.ToJsonString());
            manifests.Add(new JsonObject
            {
                ["mediaType"] = "application/vnd.oci.image.manifest.v1+json", ["digest"] = "sha256:" + Put(manifest), ["size"] = manifest.Length,
                ["platform"] = new JsonObject { ["architecture"] = arch, ["os"] = "linux" },
            });
        }
        JsonObject top;
        if (images.Length == 1) { top = (JsonObject)manifests[0]!.DeepClone(); top.Remove("platform"); }
        else
        {
            var index = Encoding.UTF8.GetBytes(new JsonObject { ["schemaVersion"] = 2, ["mediaType"] = "application/vnd.oci.image.index.v1+json", ["manifests"] = manifests }.ToJsonString());
            top = new JsonObject { ["mediaType"] = "application/vnd.oci.image.index.v1+json", ["digest"] = "sha256:" + Put(index), ["size"] = index.Length };
        }
        top["annotations"] = new JsonObject { ["org.opencontainers.image.ref.name"] = "latest" };
        File.WriteAllText(Path.Combine(dir, "oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
        File.WriteAllText(Path.Combine(dir, "index.json"), new JsonObject { ["schemaVersion"] = 2, ["manifests"] = new JsonArray(top) }.ToJsonString());
        return dir;
    }

    /// <summary>skopeo copy (--all for an index) of a layout into a registry; returns the pushed digest.</summary>
    public string Push(string layout, RegistryProcess registry, string repoTag)
    {
        var args = new List<string> { "copy", "--all", "--dest-tls-verify=false" };
        if (registry == Auth) { args.Add("--dest-creds"); args.Add($"{User}:{Password}"); }
        args.Add($"oci:{layout}:latest");
        args.Add($"docker://{registry.Host}/{repoTag}");
        var (code, _, err) = RegistryProcess.Tool("skopeo", args.ToArray());
        if (code != 0) throw new InvalidOperationException($"skopeo copy to {registry.Host}/{repoTag}: exit {code}: {err}");
        return Inspect(registry, repoTag)["Digest"]!.GetValue<string>();
    }

    public JsonNode Inspect(RegistryProcess registry, string repoRef, bool raw = false)
    {
        var args = new List<string> { "inspect", "--tls-verify=false" };
        if (raw) args.Add("--raw");
        if (registry == Auth) { args.Add("--creds"); args.Add($"{User}:{Password}"); }
        args.Add($"docker://{registry.Host}/{repoRef}");
        var (code, output, err) = RegistryProcess.Tool("skopeo", args.ToArray());
        if (code != 0) throw new InvalidOperationException($"skopeo inspect {registry.Host}/{repoRef}: exit {code}: {err}");
        return JsonNode.Parse(output)!;
    }

    /// <summary>gocker with its own HOME (login state) and optional stdin.</summary>
    public CliResult Gocker(string home, string? stdin, params string[] args)
    {
        var psi = new ProcessStartInfo(GockerBinaries.Gocker) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        psi.ArgumentList.Add("-H");
        psi.ArgumentList.Add("unix://" + Daemon.Socket);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["HOME"] = home;
        psi.Environment.Remove("DOCKER_CONFIG");
        psi.Environment.Remove("GOCKER_CONFIG");
        using var p = Process.Start(psi)!;
        if (stdin is not null) p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        var o = p.StandardOutput.ReadToEndAsync();
        var e = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(180_000)) { p.Kill(true); throw new TimeoutException($"gocker {string.Join(' ', args)} did not finish\n{Daemon.DaemonLog}"); }
        p.WaitForExit();
        return new CliResult(p.ExitCode, o.Result, e.Result);
    }
}
