using System.Formats.Tar;
using System.Text;

namespace Gocker.Tests.Integration;

/// <summary>`gocker build` and POST /build end to end on a real daemon: RUN steps in real containers on
/// the built-in busybox image, multi-stage COPY --from, the cache, failures that leave nothing
/// behind, context escapes, .dockerignore, and the docker CLI's classic builder.</summary>
public sealed class BuildTests(DaemonFixture daemon) : IClassFixture<DaemonFixture>, IDisposable
{
    public void Dispose() => daemon.AssertNoLeaks();

    static string Unique(string prefix) => prefix + Guid.NewGuid().ToString("N")[..8];

    string Context(params (string Path, string Content)[] files)
    {
        var dir = Path.Combine(daemon.Root, "ctx-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(dir);
        foreach (var (p, c) in files)
        {
            var full = Path.Combine(dir, p);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            File.WriteAllText(full, c);
        }
        return dir;
    }

    CliResult Ok(params string[] args)
    {
        var r = daemon.Gocker(args);
        Assert.True(r.ExitCode == 0, $"gocker {string.Join(' ', args)}: {r}");
        return r;
    }

    string ImagesDir => Path.Combine(daemon.DataRoot, "images");

    /// <summary>What the image store holds: image dirs and layers (a failed build must add neither).</summary>
    List<string> StoreContents()
    {
        var list = Directory.GetDirectories(ImagesDir).Select(Path.GetFileName).Where(n => n!.Length == 64).Select(n => "image " + n).ToList();
        var layers = Path.Combine(ImagesDir, "layers");
        if (Directory.Exists(layers)) list.AddRange(Directory.GetDirectories(layers).Select(d => "layer " + Path.GetFileName(d)));
        var tmp = Path.Combine(ImagesDir, "tmp");
        if (Directory.Exists(tmp)) list.AddRange(Directory.GetFileSystemEntries(tmp).Select(d => "tmp " + Path.GetFileName(d)));
        list.Sort(StringComparer.Ordinal);
        return list!;
    }

    const string MultiStage = """
        # syntax=docker/dockerfile:1
        ARG BASE=busybox
        FROM ${BASE} AS builder
        ARG GREETING=hello
        ENV TARGET=world
        WORKDIR /src
        COPY greeting.txt ./
        RUN echo "${GREETING:-none} ${TARGET}" > out.txt \
         && cat greeting.txt >> out.txt \
         && mkdir -p /data && echo data > /data/d

        FROM busybox AS unused
        RUN exit 7

        FROM busybox
        ARG GREETING
        COPY --from=builder --chown=1000:1000 /src/out.txt /app/
        COPY --from=builder /data /copied
        WORKDIR /app
        USER 1000
        ENV SHOWN=${GREETING:+set-to-$GREETING}
        LABEL org.test.kind="multi stage"
        EXPOSE 8080/tcp
        STOPSIGNAL SIGUSR1
        HEALTHCHECK --interval=5s --retries=2 CMD true
        CMD ["sh", "-c", "cat out.txt; id -u; pwd; ls /copied; echo $SHOWN; stat -c %u /app/out.txt"]
        """;

    [Fact]
    public void A_multi_stage_build_runs_and_prints_what_it_should()
    {
        var ctx = Context(("Dockerfile", MultiStage), ("greeting.txt", "from the context\n"));
        var name = Unique("it-build-");
        var b = Ok("build", "-t", name, "--build-arg", "GREETING=hi", "--label", "by=test", ctx);
        Assert.Contains("Step 1/", b.Stdout);
        Assert.Contains("Successfully built ", b.Stdout);
        Assert.Contains($"Successfully tagged {name}:latest", b.Stdout);
        Assert.DoesNotContain("exit 7", b.Stdout); // the unused stage is skipped
        var r = Ok("run", "--rm", name);
        Assert.Equal("hi world\nfrom the context\n1000\n/app\nd\nset-to-hi\n1000\n", r.Stdout);
        var inspect = Ok("image", "inspect", name).Stdout;
        Assert.Contains("8080/tcp", inspect);
        var history = Ok("history", "--no-trunc", name).Stdout;
        Assert.Contains("COPY --from=builder /src/out.txt in /app/", history);
        Assert.Contains("WORKDIR /app", history);
        Assert.Contains("HEALTHCHECK", history);
        // The stored image config keeps what `inspect` does not show (docker's config fields).
        var shortId = IdOf(b.Stdout);
        var dir = Directory.GetDirectories(ImagesDir).Single(d => Path.GetFileName(d).StartsWith(shortId, StringComparison.Ordinal));
        var config = File.ReadAllText(Path.Combine(dir, "config.json"));
        Assert.Contains("\"Healthcheck\":{\"Test\":[\"CMD-SHELL\",\"true\"],\"Interval\":5000000000,\"Retries\":2}", config);
        Assert.Contains("\"org.test.kind\":\"multi stage\"", config);
        Assert.Contains("\"by\":\"test\"", config);
        Assert.Contains("\"StopSignal\":\"SIGUSR1\"", config);
        Ok("rmi", name);
    }

    [Fact]
    public void A_second_build_uses_the_cache_and_a_changed_file_rebuilds_from_its_copy()
    {
        var ctx = Context(
            ("Dockerfile", "FROM busybox\nRUN echo first > /first\nCOPY data.txt /data.txt\nRUN cat /data.txt > /copy\nCMD [\"cat\", \"/first\", \"/copy\"]\n"),
            ("data.txt", "one\n"));
        var name = Unique("it-cache-");
        var first = Ok("build", "-t", name, ctx);
        Assert.DoesNotContain("Using cache", first.Stdout);
        var id = IdOf(first.Stdout);

        var second = Ok("build", "-t", name, ctx);
        Assert.Equal(3, Count(second.Stdout, " ---> Using cache"));
        Assert.Equal(id, IdOf(second.Stdout));
        Assert.DoesNotContain("Running in", second.Stdout);

        File.WriteAllText(Path.Combine(ctx, "data.txt"), "two\n");
        var third = Ok("build", "-t", name, ctx);
        Assert.Equal(1, Count(third.Stdout, " ---> Using cache")); // RUN echo first only
        Assert.NotEqual(id, IdOf(third.Stdout));
        Assert.Equal("first\ntwo\n", Ok("run", "--rm", name).Stdout);

        var nocache = Ok("build", "--no-cache", "-t", name, ctx);
        Assert.DoesNotContain("Using cache", nocache.Stdout);
        Ok("rmi", name);
    }

    static string IdOf(string output) =>
        output.Split('\n').Single(l => l.StartsWith("Successfully built ", StringComparison.Ordinal))["Successfully built ".Length..].Trim();

    static int Count(string s, string what)
    {
        int n = 0, i = 0;
        while ((i = s.IndexOf(what, i, StringComparison.Ordinal)) >= 0) { n++; i += what.Length; }
        return n;
    }

    [Fact]
    public void A_failing_run_names_step_and_code_and_leaves_nothing()
    {
        // busybox first, so that its first use is not counted as the build's leftovers.
        Ok("run", "--rm", "busybox", "true");
        var before = StoreContents();
        var ctx = Context(("Dockerfile", "FROM busybox\nENV A=1\nRUN echo about to fail; touch /made; exit 3\nRUN echo never\n"));
        var r = daemon.Gocker("build", "-t", Unique("it-fail-"), ctx);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("returned a non-zero code: 3", r.Stderr);
        Assert.Contains("step 3/4", r.Stderr);
        Assert.Contains("about to fail", r.Stdout);
        Assert.DoesNotContain("never", r.Stdout.Replace("RUN echo never", ""));
        Assert.Equal(before, StoreContents());
        Assert.Equal("", Ok("ps", "-aq").Stdout.Trim());
    }

    [Fact]
    public void Copies_out_of_the_context_are_refused()
    {
        var ctx = Context(("Dockerfile", "FROM busybox\nCOPY ../outside /x\n"));
        File.WriteAllText(Path.Combine(Path.GetDirectoryName(ctx)!, "outside"), "host file");
        var r = daemon.Gocker("build", ctx);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("forbidden path outside the build context: ../outside", r.Stderr);

        // A symlink to a host directory resolves inside the context: /etc of the host is never read.
        var ctx2 = Context(("Dockerfile", "FROM busybox\nCOPY link/hostname /x\n"));
        File.CreateSymbolicLink(Path.Combine(ctx2, "link"), "/etc");
        var r2 = daemon.Gocker("build", ctx2);
        Assert.Equal(1, r2.ExitCode);
        Assert.Contains("file not found in build context", r2.Stderr);

        // An absolute link is resolved with the context as its root: the context's own etc/hostname.
        var ctx3 = Context(("Dockerfile", "FROM busybox\nCOPY abs /x\n"), ("etc/hostname", "in-context\n"));
        File.CreateSymbolicLink(Path.Combine(ctx3, "abs"), "/etc/hostname");
        var name = Unique("it-link-");
        Ok("build", "-t", name, ctx3);
        Assert.Equal("in-context\n", Ok("run", "--rm", name, "cat", "/x").Stdout);
        Ok("rmi", name);

        // A relative link that climbs out of the context: the context itself is refused (400, exit 125).
        var ctx4 = Context(("Dockerfile", "FROM busybox\nCOPY up /x\n"));
        File.CreateSymbolicLink(Path.Combine(ctx4, "up"), "../../../../../../etc/hostname");
        var r4 = daemon.Gocker("build", ctx4);
        Assert.Equal(125, r4.ExitCode);
        Assert.Contains("entry up: symlink target ../../../../../../etc/hostname escapes the root", r4.Stderr);
    }

    [Fact]
    public void Dockerignore_patterns_leave_files_out_of_the_context()
    {
        var ctx = Context(
            ("Dockerfile", "FROM busybox\nCOPY . /ctx/\nCMD [\"sh\", \"-c\", \"cd /ctx && find . -type f | sort\"]\n"),
            (".dockerignore", "# secrets\nsecret.txt\n*.md\n!keep.md\n**/*.log\n"),
            ("secret.txt", "s"), ("notes.md", "n"), ("keep.md", "k"), ("deep/a/b.log", "l"), ("deep/a/c.txt", "c"));
        var name = Unique("it-ignore-");
        Ok("build", "-t", name, ctx);
        Assert.Equal("./.dockerignore\n./Dockerfile\n./deep/a/c.txt\n./keep.md\n", Ok("run", "--rm", name).Stdout);
        Ok("rmi", name);
    }

    [Fact]
    public void Add_unpacks_a_tar_and_copy_takes_globs_and_chmod()
    {
        var ctx = Context(
            ("Dockerfile", "FROM busybox\nCOPY --chmod=600 a*.txt /g/\nADD arch.tar /t/\nRUN ls /g | tr '\\n' ' ' > /listing && stat -c %a /g/a1.txt >> /listing\nCMD cat /listing /t/inner/file.txt\n"),
            ("a1.txt", "1"), ("a2.txt", "2"), ("b.txt", "b"));
        using (var f = File.Create(Path.Combine(ctx, "arch.tar")))
        using (var w = new TarWriter(f, TarEntryFormat.Pax))
        {
            w.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "inner/") { Mode = (UnixFileMode)0b111_101_101 });
            w.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "inner/file.txt") { DataStream = new MemoryStream(Encoding.UTF8.GetBytes("unpacked\n")), Mode = (UnixFileMode)0b110_100_100 });
        }
        var name = Unique("it-add-");
        Ok("build", "-t", name, ctx);
        Assert.Equal("a1.txt a2.txt 600\nunpacked\n", Ok("run", "--rm", name).Stdout);
        Ok("rmi", name);
    }

    [Fact]
    public void Parse_errors_absent_images_and_unsupported_options_name_themselves()
    {
        var bad = Context(("Dockerfile", "FROM busybox\n\nBOGUS thing\n"));
        var r = daemon.Gocker("build", bad);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("line 3", r.Stderr);
        Assert.Contains("unknown instruction: BOGUS", r.Stderr);

        var absent = Context(("Dockerfile", "FROM it-no-such-image:9\nRUN true\n"));
        r = daemon.Gocker("build", absent);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("it-no-such-image:9", r.Stderr);

        r = daemon.Gocker("build", "--pull", absent);
        Assert.Equal(125, r.ExitCode);
        Assert.Contains("pull", r.Stderr);

        r = daemon.Gocker("build", "--platform", "linux/s390x", absent);
        Assert.Equal(125, r.ExitCode);
        Assert.Contains("platform=linux/s390x", r.Stderr);
    }

    [DockerCliFact]
    public void The_docker_clis_classic_builder_builds_through_gockerd()
    {
        var ctx = Context(("Dockerfile", "FROM busybox\nARG WHO=nobody\nRUN echo \"built for $WHO\" > /msg\nCMD [\"cat\", \"/msg\"]\n"));
        var name = Unique("it-docker-build-");
        var (code, output, err) = Docker(null, "build", "-t", name, "--build-arg", "WHO=docker", ctx);
        Assert.True(code == 0, $"docker build: exit {code}\n{output}\n{err}");
        Assert.Contains("Successfully tagged " + name + ":latest", output);
        Assert.Equal("built for docker\n", Ok("run", "--rm", name).Stdout);

        // A failing step: the docker CLI shows the daemon's message and exits non-zero.
        var failing = Context(("Dockerfile", "FROM busybox\nRUN exit 5\n"));
        (code, _, err) = Docker(null, "build", failing);
        Assert.NotEqual(0, code);
        Assert.Contains("returned a non-zero code: 5", err);

        // BuildKit-only and unimplemented options are refused by name.
        (code, _, err) = Docker(null, "build", "--pull", failing);
        Assert.NotEqual(0, code);
        Assert.Contains("pull", err);
        Ok("rmi", name);
    }

    [DockerComposeFact]
    public void Docker_compose_builds_a_service_with_build_args()
    {
        var project = Unique("itbuild");
        var dir = Context(
            ("app/Dockerfile", "FROM busybox\nARG FLAVOUR=plain\nCOPY msg.txt /msg.txt\nRUN echo \"$FLAVOUR\" >> /msg.txt\nCMD [\"cat\", \"/msg.txt\"]\n"),
            ("app/msg.txt", "from compose\n"),
            ("docker-compose.yml", $"version: \"3\"\nservices:\n  web:\n    build:\n      context: ./app\n      args:\n        FLAVOUR: spicy\n    image: {project}-web:latest\n"));
        var r = DockerComposeFactAttribute.Run(daemon, dir, "-p", project, "build");
        Assert.True(r.ExitCode == 0, $"docker-compose build: {r}");
        Assert.Contains($"Successfully tagged {project}-web:latest", r.Stdout + r.Stderr);
        Assert.Equal("from compose\nspicy\n", Ok("run", "--rm", project + "-web").Stdout);
        Ok("rmi", project + "-web");
    }

    (int Code, string Out, string Err) Docker(string? stdin, params string[] args)
    {
        var psi = new System.Diagnostics.ProcessStartInfo(DockerCliFactAttribute.Path!)
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        psi.ArgumentList.Add("-H");
        psi.ArgumentList.Add("unix://" + daemon.Socket);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["DOCKER_CONFIG"] = Path.Combine(daemon.Root, "docker-config");
        psi.Environment["DOCKER_BUILDKIT"] = "0";
        psi.Environment.Remove("DOCKER_HOST");
        using var p = System.Diagnostics.Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEndAsync();
        if (stdin is not null) p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        Assert.True(p.WaitForExit(180_000), "docker " + string.Join(' ', args) + " did not finish");
        return (p.ExitCode, output.Result, err.Result);
    }
}
