using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using DotNet.Testcontainers.Builders;
using DotNet.Testcontainers.Configurations;
using Gocker.Tests.Images;

namespace Gocker.Tests.Integration;

/// <summary>
/// Named and anonymous volumes (issue #18, part "volumes"), on a real daemon: the /volumes API's
/// shapes and refusals, -v NAME:/p, -v /p and an image's VOLUME, copy-up, `rm -v`, in-use refusals,
/// prune, --mount bind|volume|tmpfs, read-only mounts, and the real clients (docker CLI, docker-py,
/// Testcontainers). Restarts and userns-remap are in VolumeDaemonTests (a daemon of their own).
/// </summary>
[Trait("Needs", "root")]
public sealed class VolumeTests(DaemonFixture daemon) : IClassFixture<DaemonFixture>, IDisposable
{
    public void Dispose() => daemon.AssertNoLeaks();

    static string Unique(string prefix) => prefix + Guid.NewGuid().ToString("N")[..8];

    string Ok(params string[] args)
    {
        var r = daemon.Gocker(args);
        Assert.True(r.ExitCode == 0, $"gocker {string.Join(' ', args)}: {r}");
        return r.Stdout.Trim();
    }

    (string Head, byte[] Body) Request(string method, string target, string? json = null) => RawHttp.Request(daemon.Socket, method, target, json);

    JsonElement Json(string method, string target, string? json = null, int status = 200)
    {
        var (head, body) = Request(method, target, json);
        Assert.True(head.StartsWith($"HTTP/1.1 {status} "), $"{method} {target}: {head}{Encoding.UTF8.GetString(body)}");
        using var doc = JsonDocument.Parse(body);
        return doc.RootElement.Clone();
    }

    /// <summary>The error message of a refused request (status checked).</summary>
    string Refused(string method, string target, string? json, int status)
    {
        var (head, body) = Request(method, target, json);
        var text = Encoding.UTF8.GetString(body);
        Assert.True(head.StartsWith($"HTTP/1.1 {status} "), $"{method} {target} {json}: expected {status}, got {head}{text}");
        using var doc = JsonDocument.Parse(body);
        return doc.RootElement.GetProperty("message").GetString()!;
    }

    static string Filters(string key, params string[] values) => Uri.EscapeDataString(JsonSerializer.Serialize(new Dictionary<string, string[]> { [key] = values }));

    List<string> Listed(string query = "") =>
        Json("GET", "/v1.43/volumes" + query).GetProperty("Volumes").EnumerateArray().Select(v => v.GetProperty("Name").GetString()!).ToList();

    string VolumeDir(string name) => Path.Combine(daemon.DataRoot, "volumes", name);

    JsonElement Inspect(string container) => Json("GET", $"/v1.43/containers/{container}/json");

    static JsonElement MountAt(JsonElement inspect, string destination) =>
        inspect.GetProperty("Mounts").EnumerateArray().Single(m => m.GetProperty("Destination").GetString() == destination);

