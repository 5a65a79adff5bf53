namespace Gocker.Tests.Integration;

/// <summary>Last-resort cleanup of a test daemon's cgroup parent after the daemon was killed: its
/// containers may still run, so kill what is in each container cgroup before removing it.</summary>
public static class TestCgroups
{
    public static void RemoveTree(string parentDir)
    {
        foreach (var child in Directory.GetDirectories(parentDir))
        {
            KillAll(child);
            TryRmdir(child);
        }
        TryRmdir(parentDir);
    }

    public static void KillAll(string cgroupDir)
    {
        try
        {
            foreach (var line in File.ReadAllLines(Path.Combine(cgroupDir, "cgroup.procs")))
                if (int.TryParse(line, out var pid)) Tmds.Linux.LibC.kill(pid, 9);
        }
        catch (IOException) { }
    }

    public static void TryRmdir(string dir)
    {
        for (var i = 0; i < 40; i++)
        {
            try { Directory.Delete(dir); return; }
            catch (IOException) { Thread.Sleep(50); }
            catch (UnauthorizedAccessException) { return; }
        }
    }
}
