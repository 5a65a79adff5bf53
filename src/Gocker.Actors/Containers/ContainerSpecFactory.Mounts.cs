using System.Globalization;
using Gocker.Api;
using Gocker.Images;
using Gocker.Syscalls.Spawn;

namespace Gocker.Actors.Containers;

/// <summary>A mount of a container as inspect shows it (Docker's MountPoint) and as the daemon keeps
/// track of it: Type "bind", "volume" or "tmpfs". A volume's Source is its _data dir, filled in when
/// the volume is acquired (VolumeStore.Acquire); an anonymous volume's Name is chosen at create.</summary>
public sealed record ContainerMount
{
    public required string Type { get; init; }
    public string? Name { get; init; }
    public string Source { get; init; } = "";
    public required string Destination { get; init; }
    public bool ReadOnly { get; init; }
    public bool Anonymous { get; init; }
    /// <summary>No copy-up of the image's content into the volume while it is empty.</summary>
    public bool NoCopy { get; init; }
    /// <summary>The mode as given (`-v a:/b:ro` -> "ro"; Docker shows "z" for a -v volume without one).</summary>
    public string Mode { get; init; } = "";
    public string Propagation { get; init; } = "";
    /// <summary>Labels for a volume this container creates (VolumeOptions.Labels).</summary>
    public Dictionary<string, string>? Labels { get; init; }
}

public static partial class ContainerSpecFactory
{
    /// <summary>
    /// Every mount a create request asks for, Docker's way: HostConfig.Binds (`-v HOST:CTR[:opts]`,
    /// `-v NAME:CTR[:opts]`, `-v /CTR`), HostConfig.Mounts (`--mount`), Config.Volumes and the image's
    /// VOLUME entries (anonymous volumes, unless a mount already has that destination). Two mounts
    /// on one destination are refused, as Docker ("Duplicate mount point"). Volumes get their source
    /// later, when acquired; binds and tmpfs mounts are complete.
    /// </summary>
    public static List<ContainerMount> BuildMounts(ContainerCreateRequest req, ImageRecord image)
    {
        var hc = req.HostConfig ?? new HostConfig();
        Count("HostConfig.Mounts", hc.Mounts?.Count, MaxItems);
        NoNulls("HostConfig.Mounts", hc.Mounts);
        Count("Volumes", req.Volumes?.Count, MaxItems);
        var result = new List<ContainerMount>();
        void Add(ContainerMount m)
        {
            if (result.Any(x => x.Destination == m.Destination) || (hc.Tmpfs?.Keys.Any(t => Normalize(t) == m.Destination) ?? false))
                throw new BadRequestException($"Duplicate mount point: {m.Destination}");
            result.Add(m);
        }
        foreach (var b in hc.Binds ?? []) Add(ParseBindOrVolume(b));
        foreach (var m in hc.Mounts ?? []) Add(ParseMount(m));
        // Config.Volumes and the image's VOLUME: a mount the user gave for that path wins (Docker).
        foreach (var path in (req.Volumes?.Keys ?? (IEnumerable<string>)[]).Concat(image.Volumes))
        {
            Str("Volumes", path, MaxPathBytes);
            var dst = NormalizeDestination(path, "volume");
            if (result.Any(x => x.Destination == dst) || (hc.Tmpfs?.Keys.Any(t => Normalize(t) == dst) ?? false)) continue;
            result.Add(new ContainerMount { Type = "volume", Destination = dst, Anonymous = true });
        }
        return result;
    }

    static string Normalize(string path) => "/" + string.Join('/', path.Split('/', StringSplitOptions.RemoveEmptyEntries));

