using System.Diagnostics;
using System.Formats.Tar;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using DotNet.Testcontainers.Builders;
using DotNet.Testcontainers.Configurations;

namespace Gocker.Tests.Integration;

/// <summary>
/// The archive API (HEAD/GET/PUT /containers/ID/archive) and `gocker cp`, on running and stopped
/// containers, through raw HTTP, gocker, the docker CLI, docker-py and Testcontainers; and the attacks
/// it must hold against: symlinks of the container pointing at host paths (planted, or swapped in a
/// loop while copies run: CVE-2018-15664), tars with "..", absolute names and escaping links.
/// </summary>
[Trait("Needs", "root")]
public sealed class ArchiveTests(DaemonFixture daemon) : IClassFixture<DaemonFixture>, IDisposable
{
    public void Dispose() => daemon.AssertNoLeaks();

    static string Unique(string prefix) => prefix + Guid.NewGuid().ToString("N")[..8];

    string Ok(params string[] args)
    {
        var r = daemon.Gocker(args);
        Assert.True(r.ExitCode == 0, $"gocker {string.Join(' ', args)}: {r}");
        return r.Stdout.Trim();
    }

    internal static HttpClient Client(string socket) => new(new SocketsHttpHandler
    {
        ConnectCallback = async (_, ct) =>
        {
            var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await s.ConnectAsync(new UnixDomainSocketEndPoint(socket), ct);
            return new NetworkStream(s, ownsSocket: true);
        },
    }) { BaseAddress = new Uri("http://gocker/v1.43/") };

    internal static byte[] Tar(Action<TarWriter> build)
    {
        var ms = new MemoryStream();
        using (var w = new TarWriter(ms, TarEntryFormat.Pax, leaveOpen: true)) build(w);
        return ms.ToArray();
    }

