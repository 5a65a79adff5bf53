namespace Gocker.Tests.Integration;

/// <summary>Finds the built binaries: $GOCKER_BIN_DIR or artifacts/bin of this checkout (./build.sh).</summary>
public static class GockerBinaries
{
    public static string Dir { get; } = Locate();

    public static string Gocker => Path.Combine(Dir, "gocker");
    public static string Gockerd => Path.Combine(Dir, "gockerd");
    public static string Init => Path.Combine(Dir, "gocker-init");

    static string Locate()
    {
        var env = Environment.GetEnvironmentVariable("GOCKER_BIN_DIR");
        if (!string.IsNullOrEmpty(env)) return env;
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Gocker.sln"))) dir = dir.Parent;
        if (dir is null) throw new InvalidOperationException("cannot find the repository root (Gocker.sln)");
        return Path.Combine(dir.FullName, "artifacts", "bin");
    }

    public static void Require()
    {
        foreach (var b in new[] { Gocker, Gockerd, Init })
            if (!File.Exists(b)) throw new InvalidOperationException($"{b} is missing: run ./build.sh first (./test.sh does)");
    }
}
