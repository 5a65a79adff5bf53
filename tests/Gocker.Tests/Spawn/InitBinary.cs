using System.Diagnostics;

namespace Gocker.Tests.Spawn;

/// <summary>
/// The published NativeAOT gocker-init the spawn tests run: $GOCKER_INIT, else
/// REPO/artifacts/bin/gocker-init, (re)published once (under a file lock, so parallel test classes and
/// test processes do not race) when missing or older than the init's sources.
/// </summary>
public static class InitBinary
{
    static readonly Lazy<string> path = new(Locate);
    public static string Path => path.Value;

    public static string RepoRoot
    {
        get
        {
            for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
                if (File.Exists(System.IO.Path.Combine(d.FullName, "Gocker.sln"))) return d.FullName;
            throw new InvalidOperationException("cannot find Gocker.sln above " + AppContext.BaseDirectory);
        }
    }

    static string Locate()
    {
        var env = Environment.GetEnvironmentVariable("GOCKER_INIT");
        if (!string.IsNullOrEmpty(env))
            return File.Exists(env) ? env : throw new FileNotFoundException("$GOCKER_INIT does not exist", env);

        var repo = RepoRoot;
        var outDir = System.IO.Path.Combine(repo, "artifacts", "bin");
        var bin = System.IO.Path.Combine(outDir, "gocker-init");
        Directory.CreateDirectory(outDir);
        using var lockFile = AcquireLock(System.IO.Path.Combine(repo, "artifacts", ".gocker-init.publish.lock"));
        if (File.Exists(bin) && !IsStale(repo, File.GetLastWriteTimeUtc(bin))) return bin;

        var psi = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { "publish", System.IO.Path.Combine(repo, "src", "Gocker.Init"), "-c", "Release", "-r", "linux-x64", "-o", outDir, "--nologo" },
            RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = repo,
        };
        // The test host's MSBuild variables would point the nested build at the wrong SDK pieces.
        foreach (var key in psi.Environment.Keys.Where(k => k.StartsWith("MSBUILD", StringComparison.OrdinalIgnoreCase)).ToList())
            psi.Environment.Remove(key);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0 || !File.Exists(bin))
            throw new InvalidOperationException($"publishing gocker-init failed ({p.ExitCode}):\n{stdout.Result}\n{stderr}");
        return bin;
    }

    static bool IsStale(string repo, DateTime built)
    {
        foreach (var project in new[] { "Gocker.Init", "Gocker.Syscalls" })
            foreach (var f in Directory.EnumerateFiles(System.IO.Path.Combine(repo, "src", project), "*", SearchOption.AllDirectories))
            {
                if (f.Contains("/bin/") || f.Contains("/obj/")) continue;
                if ((f.EndsWith(".cs") || f.EndsWith(".csproj")) && File.GetLastWriteTimeUtc(f) > built) return true;
            }
        return false;
    }

    static FileStream AcquireLock(string file)
    {
        while (true)
        {
            try { return new FileStream(file, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
            catch (IOException) { Thread.Sleep(200); }
        }
    }
}
