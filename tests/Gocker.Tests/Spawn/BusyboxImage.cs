using System.Diagnostics;

namespace Gocker.Tests.Spawn;

/// <summary>A read-only lower layer: /bin/busybox plus a symlink per applet. One per test class.</summary>
public sealed class BusyboxImage : IDisposable
{
    public string Dir { get; }

    public BusyboxImage()
    {
        Dir = Path.Combine(Path.GetTempPath(), "gocker-bbx-" + Guid.NewGuid().ToString("N")[..12]);
        var bin = Path.Combine(Dir, "bin");
        Directory.CreateDirectory(bin);
        File.Copy("/bin/busybox", Path.Combine(bin, "busybox"));
        File.SetUnixFileMode(Path.Combine(bin, "busybox"), (UnixFileMode)0x1ed);
        var psi = new ProcessStartInfo("/bin/busybox", "--list") { RedirectStandardOutput = true };
        using var p = Process.Start(psi)!;
        foreach (var applet in p.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries))
            if (applet != "busybox") File.CreateSymbolicLink(Path.Combine(bin, applet), "busybox");
        p.WaitForExit();
        foreach (var d in new[] { "etc", "tmp", "proc", "sys", "dev" }) Directory.CreateDirectory(Path.Combine(Dir, d));
        File.WriteAllText(Path.Combine(Dir, "etc", "lower-marker"), "from the image\n");
    }

    public void Dispose() => TestDirs.Delete(Dir);
}

static class TestDirs
{
    public static void Delete(string dir)
    {
        try { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); }
        catch (IOException) { } // best effort; a still-busy dir is reported by the test that left it busy
        catch (UnauthorizedAccessException) { }
    }
}
