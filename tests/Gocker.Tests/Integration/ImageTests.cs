using System.Diagnostics;
using System.Formats.Tar;
using System.Text.Json;
using Gocker.Tests.Images;

namespace Gocker.Tests.Integration;

/// <summary>Layered images end to end: load, run, commit, save, export, rmi and prune through the real
/// console and daemon.</summary>
[Trait("Needs", "root")]
public sealed class ImageTests(DaemonFixture daemon) : IClassFixture<DaemonFixture>, IDisposable
{
    public void Dispose() => daemon.AssertNoLeaks();

    string ImagesDir => Path.Combine(daemon.DataRoot, "images");

    string TempFile(byte[] content)
    {
        var path = Path.Combine(daemon.Root, "a-" + Guid.NewGuid().ToString("N") + ".tar");
        File.WriteAllBytes(path, content);
        return path;
    }

    CliResult Ok(params string[] args)
    {
        var r = daemon.Gocker(args);
        Assert.True(r.ExitCode == 0, $"gocker {string.Join(' ', args)}: {r}");
        return r;
    }

    string LoadThree(string name, string[]? cmd = null, string[]? entrypoint = null, bool oci = false)
    {
        var layers = ImageArchives.ThreeLayers(withBusybox: true);
        var config = ImageArchives.Config(layers, cmd: cmd ?? ["sh"], entrypoint: entrypoint, workdir: "/etc");
        var archive = oci ? ImageArchives.Oci(layers, config, name) : ImageArchives.DockerSave(layers, config, [name]);
        var r = Ok("load", "-i", TempFile(archive));
        Assert.Contains("Loaded image: " + (name.Contains(':') ? name : name + ":latest"), r.Stdout);
        return name;
    }

    const string Probe = "cat /etc/base /etc/l2 /top; ls /opq; ls /keep; test -e /gone && echo GONE-VISIBLE; pwd";

    [Fact]
    public void A_loaded_three_layer_image_runs_and_shows_the_right_files()
    {
        var name = LoadThree("it-three-" + Guid.NewGuid().ToString("N")[..6]);
        var r = Ok("run", "--rm", name, "sh", "-c", Probe);
        Assert.Equal("basetwo3new\nb\n/etc\n", r.Stdout);
        Ok("rmi", name);
    }

    [Fact]
    public void An_oci_layout_directory_loads_and_runs()
    {
        var name = "it-oci-" + Guid.NewGuid().ToString("N")[..6] + ":v1";
        var layers = ImageArchives.ThreeLayers(withBusybox: true);
        var dir = Path.Combine(daemon.Root, "oci-" + Guid.NewGuid().ToString("N"));
        ImageArchives.ExtractTo(ImageArchives.Oci(layers, ImageArchives.Config(layers, cmd: ["sh"]), name), dir);
        Assert.Contains("Loaded image: " + name, Ok("load", "-i", dir).Stdout);
        Assert.Equal("basetwo3new\nb\n/\n", Ok("run", "--rm", name, "sh", "-c", Probe).Stdout);
        Ok("rmi", name);
    }

    /// <summary>Runs a host tool (umoci, skopeo: installed by deps.sh) and asserts it worked.</summary>
    static string Tool(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        Process p;
        try { p = Process.Start(psi)!; }
        catch (System.ComponentModel.Win32Exception) { Assert.Fail($"{file} is not installed: ./deps.sh installs it"); throw; }
        using (p)
        {
            var err = p.StandardError.ReadToEndAsync();
            var output = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            Assert.True(p.ExitCode == 0, $"{file} {string.Join(' ', args)}: {err.Result}");
            return output;
        }
    }

