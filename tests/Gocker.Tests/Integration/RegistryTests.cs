using System.Text.Json.Nodes;

namespace Gocker.Tests.Integration;

/// <summary>Pull, push and login against a real registry (docker-registry on loopback), images put in and
/// read back with skopeo, gockerd driven by gocker and by the docker CLI.</summary>
public sealed class RegistryTests(RegistryFixture f) : IClassFixture<RegistryFixture>
{
    static string Unique(string prefix) => prefix + Guid.NewGuid().ToString("N")[..8];

    string Home()
    {
        var home = Path.Combine(f.Work, Unique("home-"));
        Directory.CreateDirectory(home);
        return home;
    }

    CliResult Ok(params string[] args)
    {
        var r = f.Daemon.Gocker(args);
        Assert.True(r.ExitCode == 0, $"gocker {string.Join(' ', args)}: {r}\n{f.Daemon.DaemonLog}");
        return r;
    }

    string PushImage(string repo, string marker = "single", RegistryProcess? registry = null)
    {
        var (layers, config) = RegistryFixture.Image("amd64", marker);
        return f.Push(f.Layout(("amd64", layers, config)), registry ?? f.Open, repo + ":v1");
    }

    string ImagesDir => Path.Combine(f.Daemon.DataRoot, "images");
    string[] TmpEntries() => Directory.Exists(Path.Combine(ImagesDir, "tmp")) ? Directory.GetFileSystemEntries(Path.Combine(ImagesDir, "tmp")) : [];
    string[] LayerDirs() => Directory.Exists(Path.Combine(ImagesDir, "layers")) ? Directory.GetDirectories(Path.Combine(ImagesDir, "layers")).Order().ToArray() : [];

    [Fact]
    public void Pulls_a_single_platform_image_runs_it_and_records_its_digest()
    {
        var repo = Unique("t/single");
        var digest = PushImage(repo, "hello-single");
        var name = $"{f.Open.Host}/{repo}:v1";
        var pull = Ok("pull", name);
        Assert.Contains("v1: Pulling from " + repo, pull.Stdout);
        Assert.Contains("Pull complete", pull.Stdout);
        Assert.Contains("Digest: " + digest, pull.Stdout);
        Assert.Contains("Status: Downloaded newer image for " + name, pull.Stdout);
        Assert.Equal("hello-single", Ok("run", "--rm", "--pull", "never", name).Stdout.Trim());
        Assert.Equal("3", Ok("run", "--rm", name, "cat", "/top").Stdout.Trim());

        var inspect = JsonNode.Parse(Ok("image", "inspect", name).Stdout)!.AsArray()[0]!;
        Assert.Equal($"{f.Open.Host}/{repo}@{digest}", inspect["RepoDigests"]!.AsArray().Single()!.GetValue<string>());
        var config = f.Inspect(f.Open, repo + ":v1", raw: true);
        Assert.Equal(config["config"]!["digest"]!.GetValue<string>(), inspect["Id"]!.GetValue<string>());
        Assert.Contains(digest, Ok("images", "--digests").Stdout);

        // Again: every layer is present, nothing is downloaded.
        var again = Ok("pull", name);
        Assert.Contains("Already exists", again.Stdout);
        Assert.DoesNotContain("Pull complete", again.Stdout);
        Assert.Contains("Status: Image is up to date for " + name, again.Stdout);
        Ok("rmi", name);
    }

