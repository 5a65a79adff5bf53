namespace Gocker.Cli;

/// <summary>--env-file FILE for run, create and exec, read as docker's CLI reads it
/// (opts.ParseEnvFile): one KEY=VALUE per line, the value taken as is (no quotes removed, no
/// expansion); blank lines and lines starting with # skipped; a KEY alone takes the console's
/// value, or is left out when the console has none; a key with white space is an error.</summary>
public static class EnvFile
{
    public static List<string> Read(IEnumerable<string> files, Func<string, string?> getEnv, Func<string, IEnumerable<string>> readLines)
    {
        var result = new List<string>();
        foreach (var file in files)
        {
            List<string> lines;
            try { lines = readLines(file).ToList(); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            { throw new UsageException($"--env-file {file}: {e.Message}"); }
            for (int n = 0; n < lines.Count; n++)
            {
                var line = lines[n];
                if (n == 0) line = line.TrimStart('\uFEFF');
                line = line.TrimEnd('\r').TrimStart(' ', '\t');
                if (line.Length == 0 || line[0] == '#') continue;
                var eq = line.IndexOf('=');
                var key = eq < 0 ? line : line[..eq];
                if (key.Length == 0) throw new UsageException($"--env-file {file}, line {n + 1}: no variable name in \"{line}\"");
                if (key.Any(char.IsWhiteSpace)) throw new UsageException($"--env-file {file}, line {n + 1}: variable '{key.Trim()}' contains whitespaces");
                if (eq >= 0) result.Add(line);
                else if (getEnv(key) is { } v) result.Add(key + "=" + v);
            }
        }
        return result;
    }
}
