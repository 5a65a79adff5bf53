namespace Gocker.Actors.Containers;

/// <summary>Where a container's files live.
///   DataRoot/containers/ID/  state.json, upper/ and work/ (overlay), stdout.log, stderr.log
///   ExecRoot/containers/ID/  rootfs/ (mount point, mounted only inside the container's mount ns), init.json
/// </summary>
public sealed record ContainerLayout(string DataDir, string RunDir)
{
    public static ContainerLayout For(Engine.GockerOptions o, string id) =>
        new(Path.Combine(o.ContainersDir, id), Path.Combine(o.RunContainersDir, id));

    public string UpperDir => Path.Combine(DataDir, "upper");
    public string WorkDir => Path.Combine(DataDir, "work");
    public string StdoutLog => Path.Combine(DataDir, "stdout.log");
    public string StderrLog => Path.Combine(DataDir, "stderr.log");
    public string RootfsDir => Path.Combine(RunDir, "rootfs");
    public string InitSpecPath => Path.Combine(RunDir, "init.json");

    /// <summary>Creates the persistent part. All or nothing.</summary>
    public void CreateData(ContainerRecord record)
    {
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(DataDir)!, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            // The container dir is private to root: upper dirs can hold setuid files.
            Directory.CreateDirectory(DataDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            Directory.CreateDirectory(UpperDir);
            Directory.CreateDirectory(WorkDir);
            File.Create(StdoutLog).Dispose();
            File.Create(StderrLog).Dispose();
            StateStore.Save(DataDir, record);
        }
        catch
        {
            RemoveData();
            throw;
        }
    }

    public void CreateRun()
    {
        Directory.CreateDirectory(RunDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Directory.CreateDirectory(RootfsDir);
    }

    public void RemoveRun() => DeleteTree(RunDir);
    public void RemoveData() => DeleteTree(DataDir);

    static void DeleteTree(string dir)
    {
        // Directory.Delete does not follow symlinks (it unlinks them), so a symlink planted in an
        // upper dir cannot redirect the deletion to a host path.
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
    }
}
