using Gocker.Api;

namespace Gocker.Cli;

/// <summary>`-v` and `--mount` as the docker CLI turns them into a create request.</summary>
public static class MountFlags
{
    /// <summary>-v forms: `/ctr` (anonymous volume: Config.Volumes), `HOST:/ctr[:opts]` (bind) and
    /// `NAME:/ctr[:opts]` (named volume), both in HostConfig.Binds; the daemon validates the rest.</summary>
    public static void ApplyVolume(string spec, HostConfig host, Dictionary<string, EmptyObject> volumes)
    {
        string Fail(string why) => throw new UsageException($"invalid volume specification '{spec}': {why}");
        var parts = spec.Split(':');
        if (parts.Length == 1)
        {
            if (!spec.StartsWith('/')) Fail("the container path must be absolute");
            if (spec.TrimEnd('/').Length == 0) Fail("the container path cannot be '/'");
            volumes[spec] = new EmptyObject();
            return;
        }
        if (parts.Length > 3) Fail("expected [HOST-PATH|NAME:]CONTAINER-PATH[:OPTIONS]");
        if (parts[0].Length == 0) Fail("empty host path or volume name");
        if (parts[0].StartsWith('/')) RunFlags.ValidateBind(spec);
        else if (!parts[1].StartsWith('/')) Fail($"container path '{parts[1]}' must be absolute");
        (host.Binds ??= []).Add(spec);
    }

    /// <summary>--mount type=bind|volume|tmpfs,source=...,target=...[,readonly][,...] (docker's CSV keys).</summary>
    public static MountRequest ParseMount(string spec)
    {
        string Fail(string why) => throw new UsageException($"invalid argument \"{spec}\" for \"--mount\" flag: {why}");
        var m = new MountRequest { Type = "volume" };
        MountBindOptions Bind() => m.BindOptions ??= new MountBindOptions();
        MountVolumeOptions Vol() => m.VolumeOptions ??= new MountVolumeOptions();
        MountTmpfsOptions Tmp() => m.TmpfsOptions ??= new MountTmpfsOptions();
        bool Bool(string key, string? value) => value switch
        {
            null or "1" or "true" or "True" => true,
            "0" or "false" or "False" => false,
            _ => Fail($"invalid value for {key}: {value}") is var _ && false,
        };
        foreach (var field in spec.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = field.IndexOf('=');
            var (key, value) = eq < 0 ? (field.Trim().ToLowerInvariant(), (string?)null) : (field[..eq].Trim().ToLowerInvariant(), field[(eq + 1)..]);
            string Need() => value ?? Fail($"invalid field '{field}' must be a key=value pair");
            switch (key)
            {
                case "type": m.Type = Need(); break;
                case "source" or "src": m.Source = Need(); break;
                case "target" or "destination" or "dst": m.Target = Need(); break;
                case "readonly" or "ro": m.ReadOnly = Bool(key, value); break;
                case "consistency": m.Consistency = Need(); break;
                case "bind-propagation": Bind().Propagation = Need(); break;
                case "bind-nonrecursive": Bind().NonRecursive = Bool(key, value); break;
                case "bind-create-mountpoint": Bind().CreateMountpoint = Bool(key, value); break;
                case "volume-nocopy": Vol().NoCopy = Bool(key, value); break;
                case "volume-label":
                {
                    var kv = Need();
                    var i = kv.IndexOf('=');
                    (Vol().Labels ??= [])[i < 0 ? kv : kv[..i]] = i < 0 ? "" : kv[(i + 1)..];
                    break;
                }
                case "volume-driver": (Vol().DriverConfig ??= new MountDriverConfig()).Name = Need(); break;
                case "volume-opt":
                {
                    var kv = Need();
                    var i = kv.IndexOf('=');
                    if (i <= 0) Fail($"invalid volume-opt '{kv}': expected KEY=VALUE");
                    ((Vol().DriverConfig ??= new MountDriverConfig()).Options ??= [])[kv[..i]] = kv[(i + 1)..];
                    break;
                }
                case "tmpfs-size": Tmp().SizeBytes = RunFlags.ParseMemory(Need()); break;
                case "tmpfs-mode":
                    try { Tmp().Mode = Convert.ToUInt32(Need(), 8); }
                    catch (FormatException) { Fail($"invalid tmpfs-mode '{value}': expected octal permission bits"); }
                    catch (OverflowException) { Fail($"invalid tmpfs-mode '{value}': expected octal permission bits"); }
                    break;
                default: Fail($"unexpected key '{key}' in '{field}'"); break;
            }
        }
        if (string.IsNullOrEmpty(m.Target)) Fail("target is required");
        return m;
    }
}