    [Fact]
    public void The_volume_api_answers_in_dockers_shapes_and_refuses_what_it_does_not_do()
    {
        var name = Unique("api-");
        var tag = Unique("t");
        var created = Json("POST", "/v1.43/volumes/create", $$$"""{"Name":"{{{name}}}","Driver":"local","DriverOpts":{},"Labels":{"suite":"{{{tag}}}","k":"v"}}""", 201);
        try
        {
            Assert.Equal(name, created.GetProperty("Name").GetString());
            Assert.Equal("local", created.GetProperty("Driver").GetString());
            Assert.Equal("local", created.GetProperty("Scope").GetString());
            Assert.Equal(VolumeDir(name) + "/_data", created.GetProperty("Mountpoint").GetString());
            Assert.Equal(tag, created.GetProperty("Labels").GetProperty("suite").GetString());
            Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", created.GetProperty("CreatedAt").GetString());
            Assert.True(Directory.Exists(VolumeDir(name) + "/_data"));
            // Created again: the same volume (Docker answers the existing one).
            Assert.Equal(created.GetProperty("CreatedAt").GetString(),
                Json("POST", "/v1.43/volumes/create", $$$"""{"Name":"{{{name}}}"}""", 201).GetProperty("CreatedAt").GetString());

            var inspect = Json("GET", $"/v1.43/volumes/{name}");
            Assert.Equal(created.GetRawText(), inspect.GetRawText());
            var list = Json("GET", "/v1.43/volumes");
            Assert.Equal(JsonValueKind.Array, list.GetProperty("Warnings").ValueKind);
            Assert.Contains(name, Listed());
            Assert.Equal([name], Listed("?filters=" + Filters("label", "suite=" + tag)));
            Assert.Equal([name], Listed("?filters=" + Filters("label", "suite=" + tag, "k")));
            Assert.Empty(Listed("?filters=" + Filters("label", "suite=" + tag, "k=other")));
            Assert.Contains(name, Listed("?filters=" + Filters("name", name[4..])));
            Assert.DoesNotContain(name, Listed("?filters=" + Filters("name", "no-such-" + tag)));
            Assert.Contains(name, Listed("?filters=" + Filters("dangling", "true")));
            Assert.DoesNotContain(name, Listed("?filters=" + Filters("dangling", "false")));
            Assert.Contains(name, Listed("?filters=" + Filters("driver", "local")));
            Assert.Contains("invalid filter 'colour'", Refused("GET", "/v1.43/volumes?filters=" + Filters("colour", "red"), null, 400));
        }
        finally { Request("DELETE", $"/v1.43/volumes/{name}"); }

        var (head, _) = Request("DELETE", $"/v1.43/volumes/{name}");
        Assert.StartsWith("HTTP/1.1 404 ", head);
        Assert.Contains("no such volume", Refused("GET", $"/v1.43/volumes/{name}", null, 404));
        Assert.StartsWith("HTTP/1.1 204 ", Request("DELETE", $"/v1.43/volumes/{name}?force=1").Head);
        Assert.False(Directory.Exists(VolumeDir(name)));

        // Refusals name what is refused; nothing is left on disk by them.
        Assert.Contains("\"nfs\"", Refused("POST", "/v1.43/volumes/create", """{"Name":"x1","Driver":"nfs"}""", 400));
        Assert.Contains("\"type\"", Refused("POST", "/v1.43/volumes/create", """{"Name":"x2","DriverOpts":{"type":"tmpfs"}}""", 400));
        Assert.Contains("ClusterVolumeSpec", Refused("POST", "/v1.43/volumes/create", """{"Name":"x3","ClusterVolumeSpec":{"Group":"g"}}""", 400));
        foreach (var bad in new[] { "../escape", "a/../../b", ".hidden", "x", "with space", "a/b" })
            Assert.Contains("invalid characters", Refused("POST", "/v1.43/volumes/create", JsonSerializer.Serialize(new { Name = bad }), 400));
        Assert.False(File.Exists(Path.Combine(daemon.DataRoot, "escape")));
        Assert.Equal(["x1", "x2", "x3"], new[] { "x1", "x2", "x3" }.Where(n => !Directory.Exists(VolumeDir(n))));
        // A name with ../ in -v is refused too (it would be a relative host path to Docker as well).
        var r = daemon.Gocker("run", "--rm", "--network", "none", "-v", "../x:/data", "busybox", "true");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("invalid characters", r.Stderr);
    }

