using System.Diagnostics;
using Gocker.Images;
using Xunit.Abstractions;

namespace Gocker.Tests.Images;

[Trait("Needs", "root")]
public class BusyboxImageTests(ITestOutputHelper output) : IDisposable
{
    readonly TempImages _t = new();
    public void Dispose() => _t.Dispose();

    [Fact]
    public void First_resolve_builds_it_from_the_hosts_static_busybox()
    {
        var store = _t.Store();
        var sw = Stopwatch.StartNew();
        var img = store.Resolve("busybox");
        output.WriteLine($"busybox image built in {sw.Elapsed.TotalMilliseconds:F1} ms");

        Assert.Equal("busybox:latest", img.Name);
        Assert.Matches("^sha256:[0-9a-f]{64}$", img.Id);
        Assert.Equal(["sh"], img.Cmd);
        Assert.Equal(["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], img.Env);
        var root = Assert.Single(img.Layers);

        Assert.Equal(File.ReadAllBytes("/bin/busybox"), File.ReadAllBytes(Path.Combine(root, "bin/busybox")));
        Assert.Equal("755", Lstat.Of(Path.Combine(root, "bin/busybox")).Mode);
        Assert.Equal("/bin/busybox", new FileInfo(Path.Combine(root, "bin/sh")).LinkTarget);
        Assert.Equal("/bin/busybox", new FileInfo(Path.Combine(root, "bin/ls")).LinkTarget);
        Assert.True(new FileInfo(Path.Combine(root, "usr/bin/env")).LinkTarget is not null || File.Exists(Path.Combine(root, "bin/env")));
        Assert.Equal("1777", Lstat.Of(Path.Combine(root, "tmp")).Mode);
        Assert.Equal("700", Lstat.Of(Path.Combine(root, "root")).Mode);
        foreach (var d in new[] { "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "home", "var" })
            Assert.True(Directory.Exists(Path.Combine(root, d)), d);
        Assert.StartsWith("root:x:0:0:", File.ReadAllText(Path.Combine(root, "etc/passwd")));
        Assert.Contains("nobody:x:65534:", File.ReadAllText(Path.Combine(root, "etc/group")));
        Assert.False(File.Exists(Path.Combine(root, "etc/hosts")));

        // The built image actually runs: chroot into it and use the shell and an applet.
        var psi = new ProcessStartInfo("chroot", [root, "/bin/sh", "-c", "echo hello from $(basename $(readlink /bin/ls))"]) { RedirectStandardOutput = true };
        using (var p = Process.Start(psi)!)
        {
            Assert.Equal("hello from busybox", p.StandardOutput.ReadToEnd().Trim());
            p.WaitForExit();
            Assert.Equal(0, p.ExitCode);
        }

        Assert.Equal(img.Id, Assert.Single(store.List()).Id);
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(_t.ImagesDir, "tmp")));
    }

    [Fact]
    public void Later_resolves_do_not_rebuild()
    {
        var first = _t.Store().Resolve("busybox:latest");
        var inode = Lstat.Of(first.Layers[0]).Inode;
        // A store whose busybox does not exist can only succeed by finding the image already built.
        var again = _t.Store(new ImageStoreOptions { BusyboxPath = "/nonexistent/busybox" });
        var second = again.Resolve("busybox");
        Assert.Equal(first.Id, second.Id);
        Assert.Equal(first.Created, second.Created);
        Assert.Equal(inode, Lstat.Of(second.Layers[0]).Inode);
        Assert.Equal(0, again.BusyboxBuilds);
        Assert.Equal(first.Id, again.Resolve(first.Id[7..13]).Id);
    }

    [Fact]
    public void Parallel_first_uses_build_it_once()
    {
        // Two stores on one directory (so the flock is exercised, not only the in-process lock), 8 threads.
        var stores = new[] { _t.Store(), _t.Store() };
        using var start = new Barrier(8);
        var ids = new string[8];
        var errors = new Exception?[8];
        var threads = Enumerable.Range(0, 8).Select(i => new Thread(() =>
        {
            try
            {
                start.SignalAndWait();
                ids[i] = stores[i % 2].Resolve(i % 3 == 0 ? "busybox" : "busybox:latest").Id;
            }
            catch (Exception ex) { errors[i] = ex; }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.All(errors, e => Assert.Null(e));

        Assert.Single(ids.Distinct());
        Assert.Equal(1, stores.Sum(s => s.BusyboxBuilds));
        Assert.Single(Directory.GetDirectories(_t.ImagesDir), d => Path.GetFileName(d).Length == 64);
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(_t.ImagesDir, "tmp")));
    }

    [Fact]
    public void A_dynamic_busybox_is_refused_with_a_hint()
    {
        var store = _t.Store(new ImageStoreOptions { BusyboxPath = "/bin/ls" }); // a dynamically linked ELF
        var ex = Assert.Throws<InvalidOperationException>(() => store.Resolve("busybox"));
        Assert.Equal("busybox image: /bin/ls is not a static binary; install busybox-static", ex.Message);
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(_t.ImagesDir, "tmp")));
        Assert.Empty(store.List());
    }

    [Fact]
    public void A_missing_busybox_is_refused_with_a_hint()
    {
        var store = _t.Store(new ImageStoreOptions { BusyboxPath = "/nonexistent/busybox" });
        var ex = Assert.Throws<InvalidOperationException>(() => store.Resolve("busybox"));
        Assert.Contains("/nonexistent/busybox does not exist; install busybox-static", ex.Message);
    }

    [Fact]
    public void Only_busybox_latest_is_built_in()
    {
        var ex = Assert.Throws<ImageNotFoundException>(() => _t.Store().Resolve("busybox:1.36"));
        Assert.Equal("busybox:1.36", ex.Reference);
        Assert.Contains("busybox:1.36", ex.Message);
    }
}