    internal static void File(TarWriter w, string name, string content, int mode = 0b110_100_100, int uid = 0, int gid = 0) =>
        w.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name)
        {
            DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content)), Mode = (UnixFileMode)mode, Uid = uid, Gid = gid,
            ModificationTime = new DateTimeOffset(2020, 1, 2, 3, 4, 5, TimeSpan.Zero),
        });

    internal static async Task<HttpResponseMessage> Put(HttpClient c, string id, string path, byte[] tar, string extra = "")
    {
        var content = new ByteArrayContent(tar);
        content.Headers.ContentType = new("application/x-tar");
        return await c.PutAsync($"containers/{id}/archive?path={Uri.EscapeDataString(path)}{extra}", content);
    }

    internal static JsonElement StatHeader(HttpResponseMessage r)
    {
        Assert.True(r.Headers.TryGetValues("X-Docker-Container-Path-Stat", out var v), "no stat header: " + r);
        return JsonDocument.Parse(Convert.FromBase64String(v.Single())).RootElement;
    }

    /// <summary>name -> (type, content, mode, uid, gid, link) of a tar.</summary>
    internal static Dictionary<string, (TarEntryType Type, string Content, int Mode, int Uid, int Gid, string Link)> ReadTar(byte[] tar)
    {
        var d = new Dictionary<string, (TarEntryType, string, int, int, int, string)>();
        using var r = new TarReader(new MemoryStream(tar));
        TarEntry? e;
        while ((e = r.GetNextEntry()) is not null)
        {
            var content = e.DataStream is { } s ? new StreamReader(s).ReadToEnd() : "";
            d[e.Name] = (e.EntryType, content, (int)e.Mode, e.Uid, e.Gid, e.LinkName);
        }
        return d;
    }

    [Fact]
    public async Task Put_get_and_head_on_a_running_container_with_dockers_answers()
    {
        var id = Ok("run", "-d", "--network", "none", "busybox", "sh", "-c", "mkdir /data; echo in-image > /data/old; sleep 300");
        try
        {
            using var c = Client(daemon.Socket);
            var tar = Tar(w =>
            {
                w.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "d/") { Mode = (UnixFileMode)0b111_101_000, Uid = 1234, Gid = 99 });
                File(w, "d/f", "hello archive\n", mode: 0b110_100_000, uid: 1234, gid: 99);
                w.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "d/link") { LinkName = "/etc/hostname" });
            });
            var put = await Put(c, id, "/data", tar);
            Assert.True(put.StatusCode == HttpStatusCode.OK, await put.Content.ReadAsStringAsync());
            Assert.Equal("hello archive\n1234:99 640\n1234:99 750\nin-image", Ok("exec", id, "sh", "-c",
                "cat /data/d/f; stat -c '%u:%g %a' /data/d/f /data/d; cat /data/old"));

            // HEAD: Docker's stat header (Go FileMode bits: 640, a directory's bit 31, a symlink's 27 and its target).
            var head = await c.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"containers/{id}/archive?path=/data/d/f"));
            Assert.Equal(HttpStatusCode.OK, head.StatusCode);
            var st = StatHeader(head);
            Assert.Equal("f", st.GetProperty("name").GetString());
            Assert.Equal(14, st.GetProperty("size").GetInt64());
            Assert.Equal(0b110_100_000u, st.GetProperty("mode").GetUInt32());
            Assert.StartsWith("2020-01-02T03:04:05", st.GetProperty("mtime").GetString());
            var dirStat = StatHeader(await c.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"containers/{id}/archive?path=/data/d/")));
            Assert.Equal("d", dirStat.GetProperty("name").GetString());
            Assert.Equal((1u << 31) | 0b111_101_000u, dirStat.GetProperty("mode").GetUInt32());
            var linkStat = StatHeader(await c.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"containers/{id}/archive?path=/data/d/link")));
            Assert.NotEqual(0u, linkStat.GetProperty("mode").GetUInt32() & (1u << 27));
            Assert.Equal("/etc/hostname", linkStat.GetProperty("linkTarget").GetString());

            // GET: the stat header and a tar whose entries start with the requested name.
            var get = await c.GetAsync($"containers/{id}/archive?path=/data/d");
            Assert.Equal(HttpStatusCode.OK, get.StatusCode);
            Assert.Equal("d", StatHeader(get).GetProperty("name").GetString());
            var entries = ReadTar(await get.Content.ReadAsByteArrayAsync());
            Assert.Equal(["d/", "d/f", "d/link"], entries.Keys.Order(StringComparer.Ordinal));
            Assert.Equal("hello archive\n", entries["d/f"].Content);
            Assert.Equal((1234, 99), (entries["d/f"].Uid, entries["d/f"].Gid));
            Assert.Equal("/etc/hostname", entries["d/link"].Link);
            // "/." gives the contents; a file alone is one entry.
            var dot = ReadTar(await (await c.GetAsync($"containers/{id}/archive?path=/data/d/.")).Content.ReadAsByteArrayAsync());
            Assert.Contains("f", dot.Keys);
            var one = ReadTar(await (await c.GetAsync($"containers/{id}/archive?path=/data/old")).Content.ReadAsByteArrayAsync());
            Assert.Equal(["old"], one.Keys);

            // Errors as Docker answers them.
            Assert.Equal(HttpStatusCode.NotFound, (await c.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"containers/{id}/archive?path=/nope"))).StatusCode);
            var missing = await c.GetAsync($"containers/{id}/archive?path=/nope/x");
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
            Assert.Contains("Could not find the file /nope/x", await missing.Content.ReadAsStringAsync());
            Assert.Equal(HttpStatusCode.NotFound, (await c.GetAsync("containers/no-such-container/archive?path=/")).StatusCode);
            Assert.Equal(HttpStatusCode.BadRequest, (await c.GetAsync($"containers/{id}/archive")).StatusCode);
            var notDir = await Put(c, id, "/data/old", tar);
            Assert.Equal(HttpStatusCode.BadRequest, notDir.StatusCode);
            Assert.Contains("extraction point is not a directory", await notDir.Content.ReadAsStringAsync());
            Assert.Equal(HttpStatusCode.NotFound, (await Put(c, id, "/nope", tar)).StatusCode);
            // noOverwriteDirNonDir: a file never replaces a directory.
            var clash = await Put(c, id, "/data", Tar(w => File(w, "d", "x")), "&noOverwriteDirNonDir=1");
            Assert.Equal(HttpStatusCode.BadRequest, clash.StatusCode);
            Assert.Contains("cannot overwrite directory", await clash.Content.ReadAsStringAsync());
        }
        finally { daemon.Gocker("rm", "-f", id); }
    }

    [Fact]
    public async Task Put_and_get_on_created_and_exited_containers_mount_nothing_that_stays()
    {
        var id = Ok("create", "--network", "none", "busybox", "cat", "/etc/copied-in");
        try
        {
            using var c = Client(daemon.Socket);
            var put = await Put(c, id, "/etc", Tar(w => File(w, "copied-in", "into a created container\n")));
            Assert.True(put.StatusCode == HttpStatusCode.OK, await put.Content.ReadAsStringAsync());
            AssertNoArchiveMounts();
            Ok("start", id);
            Assert.Equal("0", Ok("wait", id));
            Assert.Equal("into a created container", Ok("logs", id));

            // Exited: written again and read back; the image's files show through the overlay.
            var put2 = await Put(c, id, "/", Tar(w => File(w, "etc/copied-in", "into an exited one\n")));
            Assert.True(put2.StatusCode == HttpStatusCode.OK, await put2.Content.ReadAsStringAsync());
            var get = await c.GetAsync($"containers/{id}/archive?path=/etc/copied-in");
            Assert.Equal(HttpStatusCode.OK, get.StatusCode);
            Assert.Equal("into an exited one\n", ReadTar(await get.Content.ReadAsByteArrayAsync())["copied-in"].Content);
            var busybox = await c.GetAsync($"containers/{id}/archive?path=/bin/busybox");
            Assert.Equal(HttpStatusCode.OK, busybox.StatusCode);
            Assert.True(StatHeader(busybox).GetProperty("size").GetInt64() > 100_000);
            AssertNoArchiveMounts();
            Assert.Empty(Directory.GetDirectories(Path.Combine(daemon.DataRoot, "containers", id), "archive-work-*"));
            Ok("start", "-a", id);
            Assert.Equal("into an exited one", Ok("logs", "--tail", "1", id));
        }
        finally { daemon.Gocker("rm", "-f", id); }
    }

    [Fact]
    public async Task Volumes_are_reached_as_the_container_sees_them_and_read_only_ones_are_403()
    {
        var vol = Path.Combine(daemon.Root, Unique("vol-"));
        var ro = Path.Combine(daemon.Root, Unique("rovol-"));
        Directory.CreateDirectory(vol);
        Directory.CreateDirectory(ro);
        System.IO.File.WriteAllText(Path.Combine(vol, "on-host"), "volume content\n");
        var id = Ok("run", "-d", "--network", "none", "--read-only", "-v", vol + ":/vol", "-v", ro + ":/ro:ro", "busybox", "sleep", "300");
        try
        {
            using var c = Client(daemon.Socket);
            foreach (var running in new[] { true, false })
            {
                var put = await Put(c, id, "/vol", Tar(w => File(w, "copied-" + running, "x\n")));
                Assert.True(put.StatusCode == HttpStatusCode.OK, $"running={running}: {await put.Content.ReadAsStringAsync()}");
                Assert.Equal("x\n", System.IO.File.ReadAllText(Path.Combine(vol, "copied-" + running)));
                var get = await c.GetAsync($"containers/{id}/archive?path=/vol/on-host");
                Assert.True(get.StatusCode == HttpStatusCode.OK, $"running={running}: {await get.Content.ReadAsStringAsync()}");
                Assert.Equal("volume content\n", ReadTar(await get.Content.ReadAsByteArrayAsync())["on-host"].Content);

                var toRo = await Put(c, id, "/ro", Tar(w => File(w, "nope", "x")));
                Assert.Equal(HttpStatusCode.Forbidden, toRo.StatusCode);
                Assert.Contains("read-only", await toRo.Content.ReadAsStringAsync());
                var toRootfs = await Put(c, id, "/tmp", Tar(w => File(w, "nope", "x")));
                Assert.Equal(HttpStatusCode.Forbidden, toRootfs.StatusCode);
                Assert.Contains("container rootfs is marked read-only", await toRootfs.Content.ReadAsStringAsync());
                Assert.Empty(Directory.GetFileSystemEntries(ro));
                if (running) Ok("stop", "-t", "0", id);
                AssertNoArchiveMounts();
            }
            // The stopped container's upper dir got no copy of what went into its volume.
            Assert.False(System.IO.File.Exists(Path.Combine(daemon.DataRoot, "containers", id, "upper", "vol", "copied-False")));
        }
        finally { daemon.Gocker("rm", "-f", id); }
    }

    [Fact]
    public async Task The_containers_kernel_filesystems_are_never_read_or_written_by_a_copy()
    {
        var corePattern = System.IO.File.ReadAllText("/proc/sys/kernel/core_pattern");
        var id = Ok("run", "-d", "--network", "none", "busybox", "sleep", "300");
        try
        {
            using var c = Client(daemon.Socket);
            // Its /proc is an empty directory in a copy, as in Docker's view of the rootfs; its files are not there.
            var proc = await c.GetAsync($"containers/{id}/archive?path=/proc");
            Assert.Equal(HttpStatusCode.OK, proc.StatusCode);
            Assert.Equal(["proc/"], ReadTar(await proc.Content.ReadAsByteArrayAsync()).Keys);
            Assert.Equal(HttpStatusCode.NotFound, (await c.GetAsync($"containers/{id}/archive?path=/proc/1/environ")).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await c.GetAsync($"containers/{id}/archive?path=/proc/kcore")).StatusCode);
            // The host's kernel settings and cgroups are out of reach (the daemon is the host's root there).
            var core = await Put(c, id, "/", Tar(w => File(w, "proc/sys/kernel/core_pattern", "|/tmp/pwned %p")));
            Assert.Equal(HttpStatusCode.Forbidden, core.StatusCode);
            var cgroup = await Put(c, id, "/sys/fs/cgroup", Tar(w => w.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "evil/"))));
            Assert.True(cgroup.StatusCode is HttpStatusCode.Forbidden or HttpStatusCode.NotFound, $"{(int)cgroup.StatusCode}");
            Assert.Equal(corePattern, System.IO.File.ReadAllText("/proc/sys/kernel/core_pattern"));
            Assert.Empty(daemon.CgroupParentDirs().SelectMany(d => Directory.GetDirectories(d, "evil", SearchOption.AllDirectories)));
        }
        finally { daemon.Gocker("rm", "-f", id); }
    }

    int DaemonFds() => Directory.GetFiles($"/proc/{daemon.DaemonPid}/fd").Length;

    void AssertNoArchiveMounts()
    {
        var left = System.IO.File.ReadAllLines("/proc/self/mountinfo").Where(l => l.Contains(daemon.Root) && l.Contains("overlay")).ToList();
        Assert.True(left.Count == 0, "overlay mounts on the host:\n" + string.Join('\n', left));
    }

    [Fact]
    public async Task Symlinks_of_the_container_to_host_paths_resolve_inside_it_running_and_stopped()
    {
        // A host directory with a file only the host has; the container gets the same path with its own file.
        var hostDir = Path.Combine(daemon.Root, Unique("hostdir-"));
        Directory.CreateDirectory(hostDir);
        System.IO.File.WriteAllText(Path.Combine(hostDir, "victim"), "HOST ORIGINAL\n");
        var id = Ok("run", "-d", "--network", "none", "busybox", "sh", "-c",
            $"mkdir -p {hostDir}; echo container-copy > {hostDir}/victim; ln -s / /hostroot; ln -s /etc /etclink; " +
            $"ln -s {hostDir} /abs; ln -s ../../../../../../../../.. /up; touch /ready; sleep 300");
        try
        {
            for (int i = 0; i < 200 && daemon.Gocker("exec", id, "test", "-e", "/ready").ExitCode != 0; i++) Thread.Sleep(50);
            using var c = Client(daemon.Socket);
            foreach (var running in new[] { true, false })
            {
                // Out: the container's files, whichever link the path goes through.
                foreach (var path in new[] { "/abs/victim", "/hostroot" + hostDir + "/victim", "/up" + hostDir + "/victim" })
                {
                    var get = await c.GetAsync($"containers/{id}/archive?path={Uri.EscapeDataString(path)}");
                    Assert.True(get.StatusCode == HttpStatusCode.OK, $"{path}: {await get.Content.ReadAsStringAsync()}");
                    // Running: the container's own file; stopped: what the running pass last wrote into it.
                    Assert.Equal(running ? "container-copy\n" : "WRITTEN /up" + hostDir + "\n", ReadTar(await get.Content.ReadAsByteArrayAsync())["victim"].Content);
                }
                var passwd = await c.GetAsync("containers/" + id + "/archive?path=/etclink/passwd");
                Assert.Equal(ReadContainerFile(id, "/etc/passwd", running), ReadTar(await passwd.Content.ReadAsByteArrayAsync())["passwd"].Content);
                // In: through each link, into the container's directory, never the host's.
                foreach (var path in new[] { "/abs", "/hostroot" + hostDir, "/up" + hostDir })
                {
                    var put = await Put(c, id, path, Tar(w => File(w, "victim", "WRITTEN " + path + "\n")));
                    Assert.True(put.StatusCode == HttpStatusCode.OK, $"{path}: {await put.Content.ReadAsStringAsync()}");
                    Assert.Equal("HOST ORIGINAL\n", System.IO.File.ReadAllText(Path.Combine(hostDir, "victim")));
                    Assert.Equal("WRITTEN " + path + "\n", ReadContainerFile(id, hostDir + "/victim", running));
                }
                Assert.Equal(["victim"], Directory.GetFileSystemEntries(hostDir).Select(Path.GetFileName));
                if (running) Ok("stop", "-t", "0", id);
            }
        }
        finally { daemon.Gocker("rm", "-f", id); }
    }

    string ReadContainerFile(string id, string path, bool running)
    {
        if (running) return Ok("exec", id, "cat", path) + "\n";
        using var c = Client(daemon.Socket);
        var bytes = c.GetByteArrayAsync($"containers/{id}/archive?path={Uri.EscapeDataString(path)}").Result;
        return ReadTar(bytes).Single().Value.Content;
    }

    [Fact]
    public async Task Tars_with_dotdot_or_escaping_links_are_refused_and_absolute_names_stay_under_the_destination()
    {
        var id = Ok("run", "-d", "--network", "none", "busybox", "sh", "-c", "mkdir -p /a/b/dest; sleep 300");
        try
        {
            using var c = Client(daemon.Socket);
            var bad = new (string What, byte[] Tar)[]
            {
                ("../", Tar(w => File(w, "../escaped", "x"))),
                ("deep ../", Tar(w => File(w, "x/../../../escaped", "x"))),
                ("escaping symlink", Tar(w => w.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "l") { LinkName = "../../escaped" }))),
                ("write through its own symlink", Tar(w =>
                {
                    w.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "s") { LinkName = "/a" });
                    File(w, "s/escaped", "x");
                })),
                ("escaping hardlink", Tar(w => w.WriteEntry(new PaxTarEntry(TarEntryType.HardLink, "h") { LinkName = "../../../etc/passwd" }))),
                ("device node", Tar(w => w.WriteEntry(new PaxTarEntry(TarEntryType.BlockDevice, "sda") { DeviceMajor = 8, DeviceMinor = 0 }))),
            };
            foreach (var (what, tar) in bad)
            {
                var r = await Put(c, id, "/a/b/dest", tar);
                var body = await r.Content.ReadAsStringAsync();
                Assert.True(r.StatusCode == HttpStatusCode.BadRequest, $"{what}: {(int)r.StatusCode} {body}");
                Assert.Contains("entry ", body);
            }
            // Refused before anything was written outside (a refused archive may leave its earlier entries, as Docker's).
            Assert.Equal("", Ok("exec", id, "sh", "-c", "find / -xdev -name escaped; ls -A /a/b/dest | grep -v '^s$'; true"));
            // An absolute name lands under the destination, as Docker joins it (Testcontainers sends such names).
            var abs = await Put(c, id, "/a/b/dest", Tar(w => File(w, "/escaped", "abs\n")));
            Assert.True(abs.StatusCode == HttpStatusCode.OK, await abs.Content.ReadAsStringAsync());
            Assert.Equal("/a/b/dest/escaped", Ok("exec", id, "find", "/", "-xdev", "-name", "escaped"));
            // On the host, the only one is the container's own (its upper dir, under the destination).
            Assert.Equal([Path.Combine(daemon.DataRoot, "containers", id, "upper", "a", "b", "dest", "escaped")],
                Directory.EnumerateFileSystemEntries(daemon.Root, "escaped", SearchOption.AllDirectories));
            Assert.False(System.IO.File.Exists("/escaped"));
        }
        finally { daemon.Gocker("rm", "-f", id); }
    }

    [Fact]
    public async Task A_symlink_swapped_in_a_loop_during_copies_never_reaches_the_host()
    {
        var hostDir = Path.Combine(daemon.Root, Unique("race-"));
        Directory.CreateDirectory(hostDir);
        var victim = Path.Combine(hostDir, "victim");
        System.IO.File.WriteAllText(victim, "HOST ORIGINAL\n");
        // The container flips /race/d between a directory and a symlink to the host directory's path
        // (which it also has, with its own victim) and to "/", as fast as it can.
        var id = Ok("run", "-d", "--network", "none", "busybox", "sh", "-c",
            $"mkdir -p {hostDir} /race; echo container-copy > {hostDir}/victim; " +
            $"while true; do mkdir /race/d.new; mv -T /race/d.new /race/d 2>/dev/null; rm -rf /race/d; ln -s {hostDir} /race/d; rm -f /race/d; ln -s / /race/d; rm -f /race/d; done");
        try
        {
            using var c = Client(daemon.Socket);
            await Put(c, id, "/race", Tar(w => File(w, "warm-up", "x"))); // the daemon's lazily made descriptors
            int fdsBefore = DaemonFds();
            int ok = 0;
            for (int i = 0; i < 300; i++)
            {
                var put = await Put(c, id, "/race", Tar(w => File(w, "d/victim", $"PUT {i}\n")));
                Assert.True(put.StatusCode is HttpStatusCode.OK or HttpStatusCode.NotFound or HttpStatusCode.BadRequest or HttpStatusCode.InternalServerError,
                    $"{(int)put.StatusCode} {await put.Content.ReadAsStringAsync()}");
                if (put.StatusCode == HttpStatusCode.OK) ok++;
                using var get = await c.GetAsync("containers/" + id + "/archive?path=/race/d/victim", HttpCompletionOption.ResponseHeadersRead);
                if (get.StatusCode == HttpStatusCode.OK)
                {
                    // The tar streams after its 200: a victim swapped between the stat and the read
                    // ends the stream early (the copy fails, as it should); what it sent must still
                    // never be the host's file.
                    byte[] bytes;
                    try { bytes = await get.Content.ReadAsByteArrayAsync(); }
                    catch (HttpRequestException) { bytes = []; }
                    Assert.DoesNotContain("HOST ORIGINAL", Encoding.UTF8.GetString(bytes));
                }
                Assert.Equal("HOST ORIGINAL\n", System.IO.File.ReadAllText(victim));
            }
            Assert.Equal(["victim"], Directory.GetFileSystemEntries(hostDir).Select(Path.GetFileName));
            Assert.False(System.IO.File.Exists("/victim"), "a copy landed on the host's /");
            Assert.True(ok > 0, "no copy succeeded at all: the loop proved nothing");
            // 600 copies: a descriptor kept per copy (a root, a parent, a file) would show by hundreds.
            int fdsAfter = DaemonFds();
            Assert.True(fdsAfter <= fdsBefore + 10, $"daemon descriptors grew from {fdsBefore} to {fdsAfter}");
        }
        finally { daemon.Gocker("rm", "-f", id); }
    }

    [Fact]
    public void Gocker_cp_copies_both_ways_with_stdin_and_stdout_tars()
    {
        var local = Path.Combine(daemon.Root, Unique("cp-"));
        Directory.CreateDirectory(Path.Combine(local, "tree", "sub"));
        System.IO.File.WriteAllText(Path.Combine(local, "one.txt"), "one\n");
        System.IO.File.WriteAllText(Path.Combine(local, "tree", "sub", "deep.txt"), "deep\n");
        var id = Ok("run", "-d", "--network", "none", "busybox", "sleep", "300");
        try
        {
            Ok("cp", Path.Combine(local, "one.txt"), id + ":/tmp/");
            Ok("cp", Path.Combine(local, "one.txt"), id + ":/tmp/renamed.txt");
            Ok("cp", Path.Combine(local, "tree"), id + ":/tmp/tree");
            Ok("cp", Path.Combine(local, "tree") + "/.", id + ":/root");
            Assert.Equal("one\none\ndeep\ndeep", Ok("exec", id, "sh", "-c", "cat /tmp/one.txt /tmp/renamed.txt /tmp/tree/sub/deep.txt /root/sub/deep.txt"));

            var back = Path.Combine(local, "back");
            Directory.CreateDirectory(back);
            Ok("cp", id + ":/tmp/tree", back);
            Ok("cp", id + ":/etc/passwd", Path.Combine(back, "hn"));
            Assert.Equal("deep\n", System.IO.File.ReadAllText(Path.Combine(back, "tree", "sub", "deep.txt")));
            Assert.Equal(Ok("exec", id, "cat", "/etc/passwd") + "\n", System.IO.File.ReadAllText(Path.Combine(back, "hn")));

            // "-": a tar on stdout, and one from stdin.
            var psi = new ProcessStartInfo(Path.Combine(GockerBinaries.Dir, "gocker")) { RedirectStandardOutput = true, UseShellExecute = false };
            foreach (var a in new[] { "-H", "unix://" + daemon.Socket, "cp", id + ":/tmp/one.txt", "-" }) psi.ArgumentList.Add(a);
            using (var p = Process.Start(psi)!)
            {
                var ms = new MemoryStream();
                p.StandardOutput.BaseStream.CopyTo(ms);
                p.WaitForExit();
                Assert.Equal(0, p.ExitCode);
                Assert.Equal("one\n", ReadTar(ms.ToArray())["one.txt"].Content);
            }
            var tarFile = Path.Combine(local, "in.tar");
            System.IO.File.WriteAllBytes(tarFile, Tar(w => File(w, "from-stdin", "piped\n")));
            var sh = Process.Start(new ProcessStartInfo("/bin/sh", ["-c", $"{Path.Combine(GockerBinaries.Dir, "gocker")} -H unix://{daemon.Socket} cp - {id}:/tmp < {tarFile}"]))!;
            sh.WaitForExit();
            Assert.Equal(0, sh.ExitCode);
            Assert.Equal("piped", Ok("exec", id, "cat", "/tmp/from-stdin"));

            // Stopped, and the errors docker gives.
            Ok("stop", "-t", "0", id);
            Ok("cp", Path.Combine(local, "one.txt"), id + ":/stopped.txt");
            Ok("cp", id + ":/stopped.txt", Path.Combine(back, "stopped.txt"));
            Assert.Equal("one\n", System.IO.File.ReadAllText(Path.Combine(back, "stopped.txt")));
            var missing = daemon.Gocker("cp", id + ":/no/such", back);
            Assert.NotEqual(0, missing.ExitCode);
            Assert.Contains("Could not find the file /no/such", missing.Stderr);
            Assert.NotEqual(0, daemon.Gocker("cp", "a:/x", "b:/y").ExitCode);
        }
        finally { daemon.Gocker("rm", "-f", id); }
    }

    (int Code, string Out, string Err) Docker(params string[] args) => DockerCliFactAttribute.Run(daemon.Socket, daemon.Root, null, args);

    /// <summary>busybox's /etc/passwd (Gocker's built-in image), read through the archive API of a fresh container.</summary>
    string ContainerPasswd
    {
        get
        {
            var id = Ok("create", "--network", "none", "busybox", "true");
            try { return ReadContainerFile(id, "/etc/passwd", running: false); }
            finally { daemon.Gocker("rm", "-f", id); }
        }
    }

    [DockerCliFact]
    public void The_docker_cli_copies_both_ways_on_running_and_stopped_containers()
    {
        var local = Path.Combine(daemon.Root, Unique("dcp-"));
        Directory.CreateDirectory(Path.Combine(local, "dir"));
        System.IO.File.WriteAllText(Path.Combine(local, "dir", "f.txt"), "from docker cp\n");
        var id = Ok("run", "-d", "--network", "none", "busybox", "sh", "-c", "ln -s / /hostroot; sleep 300");
        try
        {
            foreach (var running in new[] { true, false })
            {
                var to = Docker("cp", Path.Combine(local, "dir"), id + ":/copied");
                Assert.True(to.Code == 0, $"docker cp in: {to}");
                var back = Path.Combine(local, running ? "back-running" : "back-stopped");
                var from = Docker("cp", id + ":/copied", back);
                Assert.True(from.Code == 0, $"docker cp out: {from}");
                Assert.Equal("from docker cp\n", System.IO.File.ReadAllText(Path.Combine(back, "f.txt")));
                // Through the container's symlink to "/": the container's file, not the host's.
                var hn = Docker("cp", id + ":/hostroot/etc/passwd", Path.Combine(local, "pw-" + running));
                Assert.True(hn.Code == 0, $"docker cp via symlink: {hn}");
                Assert.Equal(ContainerPasswd, System.IO.File.ReadAllText(Path.Combine(local, "pw-" + running)));
                Assert.NotEqual(System.IO.File.ReadAllText("/etc/passwd"), ContainerPasswd);
                var miss = Docker("cp", id + ":/nothing", local);
                Assert.NotEqual(0, miss.Code);
                Assert.Contains("Could not find the file /nothing", miss.Err);
                if (running) Ok("stop", "-t", "0", id);
            }
        }
        finally { daemon.Gocker("rm", "-f", id); }
    }

    const string DockerPyScript = """
        import docker, io, json, sys, tarfile
        client = docker.DockerClient(base_url=sys.argv[1], version="1.43")
        c = client.containers.run("busybox", ["sleep", "300"], detach=True, network_mode="none", name=sys.argv[2])
        out = {}
        try:
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w") as t:
                data = b"from docker-py\n"
                info = tarfile.TarInfo("py.txt"); info.size = len(data); info.mode = 0o600
                t.addfile(info, io.BytesIO(data))
            out["put"] = c.put_archive("/tmp", buf.getvalue())
            out["cat"] = c.exec_run(["cat", "/tmp/py.txt"]).output.decode()
            bits, stat = c.get_archive("/tmp/py.txt")
            raw = b"".join(bits)
            with tarfile.open(fileobj=io.BytesIO(raw)) as t:
                m = t.getmember("py.txt")
                out["got"] = t.extractfile(m).read().decode()
                out["mode"] = m.mode
            out["stat"] = stat
            try:
                c.get_archive("/does/not/exist")
                out["missing"] = "no error"
            except docker.errors.NotFound as e:
                out["missing"] = "NotFound"
        finally:
            c.remove(force=True)
        print(json.dumps(out))
        """;

    [DockerPyFact]
    public void Docker_py_puts_and_gets_archives()
    {
        var name = Unique("pyarc-");
        try
        {
            using var doc = DockerPy.RunForJson(daemon, DockerPyScript, name);
            var o = doc.RootElement;
            Assert.True(o.GetProperty("put").GetBoolean());
            Assert.Equal("from docker-py\n", o.GetProperty("cat").GetString());
            Assert.Equal("from docker-py\n", o.GetProperty("got").GetString());
            Assert.Equal(0b110_000_000, o.GetProperty("mode").GetInt32());
            Assert.Equal("py.txt", o.GetProperty("stat").GetProperty("name").GetString());
            Assert.Equal(15, o.GetProperty("stat").GetProperty("size").GetInt32());
            Assert.Equal("NotFound", o.GetProperty("missing").GetString());
        }
        finally { daemon.Gocker("rm", "-f", name); }
    }

    [Fact]
    public async Task Testcontainers_maps_a_resource_in_and_reads_a_file_back()
    {
        TestcontainersSettings.ResourceReaperEnabled = false;
        var name = Unique("tcarc-");
        var container = new ContainerBuilder("busybox:latest")
            .WithDockerEndpoint("unix://" + daemon.Socket)
            .WithImagePullPolicy(DotNet.Testcontainers.Images.PullPolicy.Never)
            .WithName(name)
            .WithCommand("sleep", "300")
            .WithResourceMapping(Encoding.UTF8.GetBytes("mapped by testcontainers\n"), "/etc/app/config.txt")
            .Build();
        try
        {
            await container.StartAsync();
            Assert.Equal("mapped by testcontainers\n", (await container.ExecAsync(["cat", "/etc/app/config.txt"])).Stdout);
            await container.ExecAsync(["sh", "-c", "echo written inside > /tmp/out.txt"]);
            var bytes = await container.ReadFileAsync("/tmp/out.txt");
            Assert.Equal("written inside\n", Encoding.UTF8.GetString(bytes));
            await container.CopyAsync(Encoding.UTF8.GetBytes("copied later\n"), "/tmp/later.txt");
            Assert.Equal("copied later\n", (await container.ExecAsync(["cat", "/tmp/later.txt"])).Stdout);
        }
        finally
        {
            await container.DisposeAsync();
            daemon.Gocker("rm", "-f", name);
        }
    }
}

