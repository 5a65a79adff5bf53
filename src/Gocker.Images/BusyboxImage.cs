using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;

namespace Gocker.Images;

/// <summary>Builds the built-in "busybox" image from the host's static busybox: bin/busybox, one symlink
/// per applet, the usual top-level directories and a minimal /etc/passwd and /etc/group.
/// No /etc/hosts, /etc/resolv.conf or /etc/hostname: the runtime provides those per container.</summary>
internal static class BusyboxImage
{
    public const string Name = "busybox:latest";
    // Bump when the layout below changes, so the id (and thus the layer directory) changes with it.
    const string LayoutVersion = "gocker-busybox-layout-1";

    static readonly (string dir, UnixFileMode mode)[] Dirs =
    [
        ("bin", Rwxr_xr_x), ("sbin", Rwxr_xr_x), ("usr", Rwxr_xr_x), ("usr/bin", Rwxr_xr_x), ("usr/sbin", Rwxr_xr_x),
        ("etc", Rwxr_xr_x), ("proc", Rwxr_xr_x), ("sys", Rwxr_xr_x), ("dev", Rwxr_xr_x),
        ("tmp", Rwxr_xr_x | UnixFileMode.OtherWrite | UnixFileMode.GroupWrite | UnixFileMode.StickyBit),
        ("root", UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute),
        ("home", Rwxr_xr_x), ("var", Rwxr_xr_x),
    ];

    const UnixFileMode Rwxr_xr_x = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
        UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;
    const UnixFileMode Rw_r__r__ = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    const string Passwd = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
    const string Group = "root:x:0:\nnobody:x:65534:\n";

    /// <summary>Fills imageDir/rootfs (imageDir exists and is empty); returns the image's config.</summary>
    public static ImageConfig Build(string busyboxPath, string imageDir)
    {
        if (!File.Exists(busyboxPath))
            throw new InvalidOperationException($"busybox image: {busyboxPath} does not exist; install busybox-static");
        if (StaticElf.WhyNotStatic(busyboxPath) is not null)
            throw new InvalidOperationException($"busybox image: {busyboxPath} is not a static binary; install busybox-static");

        var applets = ListApplets(busyboxPath);
        var rootfs = Path.Combine(imageDir, "rootfs");
        Directory.CreateDirectory(rootfs);
        File.SetUnixFileMode(rootfs, Rwxr_xr_x);
        foreach (var (dir, mode) in Dirs)
        {
            var p = Path.Combine(rootfs, dir);
            Directory.CreateDirectory(p);
            File.SetUnixFileMode(p, mode); // explicit: Directory.CreateDirectory is subject to the umask
        }

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes(LayoutVersion + "\n"));
        var bin = Path.Combine(rootfs, "bin/busybox");
        long size;
        using (var src = File.OpenRead(busyboxPath))
        using (var dst = new FileStream(bin, FileMode.CreateNew, FileAccess.Write))
        {
            var buf = new byte[81920];
            int n;
            while ((n = src.Read(buf)) > 0)
            {
                hash.AppendData(buf.AsSpan(0, n));
                dst.Write(buf, 0, n);
            }
            size = dst.Length;
        }
        File.SetUnixFileMode(bin, Rwxr_xr_x);

        foreach (var dir in applets.Select(a => Path.GetDirectoryName(a)!).Where(d => d.Length > 0).Distinct())
            Directory.CreateDirectory(Path.Combine(rootfs, dir)); // e.g. usr/local/bin on some builds
        foreach (var applet in applets)
        {
            hash.AppendData(Encoding.UTF8.GetBytes(applet + "\n"));
            File.CreateSymbolicLink(Path.Combine(rootfs, applet), "/bin/busybox");
        }

        WriteText(Path.Combine(rootfs, "etc/passwd"), Passwd);
        WriteText(Path.Combine(rootfs, "etc/group"), Group);

        return new ImageConfig
        {
            Id = "sha256:" + Convert.ToHexStringLower(hash.GetCurrentHash()),
            Env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            Cmd = ["sh"],
            WorkingDir = "/",
            Created = DateTimeOffset.UtcNow,
            SizeBytes = size + Passwd.Length + Group.Length,
        };
    }

    static void WriteText(string path, string text)
    {
        File.WriteAllText(path, text);
        File.SetUnixFileMode(path, Rw_r__r__);
    }

    /// <summary>Applet paths relative to the root ("usr/bin/wget"), from `busybox --list-full`;
    /// older busyboxes without it get `--list` placed in bin/.</summary>
    static List<string> ListApplets(string busyboxPath)
    {
        var full = Run(busyboxPath, "--list-full");
        var list = full ?? Run(busyboxPath, "--list")?.Select(a => "bin/" + a).ToList()
            ?? throw new InvalidOperationException($"busybox image: `{busyboxPath} --list` failed");
        var applets = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var raw in list)
        {
            var a = raw.Trim().TrimStart('/');
            // Applet names come from a host binary, still: keep them to plain relative paths.
            if (a.Length == 0 || a.Split('/').Any(p => p is "" or "." or "..")) continue;
            if (a != "bin/busybox" && seen.Add(a)) applets.Add(a);
        }
        if (!seen.Contains("bin/sh"))
            applets.Add("bin/sh"); // `sh` is the image's Cmd; every busybox build has the ash/hush applet behind it
        return applets;
    }

    static List<string>? Run(string exe, string arg)
    {
        var psi = new ProcessStartInfo(exe, arg)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEnd();
        p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) return null;
        return stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();
    }
}