    [Fact]
    public void A_named_volume_is_made_by_run_shared_by_containers_and_outlives_them()
    {
        var vol = Unique("named-");
        var a = Unique("va-");
        try
        {
            Ok("run", "--name", a, "--network", "none", "-v", vol + ":/data", "busybox", "sh", "-c", "echo kept > /data/f");
            var inspect = Inspect(a);
            var m = MountAt(inspect, "/data");
            Assert.Equal("volume", m.GetProperty("Type").GetString());
            Assert.Equal(vol, m.GetProperty("Name").GetString());
            Assert.Equal(VolumeDir(vol) + "/_data", m.GetProperty("Source").GetString());
            Assert.Equal("local", m.GetProperty("Driver").GetString());
            Assert.Equal("z", m.GetProperty("Mode").GetString());
            Assert.True(m.GetProperty("RW").GetBoolean());
            Assert.Equal("", m.GetProperty("Propagation").GetString());
            Assert.Contains(vol + ":/data", inspect.GetProperty("HostConfig").GetProperty("Binds").EnumerateArray().Select(b => b.GetString()));
            Assert.Contains(vol, Listed("?filters=" + Filters("dangling", "false")));

            // In use by a stopped container: refused, naming it; `rm -v` keeps a named volume.
            Assert.Contains("volume is in use", Refused("DELETE", $"/v1.43/volumes/{vol}", null, 409));
            var id = inspect.GetProperty("Id").GetString()!;
            Assert.Contains(id, Refused("DELETE", $"/v1.43/volumes/{vol}?force=1", null, 409));
            Ok("rm", "-v", a);
            Assert.Equal("kept\n", File.ReadAllText(VolumeDir(vol) + "/_data/f"));
            Assert.Equal("kept", Ok("run", "--rm", "--network", "none", "-v", vol + ":/other:ro", "busybox", "cat", "/other/f"));
            Assert.Contains(vol, Listed("?filters=" + Filters("dangling", "true")));
        }
        finally
        {
            daemon.Gocker("rm", "-f", a);
            daemon.Gocker("volume", "rm", "-f", vol);
        }
        Assert.False(Directory.Exists(VolumeDir(vol)));
    }

    /// <summary>An image with VOLUME /keep and /srv: /keep holds what the layers leave (keep/a is
    /// whited out by the top layer), /srv is owned by 1000:1000 with mode 0750.</summary>
    string LoadVolumeImage()
    {
        var name = Unique("volimg-") + ":1";
        var layers = ImageArchives.ThreeLayers(withBusybox: true).Append(
            new TarBuilder().Dir("srv", 0b111_101_000, uid: 1000, gid: 1000).File("srv/data", "image data\n", 0b110_100_000, uid: 1000, gid: 1000)
                .Symlink("srv/link", "/etc/base").Bytes()).ToArray();
        var config = ImageArchives.Config(layers, cmd: ["sh"]);
        config["config"]!["Volumes"] = new JsonObject { ["/keep"] = new JsonObject(), ["/srv"] = new JsonObject() };
        var tar = Path.Combine(daemon.Root, Unique("img-") + ".tar");
        File.WriteAllBytes(tar, ImageArchives.DockerSave(layers, config, [name]));
        Ok("load", "-i", tar);
        File.Delete(tar);
        return name;
    }