/// <summary>The archive API of a remapped container (userns-remap): files written get its mapped host
/// ids, archives read show its own ids, running and stopped (its layers idmapped as when it runs).</summary>
[Trait("Needs", "root")]
public sealed class UsernsArchiveTests : IDisposable
{
    readonly LifecycleDaemon _d = new(configHocon: "gocker { userns-remap = default }");
    readonly Gocker.Syscalls.Security.IdMap _map = Gocker.Syscalls.Security.SubIds.Resolve("default");

    public void Dispose() => _d.Dispose();

    [Fact]
    public async Task Copies_map_ids_both_ways_running_and_stopped()
    {
        var id = _d.Ok("run", "-d", "busybox", "sleep", "300");
        using var c = ArchiveTests.Client(_d.Socket);
        foreach (var running in new[] { true, false })
        {
            var put = await ArchiveTests.Put(c, id, "/etc", ArchiveTests.Tar(w =>
            {
                ArchiveTests.File(w, "by-root-" + running, "r\n");
                ArchiveTests.File(w, "by-1000-" + running, "u\n", uid: 1000, gid: 1000);
            }));
            Assert.True(put.StatusCode == HttpStatusCode.OK, await put.Content.ReadAsStringAsync());
            var upper = Path.Combine(_d.DataRoot, "containers", id, "upper", "etc");
            Assert.True(Gocker.Syscalls.Native.Sys.TryStatOwner(Gocker.Syscalls.Native.Consts.AT_FDCWD, Path.Combine(upper, "by-root-" + running), false, out _, out var u0, out var g0, out _));
            Assert.Equal((_map.HostUid, _map.HostGid), (u0, g0));
            Assert.True(Gocker.Syscalls.Native.Sys.TryStatOwner(Gocker.Syscalls.Native.Consts.AT_FDCWD, Path.Combine(upper, "by-1000-" + running), false, out _, out var u1, out var g1, out _));
            Assert.Equal((_map.HostUid + 1000, _map.HostGid + 1000), (u1, g1));
            // The copied-up /etc stays the container's root's (its lower is idmapped, not host root's).
            Assert.True(Gocker.Syscalls.Native.Sys.TryStatOwner(Gocker.Syscalls.Native.Consts.AT_FDCWD, upper, false, out _, out var ud, out _, out _));
            Assert.Equal(_map.HostUid, ud);
            var get = await c.GetAsync($"containers/{id}/archive?path=/etc");
            Assert.Equal(HttpStatusCode.OK, get.StatusCode);
            var entries = ArchiveTests.ReadTar(await get.Content.ReadAsByteArrayAsync());
            Assert.Equal((0, 0), (entries["etc/by-root-" + running].Uid, entries["etc/by-root-" + running].Gid));
            Assert.Equal((1000, 1000), (entries["etc/by-1000-" + running].Uid, entries["etc/by-1000-" + running].Gid));
            Assert.Equal((0, 0), (entries["etc/passwd"].Uid, entries["etc/passwd"].Gid));
            if (running)
            {
                Assert.Equal("0:0 1000:1000", _d.Ok("exec", id, "sh", "-c", "echo $(stat -c %u:%g /etc/by-root-True) $(stat -c %u:%g /etc/by-1000-True)"));
                _d.Ok("stop", "-t", "0", id);
            }
        }
        _d.Ok("start", id);
        Assert.Equal("0:0 0:0", _d.Ok("exec", id, "sh", "-c", "echo $(stat -c %u:%g /etc/by-root-False) $(stat -c %u:%g /etc)"));
        _d.Ok("rm", "-f", id);
        _d.AssertNoLeaks();
    }
}