    [Fact]
    public void Picks_the_platform_from_a_multi_platform_index()
    {
        var repo = Unique("t/multi");
        var amd = RegistryFixture.Image("amd64", "i-am-amd64");
        var arm = RegistryFixture.Image("arm64", "i-am-arm64");
        var indexDigest = f.Push(f.Layout(("amd64", amd.Layers, amd.Config), ("arm64", arm.Layers, arm.Config)), f.Open, repo + ":v1");
        var index = f.Inspect(f.Open, repo + ":v1", raw: true);
        Assert.Equal("application/vnd.oci.image.index.v1+json", index["mediaType"]!.GetValue<string>());

        var name = $"{f.Open.Host}/{repo}:v1";
        Ok("pull", name);
        Assert.Equal("i-am-amd64", Ok("run", "--rm", name).Stdout.Trim());
        var inspect = JsonNode.Parse(Ok("image", "inspect", name).Stdout)!.AsArray()[0]!;
        // Docker's repo digest of a multi-platform image is the index's.
        Assert.Equal($"{f.Open.Host}/{repo}@{indexDigest}", inspect["RepoDigests"]!.AsArray().Single()!.GetValue<string>());

        var armName = $"{f.Open.Host}/{repo}:v1";
        Ok("rmi", name);
        Ok("pull", "--platform", "linux/arm64", armName);
        Assert.Equal("i-am-arm64", Ok("run", "--rm", armName).Stdout.Trim());
        Ok("rmi", armName);

        var none = f.Daemon.Gocker("pull", "--platform", "linux/s390x", name);
        Assert.NotEqual(0, none.ExitCode);
        Assert.Contains("no matching manifest for linux/s390x", none.Stderr);
    }

    [Fact]
    public void Pulls_a_pinned_digest_and_runs_it_by_that_digest()
    {
        var repo = Unique("t/pinned");
        var digest = PushImage(repo, "pinned");
        var byDigest = $"{f.Open.Host}/{repo}@{digest}";
        var pull = Ok("pull", byDigest);
        Assert.Contains("Digest: " + digest, pull.Stdout);
        Assert.Equal("pinned", Ok("run", "--rm", "--pull", "never", byDigest).Stdout.Trim());
        Assert.Contains(digest, Ok("images", "--digests").Stdout);

        var unknown = f.Daemon.Gocker("pull", $"{f.Open.Host}/{repo}@sha256:{new string('0', 64)}");
        Assert.NotEqual(0, unknown.ExitCode);
        Assert.Contains("not found", unknown.Stderr);
        Ok("rmi", byDigest);
    }

    [Fact]
    public void A_tampered_layer_or_manifest_is_refused_and_nothing_stays()
    {
        var repo = Unique("t/tamper");
        PushImage(repo, "tampered");
        var manifest = f.Inspect(f.Open, repo + ":v1", raw: true);
        var layerDigest = manifest["layers"]!.AsArray()[3]!["digest"]!.GetValue<string>();
        var layersBefore = LayerDirs();
        var blob = f.Open.BlobFile(layerDigest);
        var bytes = File.ReadAllBytes(blob);
        bytes[^10] ^= 0x55; // same size, other content (inside the gzip trailer: the CRC; the digest differs either way)
        File.WriteAllBytes(blob, bytes);

        var name = $"{f.Open.Host}/{repo}:v1";
        var r = f.Daemon.Gocker("pull", name);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains(layerDigest, r.Stderr);
        Assert.Contains("mismatch", r.Stderr);
        Assert.NotEqual(0, f.Daemon.Gocker("image", "inspect", name).ExitCode);
        Assert.Empty(TmpEntries());
        Assert.Equal(layersBefore, LayerDirs());

        // A manifest whose bytes differ from the digest it is fetched by.
        var repo2 = Unique("t/tamperm");
        var digest2 = PushImage(repo2, "tampered-manifest");
        var mfile = f.Open.BlobFile(digest2);
        var mbytes = File.ReadAllBytes(mfile);
        var text = System.Text.Encoding.UTF8.GetString(mbytes).Replace("\"schemaVersion\":2", "\"schemaVersion\":2 ");
        File.WriteAllText(mfile, text);
        var r2 = f.Daemon.Gocker("pull", $"{f.Open.Host}/{repo2}@{digest2}");
        Assert.NotEqual(0, r2.ExitCode);
        Assert.Contains("digest mismatch", r2.Stderr);
        Assert.Empty(TmpEntries());
        Assert.Equal(layersBefore, LayerDirs());
    }