    [Fact]
    public void Anonymous_volumes_for_dash_v_and_the_images_VOLUME_get_the_images_content_and_go_with_rm_v()
    {
        var image = LoadVolumeImage();
        var c = Unique("anon-");
        try
        {
            Assert.Contains("\"/srv\"", Ok("image", "inspect", image));
            Ok("run", "--name", c, "--network", "none", "-v", "/scratch", image, "sh", "-c", "echo s > /scratch/s; echo k > /keep/new");
            var mounts = Inspect(c).GetProperty("Mounts").EnumerateArray().ToList();
            Assert.Equal(["/keep", "/scratch", "/srv"], mounts.Select(m => m.GetProperty("Destination").GetString()).Order());
            var names = new List<string>();
            foreach (var m in mounts)
            {
                Assert.Equal("volume", m.GetProperty("Type").GetString());
                var name = m.GetProperty("Name").GetString()!;
                Assert.Matches("^[0-9a-f]{64}$", name);
                names.Add(name);
                var vol = Json("GET", $"/v1.43/volumes/{name}");
                Assert.True(vol.GetProperty("Labels").TryGetProperty("com.docker.volume.anonymous", out _), vol.GetRawText());
            }
            string Data(string dst) => MountAt(Inspect(c), dst).GetProperty("Source").GetString()!;
            // Copy-up: what the image has there, whiteouts applied, owners and modes kept, symlinks as symlinks.
            Assert.Equal(["b", "new"], Directory.GetFileSystemEntries(Data("/keep")).Select(Path.GetFileName).Order());
            Assert.Equal("b", File.ReadAllText(Path.Combine(Data("/keep"), "b")));
            Assert.Equal("image data\n", File.ReadAllText(Path.Combine(Data("/srv"), "data")));
            Assert.True(Gocker.Syscalls.Native.Sys.TryStatOwner(Gocker.Syscalls.Native.Consts.AT_FDCWD, Data("/srv"), false, out var mode, out var uid, out var gid, out _));
            Assert.Equal((1000u, 1000u, 0b111_101_000), (uid, gid, mode & 0xfff));
            Assert.True(Gocker.Syscalls.Native.Sys.TryStatOwner(Gocker.Syscalls.Native.Consts.AT_FDCWD, Path.Combine(Data("/srv"), "data"), false, out mode, out uid, out _, out _));
            Assert.Equal((1000u, 0b110_100_000), (uid, mode & 0xfff));
            Assert.Equal("/etc/base", new FileInfo(Path.Combine(Data("/srv"), "link")).LinkTarget);
            Assert.Equal("s\n", File.ReadAllText(Path.Combine(Data("/scratch"), "s")));

            // A plain prune keeps volumes in use; `rm -v` takes the anonymous ones.
            Assert.DoesNotContain(names[0], Json("POST", "/v1.43/volumes/prune").GetProperty("VolumesDeleted").EnumerateArray().Select(e => e.GetString()));
            Ok("rm", "-v", c);
            foreach (var n in names) Assert.False(Directory.Exists(VolumeDir(n)), n);

            // nocopy: the volume stays empty; without -v they stay, and a plain prune takes them.
            var c2 = Unique("anon2-");
            Ok("run", "--name", c2, "--network", "none", "--mount", "type=volume,target=/srv,volume-nocopy", image, "sh", "-c", "ls -A /srv | wc -l");
            Assert.Equal("0", Ok("logs", c2));
            var left = Inspect(c2).GetProperty("Mounts").EnumerateArray().Select(m => m.GetProperty("Name").GetString()!).ToList();
            Assert.Equal(2, left.Count); // /srv (nocopy) and the image's /keep
            Ok("rm", c2);
            foreach (var n in left) Assert.True(Directory.Exists(VolumeDir(n)), n);
            var pruned = Json("POST", "/v1.43/volumes/prune");
            Assert.Equal(left.Order(), pruned.GetProperty("VolumesDeleted").EnumerateArray().Select(e => e.GetString()!).Where(left.Contains).Order());
            Assert.True(pruned.GetProperty("SpaceReclaimed").GetInt64() > 0);

            // --rm: its anonymous volumes go with it.
            Ok("run", "--rm", "--network", "none", "-v", "/tmpvol", image, "true");
        }
        finally
        {
            daemon.Gocker("rm", "-f", "-v", c);
            daemon.Gocker("rmi", image);
        }
    }

    [Fact]
    public void Prune_takes_anonymous_volumes_unless_all_and_follows_label_filters()
    {
        var tag = Unique("p");
        string[] named = [Unique("pa-"), Unique("pb-"), Unique("pc-")];
        try
        {
            Json("POST", "/v1.43/volumes/create", $$$"""{"Name":"{{{named[0]}}}","Labels":{"suite":"{{{tag}}}","keep":"no"}}""", 201);
            Json("POST", "/v1.43/volumes/create", $$$"""{"Name":"{{{named[1]}}}","Labels":{"suite":"{{{tag}}}","keep":"yes"}}""", 201);
            Json("POST", "/v1.43/volumes/create", $$$"""{"Name":"{{{named[2]}}}"}""", 201);
            var user = Unique("pu-");
            Ok("create", "--name", user, "--network", "none", "-v", named[0] + ":/x", "busybox", "true");
            try
            {
                // Default: anonymous only: none of these named ones go.
                var plain = Json("POST", "/v1.43/volumes/prune?filters=" + Filters("label", "suite=" + tag));
                Assert.Empty(plain.GetProperty("VolumesDeleted").EnumerateArray());
                // all=true with a label: only the unused, labelled ones; not the one in use.
                var all = Uri.EscapeDataString(JsonSerializer.Serialize(new Dictionary<string, string[]> { ["all"] = ["true"], ["label"] = ["suite=" + tag], ["label!"] = ["keep=yes"] }));
                Assert.Empty(Json("POST", "/v1.43/volumes/prune?filters=" + all).GetProperty("VolumesDeleted").EnumerateArray());
                Assert.True(Directory.Exists(VolumeDir(named[0])));
            }
            finally { Ok("rm", user); }
            var r = daemon.Gocker("volume", "prune", "-a", "-f", "--filter", "label=suite=" + tag, "--filter", "label!=keep=yes");
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Contains(named[0], r.Stdout);
            Assert.Contains("Total reclaimed space:", r.Stdout);
            Assert.False(Directory.Exists(VolumeDir(named[0])));
            Assert.True(Directory.Exists(VolumeDir(named[1])));
            Assert.True(Directory.Exists(VolumeDir(named[2])));
            Assert.Contains("invalid filter 'dangling'", Refused("POST", "/v1.43/volumes/prune?filters=" + Filters("dangling", "true"), null, 400));
        }
        finally { foreach (var n in named) daemon.Gocker("volume", "rm", "-f", n); }
    }

