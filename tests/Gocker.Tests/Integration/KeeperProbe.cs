namespace Gocker.Tests.Integration;

/// <summary>What a keeper holds, seen from /proc: its held descriptors are pty masters and pipe read
/// ends (its own are /dev/null, its listening socket and the daemons' connections).</summary>
internal static class KeeperProbe
{
    public static int Held(int pid)
    {
        try
        {
            return Directory.GetFiles($"/proc/{pid}/fd").Count(f =>
            {
                var target = new FileInfo(f).LinkTarget ?? "";
                return target.StartsWith("pipe:", StringComparison.Ordinal) || target.EndsWith("ptmx", StringComparison.Ordinal);
            });
        }
        catch (IOException) { return 0; }
        catch (UnauthorizedAccessException) { return 0; }
    }

    /// <summary>No keeper, or one that holds nothing (it stays while its daemon is connected).</summary>
    public static bool Idle(int pid) => pid == 0 || Held(pid) == 0;
}