    [Fact]
    public void A_layer_whose_connection_drops_is_resumed_with_a_range_request()
    {
        var repo = Unique("t/resume");
        var (layers, config) = RegistryFixture.Image("amd64", "resumed");
        // A big incompressible layer, so the cut falls well inside its body.
        var noise = new byte[3 << 20];
        new Random(7).NextBytes(noise);
        layers = [.. layers, new Gocker.Tests.Images.TarBuilder().File("noise", noise).Bytes()];
        config = Gocker.Tests.Images.ImageArchives.Config(layers, cmd: ["cat", "/marker"]);
        f.Push(f.Layout(("amd64", layers, config)), f.Open, repo + ":v1");
        var big = f.Inspect(f.Open, repo + ":v1", raw: true)["layers"]!.AsArray()[4]!["digest"]!.GetValue<string>();
        using var proxy = new DroppingProxy(f.Open.Port, big, cutAfter: 1 << 20);
        var name = $"{proxy.Host}/{repo}:v1";
        var pull = Ok("pull", name);
        Assert.Contains("Pull complete", pull.Stdout);
        Assert.Equal(1, proxy.Cuts);
        // The second request for the blob asked for the rest only.
        Assert.Contains(proxy.Requests, l => l.StartsWith("Range: bytes=", StringComparison.OrdinalIgnoreCase) && !l.Contains("bytes=0-"));
        Assert.Equal(2, f.Open.BlobGets(big));
        Assert.Equal("resumed", Ok("run", "--rm", name).Stdout.Trim());
        Assert.Equal(noise.Length.ToString(), Ok("run", "--rm", name, "sh", "-c", "wc -c < /noise").Stdout.Trim());
        Ok("rmi", name);
    }

    [Fact]
    public void A_missing_tag_is_a_clear_error_and_run_exits_125()
    {
        var repo = Unique("t/missing");
        PushImage(repo);
        var name = $"{f.Open.Host}/{repo}:nope";
        var pull = f.Daemon.Gocker("pull", name);
        Assert.Equal(1, pull.ExitCode);
        Assert.Contains($"manifest for {f.Open.Host}/{repo}:nope not found", pull.Stderr);

        var run = f.Daemon.Gocker("run", "--rm", name);
        Assert.Equal(125, run.ExitCode);
        Assert.Contains($"Unable to find image '{name}' locally", run.Stderr);
        Assert.Contains("not found", run.Stderr);

        var never = f.Daemon.Gocker("run", "--rm", "--pull", "never", $"{f.Open.Host}/{repo}:v1");
        Assert.Equal(125, never.ExitCode);
        Assert.Contains("No such image", never.Stderr);
        Assert.Equal(125, f.Daemon.Gocker("run", "--rm", "--pull", "sometimes", "busybox", "true").ExitCode);
    }

    [Fact]
    public void A_run_of_an_absent_image_pulls_it_first_and_says_so()
    {
        var repo = Unique("t/absent");
        PushImage(repo, "pulled-by-run");
        var name = $"{f.Open.Host}/{repo}:v1";
        var run = Ok("run", "--rm", name);
        Assert.Equal("pulled-by-run", run.Stdout.Trim());
        Assert.Contains($"Unable to find image '{name}' locally", run.Stderr);
        Assert.Contains("Status: Downloaded newer image for " + name, run.Stderr);
        // Present now: no second pull.
        var second = Ok("run", "--rm", name);
        Assert.DoesNotContain("Unable to find image", second.Stderr);
        Ok("rmi", name);
    }

    [Fact]
    public async Task Two_pulls_at_once_fetch_each_layer_once()
    {
        var repo = Unique("t/twice");
        PushImage(repo, "concurrent");
        var manifest = f.Inspect(f.Open, repo + ":v1", raw: true);
        var name = $"{f.Open.Host}/{repo}:v1";
        var a = Task.Run(() => f.Daemon.Gocker("pull", name));
        var b = Task.Run(() => f.Daemon.Gocker("pull", name));
        var (ra, rb) = (await a, await b);
        Assert.True(ra.ExitCode == 0, ra.ToString());
        Assert.True(rb.ExitCode == 0, rb.ToString());
        // The marker layer is this image's own: no other test's pull fetched it.
        var own = manifest["layers"]!.AsArray()[3]!["digest"]!.GetValue<string>();
        Assert.Equal(1, f.Open.BlobGets(own));
        Assert.Equal("concurrent", Ok("run", "--rm", name).Stdout.Trim());
        Ok("rmi", name);
    }