    [Fact]
    public void Mount_bind_volume_and_tmpfs_work_and_read_only_ones_refuse_writes()
    {
        var host = Path.Combine(daemon.Root, Unique("bind-"));
        Directory.CreateDirectory(host);
        File.WriteAllText(Path.Combine(host, "h"), "from host\n");
        var vol = Unique("mv-");
        var c = Unique("mnt-");
        try
        {
            var script = "cat /b/h; echo w > /b/w 2>/dev/null && echo bind-writable; echo x > /v/x; " +
                         "echo y > /vr/y 2>/dev/null && echo vol-ro-writable; grep ' /t ' /proc/mounts; stat -c %a /t; " +
                         "echo z > /t/z && cat /t/z; echo q > /bro/q 2>/dev/null && echo bind-ro-writable; true";
            var output = Ok("run", "--name", c, "--network", "none",
                "--mount", $"type=bind,source={host},target=/b",
                "--mount", $"type=bind,src={host},dst=/bro,readonly",
                "--mount", $"type=volume,source={vol},target=/v,volume-label=suite=m",
                "--mount", $"type=volume,source={vol},target=/vr,ro",
                "--mount", "type=tmpfs,target=/t,tmpfs-size=2m,tmpfs-mode=1770",
                "busybox", "sh", "-c", script);
            Assert.Contains("from host", output);
            Assert.Contains("bind-writable", output);
            Assert.DoesNotContain("vol-ro-writable", output);
            Assert.DoesNotContain("bind-ro-writable", output);
            Assert.Contains("size=2048k", output);
            Assert.Contains("1770", output);
            Assert.Contains("z", output);
            Assert.False(File.Exists(Path.Combine(host, "q")));
            Assert.Equal("x\n", File.ReadAllText(VolumeDir(vol) + "/_data/x"));
            Assert.Equal("m", Json("GET", $"/v1.43/volumes/{vol}").GetProperty("Labels").GetProperty("suite").GetString());

            var inspect = Inspect(c);
            var b = MountAt(inspect, "/bro");
            Assert.Equal(("bind", host, false, "rprivate"), (b.GetProperty("Type").GetString(), b.GetProperty("Source").GetString(), b.GetProperty("RW").GetBoolean(), b.GetProperty("Propagation").GetString()));
            Assert.False(b.TryGetProperty("Name", out _));
            var t = MountAt(inspect, "/t");
            Assert.Equal(("tmpfs", "", true), (t.GetProperty("Type").GetString(), t.GetProperty("Source").GetString(), t.GetProperty("RW").GetBoolean()));
            Assert.False(MountAt(inspect, "/vr").GetProperty("RW").GetBoolean());
        }
        finally
        {
            daemon.Gocker("rm", "-f", c);
            daemon.Gocker("volume", "rm", "-f", vol);
        }

        // Refusals name what they refuse; the request never creates anything.
        string Bad(string json) => Refused("POST", "/v1.43/containers/create", json, 400);
        Assert.Contains("Propagation \"rshared\"", Bad($$$"""{"Image":"busybox","HostConfig":{"Mounts":[{"Type":"bind","Source":"{{{host}}}","Target":"/b","BindOptions":{"Propagation":"rshared"}}]}}"""));
        Assert.Contains("NonRecursive", Bad($$$"""{"Image":"busybox","HostConfig":{"Mounts":[{"Type":"bind","Source":"{{{host}}}","Target":"/b","BindOptions":{"NonRecursive":true}}]}}"""));
        Assert.Contains("\"npipe\"", Bad("""{"Image":"busybox","HostConfig":{"Mounts":[{"Type":"npipe","Source":"x","Target":"/b"}]}}"""));
        Assert.Contains("bind source path does not exist", Bad("""{"Image":"busybox","HostConfig":{"Mounts":[{"Type":"bind","Source":"/no/such/dir","Target":"/b"}]}}"""));
        Assert.Contains("\"type\"", Bad("""{"Image":"busybox","HostConfig":{"Mounts":[{"Type":"volume","Target":"/v","VolumeOptions":{"DriverConfig":{"Options":{"type":"nfs"}}}}]}}"""));
        Assert.Contains("Subpath", Bad("""{"Image":"busybox","HostConfig":{"Mounts":[{"Type":"volume","Target":"/v","VolumeOptions":{"Subpath":"a"}}]}}"""));
        Assert.Contains("Duplicate mount point: /d", Bad("""{"Image":"busybox","HostConfig":{"Binds":["va1:/d"],"Mounts":[{"Type":"tmpfs","Target":"/d"}]}}"""));
        Assert.Contains("invalid characters", Bad("""{"Image":"busybox","HostConfig":{"Mounts":[{"Type":"volume","Source":"../up","Target":"/v"}]}}"""));
        Assert.Contains("/proc", Bad("""{"Image":"busybox","Volumes":{"/proc":{}}}"""));
        Assert.False(Directory.Exists(VolumeDir("va1")));
        var cli = daemon.Gocker("run", "--rm", "--mount", "type=bind,src=/tmp,dst=/x,bogus=1", "busybox", "true");
        Assert.Equal(125, cli.ExitCode);
        Assert.Contains("bogus", cli.Stderr);
    }