    [Fact]
    public void An_image_built_by_umoci_loads_as_an_oci_layout_and_through_skopeo_as_a_docker_archive()
    {
        // Real tools' archives: umoci writes the OCI layout (two layers: files, then a whiteout and a
        // replaced directory), skopeo converts it to a docker-save archive with a name.
        var work = Directory.CreateDirectory(Path.Combine(daemon.Root, "umoci-" + Guid.NewGuid().ToString("N")[..8])).FullName;
        var layout = Path.Combine(work, "oci");
        var bundle = Path.Combine(work, "bundle");
        var rootfs = Path.Combine(bundle, "rootfs");
        Tool("umoci", "init", "--layout", layout);
        Tool("umoci", "new", "--image", layout + ":v1");
        Tool("umoci", "unpack", "--image", layout + ":v1", bundle);
        Directory.CreateDirectory(Path.Combine(rootfs, "bin"));
        File.Copy("/bin/busybox", Path.Combine(rootfs, "bin/busybox"));
        File.CreateSymbolicLink(Path.Combine(rootfs, "bin/sh"), "busybox");
        Directory.CreateDirectory(Path.Combine(rootfs, "keep"));
        File.WriteAllText(Path.Combine(rootfs, "keep/a"), "a");
        File.WriteAllText(Path.Combine(rootfs, "keep/b"), "b");
        Directory.CreateDirectory(Path.Combine(rootfs, "dir"));
        File.WriteAllText(Path.Combine(rootfs, "dir/old"), "old");
        Tool("umoci", "repack", "--image", layout + ":v1", bundle);
        Directory.Delete(bundle, true);
        Tool("umoci", "unpack", "--image", layout + ":v1", bundle);
        File.Delete(Path.Combine(rootfs, "keep/b"));
        Directory.Delete(Path.Combine(rootfs, "dir"), true);
        Directory.CreateDirectory(Path.Combine(rootfs, "dir"));
        File.WriteAllText(Path.Combine(rootfs, "dir/new"), "new");
        Tool("umoci", "repack", "--image", layout + ":v1", bundle);
        Tool("umoci", "config", "--image", layout + ":v1", "--config.cmd", "sh", "--config.cmd=-c",
            "--config.cmd", "ls /keep /dir; echo $FOO; pwd", "--config.env", "FOO=from-umoci", "--config.workingdir", "/keep");
        const string expected = "/dir:\nnew\n\n/keep:\na\nfrom-umoci\n/keep\n";

        // The OCI layout names its manifest by a bare tag ("v1"): loaded unnamed, run by id.
        var loaded = Ok("load", "-i", layout).Stdout;
        var id = System.Text.RegularExpressions.Regex.Match(loaded, "sha256:([0-9a-f]{64})").Groups[1].Value;
        Assert.True(id.Length == 64, loaded);
        Assert.Equal(expected, Ok("run", "--rm", id).Stdout);

        var name = "umoci-it-" + Guid.NewGuid().ToString("N")[..6] + ":v1";
        var archive = Path.Combine(work, "docker.tar");
        Tool("skopeo", "copy", "--quiet", "oci:" + layout + ":v1", $"docker-archive:{archive}:{name}");
        Assert.Contains("Loaded image: " + name, Ok("load", "-i", archive).Stdout);
        Assert.Equal(expected, Ok("run", "--rm", name).Stdout);
        Ok("rmi", name);
        Directory.Delete(work, true);
    }

    [Fact]
    public void The_image_config_cmd_and_entrypoint_are_used()
    {
        var cmdOnly = LoadThree("it-cmd-" + Guid.NewGuid().ToString("N")[..6], cmd: ["sh", "-c", "echo from-cmd"]);
        Assert.Equal("from-cmd\n", Ok("run", "--rm", cmdOnly).Stdout);
        var ep = LoadThree("it-ep-" + Guid.NewGuid().ToString("N")[..6], cmd: ["default"], entrypoint: ["echo", "ep"]);
        Assert.Equal("ep default\n", Ok("run", "--rm", ep).Stdout);
        Assert.Equal("ep given\n", Ok("run", "--rm", ep, "given").Stdout);
        Ok("rmi", cmdOnly);
        Ok("rmi", ep);
    }