    [Fact]
    public void Credentials_basic_auth_login_wrong_password_and_logout()
    {
        var repo = Unique("t/private");
        PushImage(repo, "private", f.Auth);
        var home = Home();
        var name = $"{f.Auth.Host}/{repo}:v1";

        var anonymous = f.Gocker(home, null, "pull", name);
        Assert.NotEqual(0, anonymous.ExitCode);
        Assert.Contains("authentication required", anonymous.Stderr);

        var wrong = f.Gocker(home, "not-the-password\n", "login", "-u", RegistryFixture.User, "--password-stdin", f.Auth.Host);
        Assert.NotEqual(0, wrong.ExitCode);
        Assert.Contains("unauthorized", wrong.Stderr);
        Assert.False(File.Exists(Path.Combine(home, ".gocker", "config.json")));
        Assert.DoesNotContain("not-the-password", f.Daemon.DaemonLog);

        var login = f.Gocker(home, RegistryFixture.Password + "\n", "login", "-u", RegistryFixture.User, "--password-stdin", f.Auth.Host);
        Assert.True(login.ExitCode == 0, login.ToString());
        Assert.Contains("Login Succeeded", login.Stdout);
        var configFile = Path.Combine(home, ".gocker", "config.json");
        var config = JsonNode.Parse(File.ReadAllText(configFile))!;
        Assert.Equal(Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{RegistryFixture.User}:{RegistryFixture.Password}")),
            config["auths"]![f.Auth.Host]!["auth"]!.GetValue<string>());
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(configFile));

        var pull = f.Gocker(home, null, "pull", name);
        Assert.True(pull.ExitCode == 0, pull.ToString());
        Assert.Equal("private", f.Gocker(home, null, "run", "--rm", name).Stdout.Trim());
        Assert.DoesNotContain(RegistryFixture.Password, f.Daemon.DaemonLog);

        var logout = f.Gocker(home, null, "logout", f.Auth.Host);
        Assert.Contains("Removing login credentials for " + f.Auth.Host, logout.Stdout);
        Assert.Null(JsonNode.Parse(File.ReadAllText(configFile))!["auths"]![f.Auth.Host]);