    [Fact]
    public void Gocker_volume_commands_create_list_inspect_and_remove()
    {
        var vol = Unique("cli-");
        var tag = Unique("c");
        Assert.Equal(vol, Ok("volume", "create", "--label", "suite=" + tag, vol));
        try
        {
            Assert.Equal(vol, Ok("volume", "ls", "-q", "--filter", "label=suite=" + tag));
            var table = Ok("volume", "ls", "-f", "label=suite=" + tag);
            Assert.Matches(@"^DRIVER\s+VOLUME NAME\nlocal\s+" + vol + "$", table);
            using var doc = JsonDocument.Parse(Ok("volume", "inspect", vol));
            Assert.Equal(tag, doc.RootElement[0].GetProperty("Labels").GetProperty("suite").GetString());
            var opt = daemon.Gocker("volume", "create", "-o", "type=tmpfs", Unique("o-"));
            Assert.NotEqual(0, opt.ExitCode);
            Assert.Contains("\"type\"", opt.Stderr);
            var missing = daemon.Gocker("volume", "inspect", "no-such-" + tag);
            Assert.Equal(1, missing.ExitCode);
            Assert.Contains("No such volume", missing.Stderr);
            Assert.Equal(vol, Ok("volume", "rm", vol));
            Assert.Equal("", Ok("volume", "ls", "-q", "--filter", "label=suite=" + tag));
            Assert.Equal("gone", Ok("volume", "rm", "-f", "gone"));
        }
        finally { daemon.Gocker("volume", "rm", "-f", vol); }
    }

    [Fact]
    public void System_df_lists_volumes_with_their_size_and_users()
    {
        var vol = Unique("df-");
        var c = Unique("dfc-");
        try
        {
            Ok("create", "--name", c, "--network", "none", "-v", vol + ":/d", "busybox", "true");
            File.WriteAllBytes(VolumeDir(vol) + "/_data/blob", new byte[5000]);
            var v = Json("GET", "/v1.43/system/df").GetProperty("Volumes").EnumerateArray().Single(x => x.GetProperty("Name").GetString() == vol);
            Assert.Equal(5000, v.GetProperty("UsageData").GetProperty("Size").GetInt64());
            Assert.Equal(1, v.GetProperty("UsageData").GetProperty("RefCount").GetInt64());
            Assert.False(Json("GET", $"/v1.43/volumes/{vol}").TryGetProperty("UsageData", out _));
        }
        finally
        {
            daemon.Gocker("rm", "-f", c);
            daemon.Gocker("volume", "rm", "-f", vol);
        }
    }