    [Fact]
    public void Commit_of_a_running_container_freezes_it_meanwhile_and_leaves_it_running()
    {
        var cname = "cr-" + Guid.NewGuid().ToString("N")[..8];
        var image = "it-live-" + Guid.NewGuid().ToString("N")[..6];
        Ok("run", "-d", "--name", cname, "busybox", "sh", "-c", "echo live > /live; echo ready; sleep 1000");
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!Ok("logs", cname).Stdout.Contains("ready") && DateTime.UtcNow < deadline) Thread.Sleep(50);
        Ok("commit", cname, image);
        Assert.Equal("running", JsonDocument.Parse(Ok("inspect", cname).Stdout).RootElement[0].GetProperty("State").GetProperty("Status").GetString());
        Assert.Equal("live\n", Ok("run", "--rm", image, "cat", "/live").Stdout);
        Ok("commit", "--pause=false", cname, image + "-np");
        Assert.Equal("running", JsonDocument.Parse(Ok("inspect", cname).Stdout).RootElement[0].GetProperty("State").GetProperty("Status").GetString());
        Ok("rm", "-f", cname);
        Ok("rmi", image);
        Ok("rmi", image + "-np");
    }

    [Fact]
    public void Commit_makes_a_new_layer_that_runs_then_save_and_load_round_trip()
    {
        var name = LoadThree("it-commit-" + Guid.NewGuid().ToString("N")[..6]);
        var cname = "c-" + Guid.NewGuid().ToString("N")[..8];
        Ok("run", "--name", cname, name, "sh", "-c", "echo changed > /etc/base; rm /keep/b; rm -r /opq; mkdir /opq; echo fresh > /opq/f; mkdir /new; echo n > /new/f");
        var committed = name + "-next:v2";
        var id = Ok("commit", cname, committed).Stdout.Trim();
        Assert.StartsWith("sha256:", id);

        // Layered, not flat: the image's layers plus one.
        using (var doc = JsonDocument.Parse(Ok("image", "inspect", committed).Stdout))
        {
            var img = doc.RootElement[0];
            Assert.Equal(4, img.GetProperty("RootFS").GetProperty("Layers").GetArrayLength());
            Assert.Equal(4, img.GetProperty("GockerLayerDirs").GetArrayLength());
        }
        const string check = "cat /etc/base /new/f; ls /keep | wc -l; ls /opq";
        Assert.Equal("changed\nn\n0\nf\n", Ok("run", "--rm", committed, "sh", "-c", check).Stdout);

        // export: the merged view of the container.
        var export = Ok("export", "-o", Path.Combine(daemon.Root, cname + ".tar"), cname);
        var entries = ReadTar(Path.Combine(daemon.Root, cname + ".tar"));
        Assert.Equal("changed\n", entries["etc/base"]);
        Assert.Equal("fresh\n", entries["opq/f"]);
        Assert.False(entries.ContainsKey("keep/b"));
        Assert.False(entries.ContainsKey("keep/a"));
        Assert.False(entries.ContainsKey("opq/new"));
        Assert.True(entries.ContainsKey("bin/busybox"));
        _ = export;

        // save, remove, load: the same files, and the saved layers load with the same id again.
        var saved = Path.Combine(daemon.Root, "saved-" + Guid.NewGuid().ToString("N") + ".tar");
        Ok("save", "-o", saved, committed);
        Ok("rm", cname);
        Ok("rmi", committed);
        Ok("rmi", name);
        Assert.Contains("Loaded image: " + committed, Ok("load", "-i", saved).Stdout);
        Assert.Equal("changed\nn\n0\nf\n", Ok("run", "--rm", committed, "sh", "-c", check).Stdout);
        Ok("rmi", committed);
        Assert.False(Directory.Exists(Path.Combine(ImagesDir, "layers")) && Directory.GetDirectories(Path.Combine(ImagesDir, "layers")).Length > 0
            && !daemon.Gocker("images", "-q").Stdout.Trim().Any(), "layers left after every image went");
    }

    static Dictionary<string, string> ReadTar(string path)
    {
        var result = new Dictionary<string, string>();
        using var r = new TarReader(File.OpenRead(path));
        while (r.GetNextEntry() is { } e)
            result[e.Name.TrimEnd('/')] = e.DataStream is { } d ? new StreamReader(d).ReadToEnd() : "";
        return result;
    }

    [Fact]
    public void Rmi_is_refused_while_a_container_uses_the_image_and_force_only_untags()
    {
        var name = LoadThree("it-rmi-" + Guid.NewGuid().ToString("N")[..6]);
        var cname = "c-" + Guid.NewGuid().ToString("N")[..8];
        Ok("create", "--name", cname, name, "true");
        var refused = daemon.Gocker("rmi", name);
        Assert.True(refused.ExitCode != 0, refused.ToString());
        Assert.Contains("used by container", refused.Stderr);
        var forced = Ok("rmi", "-f", name);
        Assert.Contains("Untagged: " + name, forced.Stdout);
        Assert.DoesNotContain("Deleted", forced.Stdout);
        // The container still starts from the (now dangling) image.
        Ok("start", "-a", cname);
        // prune keeps it while the container exists, deletes it after.
        Ok("image", "prune");
        Assert.Contains("<none>", Ok("images").Stdout);
        Ok("rm", cname);
        Assert.Contains("deleted: sha256:", Ok("image", "prune").Stdout);
        Assert.DoesNotContain("<none>", Ok("images").Stdout);
    }

    [Fact]
    public void Tag_gives_a_second_name()
    {
        var name = LoadThree("it-tag-" + Guid.NewGuid().ToString("N")[..6]);
        Ok("tag", name, name + "-alias:x");
        Assert.Equal("base", Ok("run", "--rm", name + "-alias:x", "cat", "/etc/base").Stdout.TrimEnd());
        Ok("rmi", name);
        Assert.Equal("base", Ok("run", "--rm", name + "-alias:x", "cat", "/etc/base").Stdout.TrimEnd());
        Ok("rmi", name + "-alias:x");
    }

    [Fact]
    public void Names_with_a_path_work_for_tag_inspect_and_rmi()
    {
        // Docker Hub style names carry '/' which must survive the trip through the URL path.
        var name = LoadThree("it-path-" + Guid.NewGuid().ToString("N")[..6]);
        var pathName = "team/" + name + "/app:1";
        Ok("tag", name, pathName);
        Assert.Contains(pathName, Ok("image", "inspect", pathName).Stdout);
        Assert.Equal("base", Ok("run", "--rm", pathName, "cat", "/etc/base").Stdout.TrimEnd());
        Assert.Contains("Untagged: " + pathName, Ok("rmi", pathName).Stdout);
        var gone = daemon.Gocker("image", "inspect", pathName);
        Assert.NotEqual(0, gone.ExitCode);
        Assert.Contains("No such image", gone.Stderr);
        Ok("rmi", name);
    }

    [Fact]
    public void Unsafe_archives_are_refused_through_the_console_and_leave_nothing()
    {
        var before = Ok("images", "-q").Stdout;
        var layersBefore = Directory.Exists(Path.Combine(ImagesDir, "layers")) ? Directory.GetDirectories(Path.Combine(ImagesDir, "layers")).Order().ToArray() : [];
        var good = ImageArchives.ThreeLayers();
        var evil = new TarBuilder().File("../../escape", "x").Bytes();
        var cases = new (byte[] Archive, string Message)[]
        {
            (ImageArchives.DockerSave([good[0], evil], ImageArchives.Config([good[0], evil]), ["victim:1"]), "path escapes the root"),
            (ImageArchives.DockerSave(good, ImageArchives.Config(good), ["victim:1"], storedLayers: [good[0], good[2], good[1]]), "digest mismatch"),
            (ImageArchives.DockerSave(good, ImageArchives.Config(good), ["victim:1"])[..3000], "truncated"),
        };
        foreach (var (archive, message) in cases)
        {
            var r = daemon.Gocker("load", "-i", TempFile(archive));
            Assert.True(r.ExitCode == 1, r.ToString());
            Assert.Contains(message, r.Stderr);
        }
        Assert.Equal(before, Ok("images", "-q").Stdout);
        var layersAfter = Directory.Exists(Path.Combine(ImagesDir, "layers")) ? Directory.GetDirectories(Path.Combine(ImagesDir, "layers")).Order().ToArray() : [];
        Assert.Equal(layersBefore, layersAfter);
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(ImagesDir, "tmp")));
        Assert.False(File.Exists(Path.Combine(daemon.Root, "escape")));
    }

    [Fact]
    public void Load_reads_stdin()
    {
        var name = "it-stdin-" + Guid.NewGuid().ToString("N")[..6];
        var layers = ImageArchives.ThreeLayers(withBusybox: true);
        var path = TempFile(ImageArchives.DockerSave(layers, ImageArchives.Config(layers, cmd: ["sh"]), [name]));
        var psi = new ProcessStartInfo("/bin/sh", ["-c", $"'{GockerBinaries.Gocker}' -H unix://{daemon.Socket} load < '{path}'"])
            { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEnd();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, stdout + stderr);
        Assert.Contains("Loaded image: " + name + ":latest", stdout);
        Ok("rmi", name);
    }
}