    /// <summary>One entry of Binds: a host path (absolute) is a bind (ParseBind), a name is a named
    /// volume, a lone container path an anonymous volume.</summary>
    public static ContainerMount ParseBindOrVolume(string bind)
    {
        var parts = bind.Split(':');
        if (parts.Length == 1)
        {
            // `-v /data`: a new anonymous volume on /data (Docker's parser takes it in Binds too).
            return new ContainerMount { Type = "volume", Destination = NormalizeDestination(bind, "volume"), Anonymous = true };
        }
        if (parts[0].StartsWith('/'))
        {
            var v = ParseBind(bind);
            return new ContainerMount
            {
                Type = "bind", Source = v.Source, Destination = v.Destination, ReadOnly = v.ReadOnly,
                Mode = parts.Length == 3 ? parts[2] : "", Propagation = "rprivate",
            };
        }
        if (parts.Length > 3) throw new BadRequestException($"Invalid volume \"{bind}\": expected NAME:CONTAINER[:ro|rw|nocopy]");
        var name = parts[0];
        Gocker.Actors.Volumes.VolumeStore.ValidateName(name);
        var dst = NormalizeDestination(parts[1], $"volume \"{bind}\"");
        bool ro = false, nocopy = false;
        if (parts.Length == 3)
            foreach (var opt in parts[2].Split(','))
                switch (opt)
                {
                    case "ro": ro = true; break;
                    case "rw": ro = false; break;
                    case "nocopy": nocopy = true; break;
                    default: throw new BadRequestException($"Invalid volume \"{bind}\": unknown option \"{opt}\" for a volume (ro, rw, nocopy)");
                }
        return new ContainerMount
        {
            Type = "volume", Name = name, Destination = dst, ReadOnly = ro, NoCopy = nocopy,
            Mode = parts.Length == 3 ? parts[2] : "z",
        };
    }

    /// <summary>One entry of HostConfig.Mounts (`--mount type=...`): every field either applied or refused by name.</summary>
    public static ContainerMount ParseMount(MountRequest m)
    {
        var type = m.Type ?? "";
        Str("HostConfig.Mounts.Source", m.Source, MaxPathBytes);
        Str("HostConfig.Mounts.Target", m.Target, MaxPathBytes);
        RefuseUnsupported("HostConfig.Mounts.", m.Unsupported);
        if (m.Consistency is { Length: > 0 } c && c is not ("default" or "consistent" or "cached" or "delegated"))
            throw new BadRequestException($"invalid mount config: unknown consistency \"{c}\"");
        if (string.IsNullOrEmpty(m.Target)) throw new BadRequestException($"invalid mount config for type \"{type}\": field Target must not be empty");
        var dst = NormalizeDestination(m.Target, $"mount target");
        if (type != "bind" && m.BindOptions is not null && !IsEmptyBindOptions(m.BindOptions))
            throw new BadRequestException($"invalid mount config for type \"{type}\": field BindOptions must not be specified");
        if (type != "volume" && m.VolumeOptions is not null)
            throw new BadRequestException($"invalid mount config for type \"{type}\": field VolumeOptions must not be specified");
        if (type != "tmpfs" && m.TmpfsOptions is not null)
            throw new BadRequestException($"invalid mount config for type \"{type}\": field TmpfsOptions must not be specified");
        switch (type)
        {
            case "bind":
            {
                var src = m.Source ?? "";
                if (!src.StartsWith('/') || src.Contains('\0') || src.Contains(','))
                    throw new BadRequestException($"invalid mount config for type \"bind\": invalid mount path: '{src}' mount path must be absolute");
                var o = m.BindOptions;
                if (o is not null)
                {
                    RefuseUnsupported("HostConfig.Mounts.BindOptions.", o.Unsupported);
                    // The init's binds are recursive clones in the container's own mount namespace,
                    // private to it: shared or slave propagation would need more than that.
                    if (o.Propagation is { Length: > 0 } p && p != "rprivate")
                        throw new BadRequestException($"HostConfig.Mounts.BindOptions.Propagation \"{p}\" is not supported by Gocker (only rprivate)");
                    if (o.NonRecursive) throw new BadRequestException("HostConfig.Mounts.BindOptions.NonRecursive is not supported by Gocker (binds are recursive)");
                }
                if (!Directory.Exists(src) && !File.Exists(src))
                {
                    if (o?.CreateMountpoint != true)
                        throw new BadRequestException($"invalid mount config for type \"bind\": bind source path does not exist: {src}");
                    Directory.CreateDirectory(src);
                }
                return new ContainerMount
                {
                    Type = "bind", Source = Path.GetFullPath(src), Destination = dst, ReadOnly = m.ReadOnly, Propagation = "rprivate",
                };
            }
            case "volume":
            {
                var o = m.VolumeOptions;
                if (o is not null)
                {
                    RefuseUnsupported("HostConfig.Mounts.VolumeOptions.", o.Unsupported);
                    CheckLabels(o.Labels, "HostConfig.Mounts.VolumeOptions.Labels");
                    if (o.DriverConfig is { } d)
                    {
                        RefuseUnsupported("HostConfig.Mounts.VolumeOptions.DriverConfig.", d.Unsupported);
                        if (d.Name is { Length: > 0 } n && n != Gocker.Actors.Volumes.VolumeStore.LocalDriver)
                            throw new BadRequestException($"volume driver \"{n}\" is not supported (only \"local\")");
                        if (d.Options is { Count: > 0 } opts)
                            throw new BadRequestException($"volume driver option \"{opts.Keys.First()}\" is not supported by Gocker's local driver (DriverConfig.Options)");
                    }
                }
                var anonymous = string.IsNullOrEmpty(m.Source);
                if (!anonymous) Gocker.Actors.Volumes.VolumeStore.ValidateName(m.Source!);
                return new ContainerMount
                {
                    Type = "volume", Name = anonymous ? null : m.Source, Destination = dst, ReadOnly = m.ReadOnly,
                    Anonymous = anonymous, NoCopy = o?.NoCopy ?? false, Labels = o?.Labels,
                };
            }
            case "tmpfs":
            {
                if (!string.IsNullOrEmpty(m.Source))
                    throw new BadRequestException("invalid mount config for type \"tmpfs\": field Source must not be specified");
                var o = m.TmpfsOptions;
                var data = new List<string>();
                if (o is not null)
                {
                    RefuseUnsupported("HostConfig.Mounts.TmpfsOptions.", o.Unsupported);
                    if (o.SizeBytes < 0) throw new BadRequestException($"invalid mount config for type \"tmpfs\": SizeBytes {o.SizeBytes} must not be negative");
                    if (o.SizeBytes > 0) data.Add("size=" + o.SizeBytes.ToString(CultureInfo.InvariantCulture));
                    if (o.Mode != 0)
                    {
                        if (o.Mode > 0xFFF) throw new BadRequestException($"invalid mount config for type \"tmpfs\": Mode {o.Mode} has bits beyond the permission bits");
                        data.Add("mode=" + Convert.ToString(o.Mode, 8));
                    }
                }
                if (m.ReadOnly) data.Add("ro");
                // Docker's flags for a tmpfs mount (noexec, nosuid, nodev), as --tmpfs.
                var t = ParseTmpfs(dst, string.Join(',', data));
                return new ContainerMount { Type = "tmpfs", Destination = dst, ReadOnly = m.ReadOnly, Mode = t.Data, Source = "" };
            }
            case "":
                throw new BadRequestException("invalid mount config: field Type must not be empty (bind, volume or tmpfs)");
            default:
                throw new BadRequestException($"mount type \"{type}\" is not supported by Gocker (bind, volume or tmpfs)");
        }
    }