    // ---- the real clients ----------------------------------------------------------------------

    [DockerCliFact]
    public void The_docker_cli_creates_lists_uses_and_removes_volumes()
    {
        var vol = Unique("dk-");
        (int Code, string Out, string Err) Docker(params string[] args) => DockerCliFactAttribute.Run(daemon.Socket, daemon.Root, null, args);
        var r = Docker("volume", "create", "--label", "via=docker", vol);
        Assert.True(r.Code == 0, r.ToString());
        try
        {
            r = Docker("volume", "ls", "--format", "{{.Driver}} {{.Name}}", "--filter", "label=via=docker");
            Assert.True(r.Code == 0, r.ToString());
            Assert.Contains("local " + vol, r.Out);
            r = Docker("run", "--rm", "--network", "none", "-v", vol + ":/data", "busybox", "sh", "-c", "echo via-docker > /data/f");
            Assert.True(r.Code == 0, r.ToString());
            r = Docker("run", "--rm", "--network", "none", "-v", vol + ":/data:ro", "busybox", "sh", "-c", "cat /data/f; touch /data/g || echo ro");
            Assert.True(r.Code == 0, r.ToString());
            Assert.Equal("via-docker\nro\n", r.Out);
            r = Docker("volume", "inspect", "--format", "{{.Mountpoint}}", vol);
            Assert.Equal(VolumeDir(vol) + "/_data\n", r.Out);
            r = Docker("run", "--rm", "--network", "none", "-v", "/anon", "busybox", "true");
            Assert.True(r.Code == 0, r.ToString());
            r = Docker("system", "df", "-v");
            Assert.True(r.Code == 0, r.ToString());
            Assert.Contains(vol, r.Out);
            r = Docker("volume", "rm", vol);
            Assert.True(r.Code == 0, r.ToString());
            Assert.False(Directory.Exists(VolumeDir(vol)));
        }
        finally { Docker("volume", "rm", "-f", vol); }
    }

    const string DockerPyScript = """
        import json, sys, docker
        c = docker.DockerClient(base_url=sys.argv[1], version="1.43")
        name, tag = sys.argv[2], sys.argv[3]
        out = {}
        v = c.volumes.create(name=name, driver="local", labels={"suite": tag})
        out["created"] = v.name
        out["mountpoint"] = v.attrs["Mountpoint"]
        out["got"] = c.volumes.get(name).attrs["Labels"]["suite"]
        out["listed"] = [x.name for x in c.volumes.list(filters={"label": "suite=" + tag})]
        out["run"] = c.containers.run("busybox", ["sh", "-c", "echo py > /v/f; cat /v/f"], volumes={name: {"bind": "/v", "mode": "rw"}},
                                      network_mode="none", remove=True).decode()
        ctr = c.containers.create("busybox", "true", volumes=[name + ":/v"], network_mode="none")
        try:
            v.remove()
            out["in_use"] = "removed"
        except docker.errors.APIError as e:
            out["in_use"] = e.status_code
        ctr.remove(v=True)
        v.remove()
        try:
            c.volumes.get(name)
            out["after"] = "still there"
        except docker.errors.NotFound:
            out["after"] = "gone"
        print(json.dumps(out))
        """;

    [DockerPyFact]
    public void Docker_py_manages_volumes_and_mounts_one()
    {
        var name = Unique("py-");
        var tag = Unique("t");
        try
        {
            using var doc = DockerPy.RunForJson(daemon, DockerPyScript, name, tag);
            var o = doc.RootElement;
            Assert.Equal(name, o.GetProperty("created").GetString());
            Assert.Equal(VolumeDir(name) + "/_data", o.GetProperty("mountpoint").GetString());
            Assert.Equal(tag, o.GetProperty("got").GetString());
            Assert.Equal([name], o.GetProperty("listed").EnumerateArray().Select(e => e.GetString()));
            Assert.Equal("py\n", o.GetProperty("run").GetString());
            Assert.Equal(409, o.GetProperty("in_use").GetInt32());
            Assert.Equal("gone", o.GetProperty("after").GetString());
        }
        finally { daemon.Gocker("volume", "rm", "-f", name); }
    }

