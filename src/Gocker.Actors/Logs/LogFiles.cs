using System.Globalization;

namespace Gocker.Actors.Logs;

/// <summary>
/// Where a container's log lives: DataDir/log/, in generations numbered 1, 2, 3... Generation G is
/// three files: G.out and G.err (the bytes of stdout and stderr, in the order written) and G.idx
/// (LogIndexFile records: which stream, where, how long, when). Generations are never renamed: the
/// writer starts G+1 when G is full and deletes the oldest beyond max-file, so a reader that holds
/// a generation's files open keeps reading them even after their deletion, and a reader at the end
/// of G knows G is complete once G+1 exists. A generation exists for readers once its .idx does
/// (created after its data files, deleted before them).
/// Before rotation existed a container had DataDir/{stdout.log, stderr.log, log.idx}: read as
/// generation 0, and moved into generation 1 by the next writer.
/// </summary>
public static class LogFiles
{
    public const string DirName = "log";

    public static string Dir(string dataDir) => Path.Combine(dataDir, DirName);

    public static string Index(string dataDir, long gen) =>
        gen == 0 ? Path.Combine(dataDir, LogIndexFile.FileName) : Path.Combine(Dir(dataDir), Name(gen) + ".idx");

    /// <summary>stream 1 = stdout, 2 = stderr.</summary>
    public static string Data(string dataDir, long gen, int stream) =>
        gen == 0 ? Path.Combine(dataDir, stream == 1 ? "stdout.log" : "stderr.log")
            : Path.Combine(Dir(dataDir), Name(gen) + (stream == 1 ? ".out" : ".err"));

    static string Name(long gen) => gen.ToString("D6", CultureInfo.InvariantCulture);

    /// <summary>The generations there are, oldest first (0 alone: a log from before rotation).</summary>
    public static List<long> Generations(string dataDir)
    {
        var list = new List<long>();
        try
        {
            foreach (var f in Directory.EnumerateFiles(Dir(dataDir), "*.idx"))
                if (long.TryParse(Path.GetFileNameWithoutExtension(f), NumberStyles.None, CultureInfo.InvariantCulture, out var g) && g > 0)
                    list.Add(g);
        }
        catch (DirectoryNotFoundException) { }
        if (list.Count == 0 && HasLegacy(dataDir)) list.Add(0);
        list.Sort();
        return list;
    }

    static bool HasLegacy(string dataDir) =>
        File.Exists(Path.Combine(dataDir, LogIndexFile.FileName)) || File.Exists(Path.Combine(dataDir, "stdout.log"));

    /// <summary>Before rotation a container's log was DataDir/{stdout.log, stderr.log, log.idx}: it
    /// becomes generation 1 (the next writer indexes what its index lacks). Done by the container's
    /// actor before an attached client is told where to start, and by the writer.</summary>
    public static void MigrateLegacy(string dataDir)
    {
        if (Generations(dataDir) is not [0]) return;
        Directory.CreateDirectory(Dir(dataDir), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        for (var s = 1; s <= 2; s++)
            if (File.Exists(Data(dataDir, 0, s))) File.Move(Data(dataDir, 0, s), Data(dataDir, 1, s), overwrite: true);
        // The index last: generation 1 appears to readers complete.
        if (File.Exists(Index(dataDir, 0))) File.Move(Index(dataDir, 0), Index(dataDir, 1), overwrite: true);
        else File.Create(Index(dataDir, 1)).Dispose();
    }

    /// <summary>At create: generation 1, empty, so that a client attached before the first start
    /// opens the files the run will write (a `run --rm` container's dir may be gone before the
    /// client gets to read).</summary>
    public static void CreateFirst(string dataDir) => CreateGeneration(dataDir, 1);

    /// <summary>Creates (or empties) generation gen: data files first, then the index.</summary>
    public static void CreateGeneration(string dataDir, long gen)
    {
        Directory.CreateDirectory(Dir(dataDir), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        foreach (var path in new[] { Data(dataDir, gen, 1), Data(dataDir, gen, 2), Index(dataDir, gen) })
            using (File.Open(path, new FileStreamOptions
            {
                Mode = FileMode.Create, Access = FileAccess.Write, Share = FileShare.ReadWrite | FileShare.Delete,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            })) { }
    }

    /// <summary>Deletes a generation: its index first, so no reader opens it half gone.</summary>
    public static void DeleteGeneration(string dataDir, long gen)
    {
        foreach (var path in new[] { Index(dataDir, gen), Data(dataDir, gen, 1), Data(dataDir, gen, 2) })
        {
            try { File.Delete(path); }
            catch (DirectoryNotFoundException) { }
        }
    }

    /// <summary>The position after everything logged so far: the newest generation and its number
    /// of records (what an attached client starts from).</summary>
    public static LogPosition End(string dataDir)
    {
        var gens = Generations(dataDir);
        if (gens.Count == 0) return new LogPosition(1, 0);
        var g = gens[^1];
        try { return new LogPosition(g, new FileInfo(Index(dataDir, g)).Length / LogIndexFile.RecordSize); }
        catch (FileNotFoundException) { return new LogPosition(g + 1, 0); }
    }

    /// <summary>Bytes of every generation's files (what the caps bound).</summary>
    public static long SizeOnDisk(string dataDir)
    {
        long total = 0;
        foreach (var g in Generations(dataDir))
            foreach (var p in new[] { Index(dataDir, g), Data(dataDir, g, 1), Data(dataDir, g, 2) })
                try { total += new FileInfo(p).Length; }
                catch (FileNotFoundException) { }
        return total;
    }
}

/// <summary>A place in a container's log: record number Record of generation Gen.</summary>
public readonly record struct LogPosition(long Gen, long Record);