    static bool IsEmptyBindOptions(MountBindOptions o) =>
        string.IsNullOrEmpty(o.Propagation) && !o.NonRecursive && !o.CreateMountpoint && (o.Unsupported is null || o.Unsupported.Count == 0);

    /// <summary>The init's bind list from the mounts: binds and volumes that have a source (a volume
    /// has one once acquired), parents before children (Docker sorts mounts by depth too).</summary>
    public static VolumeMount[] BindList(IEnumerable<ContainerMount> mounts) =>
        mounts.Where(m => m.Type is "bind" or "volume" && m.Source.Length > 0)
            .OrderBy(m => m.Destination.Count(c => c == '/'))
            .Select(m => new VolumeMount(m.Source, m.Destination, m.ReadOnly) { CopyUp = m.Type == "volume" && !m.NoCopy })
            .ToArray();

    /// <summary>`--mount type=tmpfs` entries as the init's tmpfs mounts.</summary>
    static IEnumerable<TmpfsMount> TmpfsList(IEnumerable<ContainerMount> mounts) =>
        mounts.Where(m => m.Type == "tmpfs")
            .Select(m => ParseTmpfs(m.Destination, string.Join(',', new[] { m.Mode, m.ReadOnly ? "ro" : "" }.Where(s => s.Length > 0))));
}
