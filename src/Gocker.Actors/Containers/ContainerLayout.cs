namespace Gocker.Actors.Containers;

/// <summary>Where a container's files live.
///   DataRoot/containers/ID/  state.json, upper/ and work/ (overlay), log/ (Logs.LogFiles)
///   ExecRoot/containers/ID/  init.json, etc/ (generated /etc files)
///   ExecRoot/rootfs/         the mount point of every container's root (see RootfsDir)
/// </summary>
public sealed record ContainerLayout(string DataDir, string RunDir, string RootfsDir)
{
    public static ContainerLayout For(Engine.GockerOptions o, string id) =>
        new(Path.Combine(o.ContainersDir, id), Path.Combine(o.RunContainersDir, id), o.RootfsMountPoint);

    public string UpperDir => Path.Combine(DataDir, "upper");
    public string WorkDir => Path.Combine(DataDir, "work");
    /// <summary>Only the spawn request's fallback paths (the init's fds 1 and 2 are always the
    /// daemon's pipes or terminal; the log itself is under log/, see Logs.LogFiles).</summary>
    public string StdoutLog => Path.Combine(DataDir, "stdout.log");
    public string StderrLog => Path.Combine(DataDir, "stderr.log");
    public string InitSpecPath => Path.Combine(RunDir, "init.json");
    /// <summary>The generated hosts, hostname and resolv.conf (bind-mounted over the image's /etc files).</summary>
    public string EtcDir => Path.Combine(RunDir, "etc");

    /// <summary>Creates EtcDir with the three files empty: the init bind-mounts them before the
    /// network exists, and Attach fills them in place (same inode) before the init is released.</summary>
    public Gocker.Syscalls.Spawn.VolumeMount[] CreateEtcFiles()
    {
        Directory.CreateDirectory(EtcDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        var mounts = new List<Gocker.Syscalls.Spawn.VolumeMount>();
        foreach (var name in new[] { Gocker.Network.EtcFiles.Hosts, Gocker.Network.EtcFiles.Hostname, Gocker.Network.EtcFiles.ResolvConf })
        {
            var path = Path.Combine(EtcDir, name);
            using (new FileStream(path, new FileStreamOptions
            {
                Mode = FileMode.Create, Access = FileAccess.Write,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
            })) { }
            mounts.Add(new Gocker.Syscalls.Spawn.VolumeMount(path, "/etc/" + name, ReadOnly: false));
        }
        return mounts.ToArray();
    }

    /// <summary>--network host: /etc/hosts and /etc/resolv.conf are copies of the host's (taken at
    /// each start, as Docker does), /etc/hostname the container's name for itself.</summary>
    public Gocker.Syscalls.Spawn.VolumeMount[] CreateHostEtcFiles(string hostname, Gocker.Network.NameSettings? names = null, string? hostGateway = null)
    {
        var mounts = CreateEtcFiles();
        File.WriteAllText(Path.Combine(EtcDir, Gocker.Network.EtcFiles.Hostname), hostname + "\n");
        foreach (var name in new[] { Gocker.Network.EtcFiles.Hosts, Gocker.Network.EtcFiles.ResolvConf })
        {
            var source = "/etc/" + name;
            // A missing host file leaves the empty one: the container still starts.
            if (File.Exists(source)) File.WriteAllBytes(Path.Combine(EtcDir, name), File.ReadAllBytes(source));
        }
        if (names is null) return mounts;
        // --add-host lines after the host's (Docker's), --dns* in place of the host's own values.
        var extra = new System.Text.StringBuilder();
        foreach (var entry in names.ExtraHosts)
        {
            var (host, ip) = Gocker.Network.NameSettings.ParseExtraHost(entry);
            if (ip == Gocker.Network.NameSettings.HostGateway)
                ip = hostGateway ?? throw new InvalidOperationException($"--add-host {entry}: the daemon has no default network whose gateway host-gateway stands for");
            extra.Append(ip).Append('\t').Append(host).Append('\n');
        }
        if (extra.Length > 0) File.AppendAllText(Path.Combine(EtcDir, Gocker.Network.EtcFiles.Hosts), extra.ToString());
        if (names.Dns is not null || names.DnsSearch is not null || names.DnsOptions is not null)
            File.WriteAllText(Path.Combine(EtcDir, Gocker.Network.EtcFiles.ResolvConf),
                Gocker.Network.EtcFiles.ResolvConfContent("/etc/resolv.conf", names, keepLoopback: true));
        return mounts;
    }

    /// <summary>Creates the persistent part. All or nothing. Without <paramref name="persist"/> the
    /// record is not written (the start writes the first one).</summary>
    public void CreateData(ContainerRecord record, bool persist = true)
    {
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(DataDir)!, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            // The container dir is private to root: upper dirs can hold setuid files.
            Directory.CreateDirectory(DataDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            Directory.CreateDirectory(UpperDir);
            Directory.CreateDirectory(WorkDir);
            // A remapped container's root owns its upper dir (the overlay's "/"): what it writes there
            // lands on disk with its mapped ids, never as the host's root.
            if (record.Spec.Userns is { } map) Gocker.Syscalls.Native.Sys.Chown(UpperDir, map.HostUid, map.HostGid);
            // The log is the daemon's (the container never holds it): root's, whatever the mapping.
            Gocker.Actors.Logs.LogFiles.CreateFirst(DataDir);
            if (persist) StateStore.Save(DataDir, record, reserve: !record.Spec.AutoRemove);
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
        Directory.CreateDirectory(RootfsDir); // exists after the first start: a stat
    }

    public void RemoveRun(TrashBin? trash = null) => Remove(RunDir, trash);
    public void RemoveData(TrashBin? trash = null) => Remove(DataDir, trash);

    /// <summary>Into the trash next to the dir's parent (ROOT/containers/ID -> ROOT/trash), whose
    /// thread deletes it; without a trash bin, here and now.</summary>
    static void Remove(string dir, TrashBin? trash)
    {
        if (trash is null) DeleteTree(dir);
        else trash.Discard(dir, TrashDirOf(dir));
    }

    /// <summary>ROOT/trash for ROOT/containers/ID (GockerOptions.TrashDirs).</summary>
    public static string TrashDirOf(string containerDir) =>
        Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(containerDir))!, "trash");

    static void DeleteTree(string dir)
    {
        // Directory.Delete does not follow symlinks (it unlinks them), so a symlink planted in an
        // upper dir cannot redirect the deletion to a host path.
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
    }
}