    [Fact]
    public async Task Testcontainers_creates_a_volume_and_mounts_it()
    {
        TestcontainersSettings.ResourceReaperEnabled = false;
        var volName = Unique("tcv-");
        var name = Unique("tc-");
        var volume = new VolumeBuilder().WithDockerEndpoint("unix://" + daemon.Socket).WithName(volName).WithCleanUp(false).Build();
        await volume.CreateAsync();
        var container = new ContainerBuilder("busybox:latest")
            .WithDockerEndpoint("unix://" + daemon.Socket)
            .WithImagePullPolicy(DotNet.Testcontainers.Images.PullPolicy.Never)
            .WithName(name)
            .WithVolumeMount(volume, "/data")
            .WithCommand("sh", "-c", "echo tc > /data/f; sleep 300")
            .Build();
        try
        {
            await container.StartAsync();
            var r = await container.ExecAsync(["cat", "/data/f"]);
            Assert.Equal("tc\n", r.Stdout);
            Assert.Equal("tc\n", File.ReadAllText(VolumeDir(volName) + "/_data/f"));
            Assert.Equal("volume", MountAt(Inspect(name), "/data").GetProperty("Type").GetString());
        }
        finally
        {
            await container.DisposeAsync();
            daemon.Gocker("rm", "-f", name);
            await volume.DeleteAsync();
            await volume.DisposeAsync();
        }
        Assert.False(Directory.Exists(VolumeDir(volName)));
    }
}

/// <summary>Volumes across a daemon restart, and with userns-remap: daemons of their own.</summary>
[Trait("Needs", "root")]
public sealed class VolumeDaemonTests
{
    [Fact]
    public void A_named_volume_and_its_use_survive_a_daemon_restart()
    {
        using var d = new LifecycleDaemon();
        var vol = "restart-" + Guid.NewGuid().ToString("N")[..8];
        var c = "rc-" + Guid.NewGuid().ToString("N")[..8];
        d.Ok("run", "--name", c, "--network", "none", "-v", vol + ":/d", "-v", "/anon", "busybox", "sh", "-c", "echo before > /d/f");
        d.Stop();
        d.Start();
        Assert.Equal(vol, d.Ok("volume", "ls", "-q", "--filter", "name=" + vol));
        // Still in use by the stopped container after the restart.
        var rm = d.Gocker("volume", "rm", vol);
        Assert.NotEqual(0, rm.ExitCode);
        Assert.Contains("volume is in use", rm.Stderr);
        Assert.Equal("before", d.Ok("run", "--rm", "--network", "none", "-v", vol + ":/d", "busybox", "cat", "/d/f"));
        d.Ok("rm", "-v", c);
        d.Ok("volume", "rm", vol);
        Assert.Equal("", d.Ok("volume", "ls", "-q"));
        d.AssertNoLeaks();
    }

    [Fact]
    public void With_userns_remap_a_new_volume_belongs_to_the_containers_root_and_copy_up_maps_owners()
    {
        using var d = new LifecycleDaemon(configHocon: "gocker { userns-remap = default }");
        var map = Gocker.Syscalls.Security.SubIds.Resolve("default");
        var vol = "remap-" + Guid.NewGuid().ToString("N")[..8];
        // /etc of busybox: copied up into the new volume, as the container's root sees it.
        Assert.Equal("0:0 written", d.Ok("run", "--rm", "--network", "none", "-v", vol + ":/etc", "busybox", "sh", "-c",
            "echo written > /etc/w && echo \"$(stat -c %u:%g /etc/passwd) $(cat /etc/w)\""));
        var data = Path.Combine(d.DataRoot, "volumes", vol, "_data");
        foreach (var path in new[] { data, Path.Combine(data, "passwd"), Path.Combine(data, "w") })
        {
            Assert.True(Gocker.Syscalls.Native.Sys.TryStatOwner(Gocker.Syscalls.Native.Consts.AT_FDCWD, path, false, out _, out var uid, out var gid, out _), path);
            Assert.Equal((map.HostUid, map.HostGid), (uid, gid));
        }
        d.Ok("volume", "rm", vol);
        d.AssertNoLeaks();
    }
}