        // Docker's own config file is read too.
        var dockerHome = Home();
        Directory.CreateDirectory(Path.Combine(dockerHome, ".docker"));
        File.WriteAllText(Path.Combine(dockerHome, ".docker", "config.json"), new JsonObject
        {
            ["auths"] = new JsonObject { ["http://" + f.Auth.Host] = new JsonObject { ["auth"] = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{RegistryFixture.User}:{RegistryFixture.Password}")) } },
        }.ToJsonString());
        Ok("rmi", name);
        var viaDocker = f.Gocker(dockerHome, null, "pull", name);
        Assert.True(viaDocker.ExitCode == 0, viaDocker.ToString());
        Ok("rmi", name);
    }

    [Fact]
    public void Push_uploads_what_is_missing_and_skopeo_reads_it_back()
    {
        var repo = Unique("t/src");
        PushImage(repo, "to-push");
        var src = $"{f.Open.Host}/{repo}:v1";
        Ok("pull", src);
        var target = $"{f.Open.Host}/{Unique("t/pushed")}:v2";
        Ok("tag", src, target);
        var push = Ok("push", target);
        var digestLine = push.Stdout.Split('\n').Single(l => l.StartsWith("v2: digest: ", StringComparison.Ordinal));
        var digest = digestLine.Split(' ')[2];
        var repoTag = target[(f.Open.Host.Length + 1)..];
        var inspect = f.Inspect(f.Open, repoTag);
        Assert.Equal(digest, inspect["Digest"]!.GetValue<string>());
        Assert.Equal(4, inspect["Layers"]!.AsArray().Count);
        // Every layer was on the registry already (from the pull's repository): mounted, not uploaded.
        Assert.Contains("Mounted from", push.Stdout);
        Assert.DoesNotContain("Pushed", push.Stdout);
        // The image keeps its id through the round trip (the config is pushed as it was pulled).
        var raw = f.Inspect(f.Open, repoTag, raw: true);
        var id = JsonNode.Parse(Ok("image", "inspect", target).Stdout)!.AsArray()[0]!["Id"]!.GetValue<string>();
        Assert.Equal(id, raw["config"]!["digest"]!.GetValue<string>());
        // skopeo copies it out (verifying every blob's digest).
        var (code, _, err) = RegistryProcess.Tool("skopeo", "copy", "--src-tls-verify=false", $"docker://{target}", $"dir:{Path.Combine(f.Work, Unique("out-"))}");
        Assert.True(code == 0, err);

        // A committed image (layers made here): uploaded.
        var c = Unique("c");
        Ok("run", "--name", c, src, "sh", "-c", "echo new > /newfile");
        var committed = $"{f.Open.Host}/{Unique("t/committed")}:v1";
        Ok("commit", c, committed);
        Ok("rm", c);
        var push2 = Ok("push", committed);
        Assert.Contains("Pushed", push2.Stdout);
        var inspect2 = f.Inspect(f.Open, committed[(f.Open.Host.Length + 1)..]);
        Assert.Equal(5, inspect2["Layers"]!.AsArray().Count);
        Ok("rmi", committed);
        Ok("rmi", target);
        Ok("rmi", src);
        // Pulled back, it runs with the committed file.
        Assert.Equal("new", Ok("run", "--rm", committed, "cat", "/newfile").Stdout.Trim());
        Ok("rmi", committed);
    }

    [DockerCliFact]
    public void Docker_pull_through_gockerd()
    {
        var repo = Unique("t/docker");
        var digest = PushImage(repo, "via-docker");
        var name = $"{f.Open.Host}/{repo}:v1";
        var (code, output, err) = DockerCliFactAttribute.Run(f.Daemon.Socket, f.Daemon.Root, null, "pull", name);
        Assert.True(code == 0, $"docker pull: {output}\n{err}\n{f.Daemon.DaemonLog}");
        Assert.Contains("Pull complete", output);
        Assert.Contains("Digest: " + digest, output);
        Assert.Contains("Status: Downloaded newer image for " + name, output);
        Assert.Equal("via-docker", Ok("run", "--rm", name).Stdout.Trim());
        var (c2, o2, e2) = DockerCliFactAttribute.Run(f.Daemon.Socket, f.Daemon.Root, null, "pull", $"{f.Open.Host}/{repo}:nope");
        Assert.NotEqual(0, c2);
        Assert.Contains("not found", e2 + o2);
        Ok("rmi", name);
    }

    [Fact]
    public void Distribution_inspect_answers_the_manifest_digest_and_platforms()
    {
        var repo = Unique("t/dist");
        var amd = RegistryFixture.Image("amd64", "a");
        var arm = RegistryFixture.Image("arm64", "b");
        var digest = f.Push(f.Layout(("amd64", amd.Layers, amd.Config), ("arm64", arm.Layers, arm.Config)), f.Open, repo + ":v1");
        var (head, raw) = RawHttp.Request(f.Daemon.Socket, "GET", $"/distribution/{f.Open.Host}/{repo}:v1/json");
        var body = System.Text.Encoding.UTF8.GetString(raw);
        Assert.True(head.StartsWith("HTTP/1.1 200"), head + body);
        var j = JsonNode.Parse(body)!;
        Assert.Equal(digest, j["Descriptor"]!["Digest"]!.GetValue<string>());
        Assert.Equal(["amd64", "arm64"], j["Platforms"]!.AsArray().Select(p => p!["architecture"]!.GetValue<string>()).Order().ToArray());
    }
}
