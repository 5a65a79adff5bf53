using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Gocker.Actors.Containers;
using Gocker.Syscalls.IO;
using Gocker.Syscalls.Security;

namespace Gocker.Actors.Volumes;

/// <summary>A volume as stored: DATA/volumes/NAME/volume.json (its _data dir beside it).</summary>
public sealed record VolumeRecord
{
    public required string Name { get; init; }
    public string Driver { get; init; } = VolumeStore.LocalDriver;
    public DateTimeOffset CreatedAt { get; init; }
    public Dictionary<string, string> Labels { get; init; } = [];
    public Dictionary<string, string> Options { get; init; } = [];
    /// <summary>Made for a container's `-v /path`, `--mount type=volume` without a source or an image's
    /// VOLUME (Docker labels those com.docker.volume.anonymous): `rm -v`, `--rm` and a plain prune remove it.</summary>
    [JsonIgnore] public bool Anonymous => Labels.ContainsKey(VolumeStore.AnonymousLabel);
}

public class VolumeNotFoundException(string name) : Exception($"get {name}: no such volume");

[JsonSourceGenerationOptions(WriteIndented = true)]
[JsonSerializable(typeof(VolumeRecord))]
public partial class VolumeJson : JsonSerializerContext;

/// <summary>
/// Docker's `local` volume driver: DATA/volumes/NAME/_data is the volume (a named volume is a bind
/// of it), volume.json beside it its metadata, written atomically last (a dir without it is a create
/// cut short, removed at load). Which containers use a volume is kept in memory (rebuilt from the
/// container records at daemon start): a volume in use is never removed. Thread-safe.
/// </summary>
public sealed partial class VolumeStore
{
    public const string LocalDriver = "local";
    public const string AnonymousLabel = "com.docker.volume.anonymous";
    const string MetaFile = "volume.json", DataDir = "_data";

    readonly string _root;
    readonly object _lock = new();
    readonly Dictionary<string, VolumeRecord> _volumes = new(StringComparer.Ordinal);
    /// <summary>Volume name -> ids of the containers (any state) that mount it.</summary>
    readonly Dictionary<string, HashSet<string>> _users = new(StringComparer.Ordinal);
    readonly TimeProvider _clock;
    bool _loaded;

    public VolumeStore(string root, TimeProvider? clock = null)
    {
        _root = root;
        _clock = clock ?? TimeProvider.System;
    }

    public string Root => _root;

    /// <summary>Docker's rule for names (volume/local: validName); bounded in length, and so never
    /// "." or ".." or anything with a '/': a name cannot lead out of DATA/volumes.</summary>
    [GeneratedRegex("^[a-zA-Z0-9][a-zA-Z0-9_.-]+$")] private static partial Regex NameRegex();

    public static void ValidateName(string name)
    {
        if (name.Length > 255 || !NameRegex().IsMatch(name))
            throw new BadRequestException($"create {name}: \"{name}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path");
    }

    /// <summary>Same shape as a container id: 64 hex digits.</summary>
    public static string NewAnonymousName() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));

    public string DataPath(string name) => Path.Combine(_root, name, DataDir);

    void EnsureLoaded()
    {
        if (_loaded) return;
        Directory.CreateDirectory(_root, (UnixFileMode)0b111_000_001); // 0701 as Docker's: others may reach a _data, not list names
        foreach (var dir in Directory.EnumerateDirectories(_root))
        {
            var name = Path.GetFileName(dir);
            if (name.StartsWith('.')) { TryDelete(dir); continue; } // a removal cut short (see Remove)
            var meta = Path.Combine(dir, MetaFile);
            try
            {
                var rec = File.Exists(meta) ? JsonSerializer.Deserialize(File.ReadAllBytes(meta), VolumeJson.Default.VolumeRecord) : null;
                if (rec is null || rec.Name != name) { TryDelete(dir); continue; } // a create cut short
                _volumes[name] = rec;
            }
            catch (Exception ex) when (ex is JsonException or IOException)
            {
                // Kept on disk (it may hold data): left out of the listing, named in the log by the caller.
                LoadErrors.Add($"{meta}: {ex.Message}");
            }
        }
        _loaded = true;
    }

    /// <summary>Volumes that could not be read at load (their dirs are kept).</summary>
    public List<string> LoadErrors { get; } = [];

    static void TryDelete(string dir)
    {
        try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>POST /volumes/create: an existing volume of that name is answered as it is (Docker's
    /// behaviour); a new one gets its _data owned by <paramref name="owner"/>'s root (userns-remap).</summary>
    public (VolumeRecord Volume, bool Created) Create(string? name, string? driver, IReadOnlyDictionary<string, string>? options,
        IReadOnlyDictionary<string, string>? labels, IdMap? owner)
    {
        driver = string.IsNullOrEmpty(driver) ? LocalDriver : driver;
        if (driver != LocalDriver) throw new BadRequestException($"volume driver \"{driver}\" is not supported (only \"local\")");
        // Docker's local driver mounts type/o/device (tmpfs, nfs, a bind) when a container first uses
        // the volume; Gocker does not, and refuses them by name rather than keep a plain directory.
        foreach (var (k, _) in options ?? new Dictionary<string, string>())
            throw new BadRequestException($"volume driver option \"{k}\" is not supported by Gocker's local driver (DriverOpts type/o/device are not implemented)");
        foreach (var (k, _) in labels ?? new Dictionary<string, string>())
            if (string.IsNullOrEmpty(k)) throw new BadRequestException("invalid label: the key is empty");
        lock (_lock)
        {
            EnsureLoaded();
            name = string.IsNullOrEmpty(name) ? NewAnonymousName() : name;
            ValidateName(name);
            if (_volumes.TryGetValue(name, out var existing)) return (existing, false);
            var rec = new VolumeRecord
            {
                Name = name,
                CreatedAt = _clock.GetUtcNow(),
                Labels = labels is null ? [] : new Dictionary<string, string>(labels, StringComparer.Ordinal),
            };
            var dir = Path.Combine(_root, name);
            try
            {
                Directory.CreateDirectory(dir, (UnixFileMode)0b111_000_000); // 0700: the metadata is root's
                var data = Directory.CreateDirectory(Path.Combine(dir, DataDir), (UnixFileMode)0b111_101_101).FullName;
                // mkdir's mode goes through the daemon's umask: the mount's root is 0755 as Docker's.
                File.SetUnixFileMode(data, (UnixFileMode)0b111_101_101);
                // A remapped container's root must own the volume's root, as it owns its upper dir.
                if (owner is { } map) Gocker.Syscalls.Native.Sys.Chown(data, map.HostUid, map.HostGid);
                AtomicFile.Write(Path.Combine(dir, MetaFile), JsonSerializer.SerializeToUtf8Bytes(rec, VolumeJson.Default.VolumeRecord));
            }
            catch
            {
                TryDelete(dir);
                throw;
            }
            _volumes[name] = rec;
            return (rec, true);
        }
    }

    public VolumeRecord Get(string name)
    {
        lock (_lock)
        {
            EnsureLoaded();
            return _volumes.TryGetValue(name, out var v) ? v : throw new VolumeNotFoundException(name);
        }
    }

    public IReadOnlyList<VolumeRecord> List()
    {
        lock (_lock)
        {
            EnsureLoaded();
            return _volumes.Values.OrderBy(v => v.Name, StringComparer.Ordinal).ToList();
        }
    }

    /// <summary>The containers using the volume (ids; empty: unused).</summary>
    public IReadOnlyList<string> UsersOf(string name)
    {
        lock (_lock) return _users.TryGetValue(name, out var s) ? s.Order(StringComparer.Ordinal).ToList() : [];
    }

    /// <summary>DELETE /volumes/NAME: refused (409) while any container (running or not) uses it.
    /// <paramref name="force"/>: a missing volume is not an error (as `docker volume rm -f`).</summary>
    public void Remove(string name, bool force)
    {
        lock (_lock)
        {
            EnsureLoaded();
            if (!_volumes.ContainsKey(name))
            {
                if (force) return;
                throw new VolumeNotFoundException(name);
            }
            if (_users.TryGetValue(name, out var users) && users.Count > 0)
                throw new ConflictException($"remove {name}: volume is in use - [{string.Join(", ", users.Order(StringComparer.Ordinal))}]");
            Delete(name);
        }
    }

    void Delete(string name)
    {
        // Renamed out of the listing first (atomic): a removal cut short by a crash leaves a dot-dir,
        // which the next load deletes, never a half-deleted volume under its name.
        var dir = Path.Combine(_root, name);
        var gone = Path.Combine(_root, "." + name + "." + Guid.NewGuid().ToString("N")[..8]);
        Directory.Move(dir, gone);
        _volumes.Remove(name);
        _users.Remove(name);
        // Recursive delete never follows a symlink a container left in the volume (it unlinks it).
        TryDelete(gone);
    }

    /// <summary>POST /volumes/prune: the unused volumes that match (anonymous ones only unless
    /// <paramref name="all"/>, as Docker 23+), removed; their names and bytes freed.</summary>
    public (List<string> Deleted, long Bytes) Prune(Func<VolumeRecord, bool> match, bool all)
    {
        lock (_lock)
        {
            EnsureLoaded();
            var deleted = new List<string>();
            long bytes = 0;
            foreach (var v in _volumes.Values.ToList())
            {
                if (!all && !v.Anonymous) continue;
                if (_users.TryGetValue(v.Name, out var u) && u.Count > 0) continue;
                if (!match(v)) continue;
                bytes += Math.Max(0, Size(v.Name));
                Delete(v.Name);
                deleted.Add(v.Name);
            }
            return (deleted, bytes);
        }
    }

    /// <summary>Bytes under the volume's _data, never following a symlink (-1: unreadable).</summary>
    public long Size(string name)
    {
        try { return TreeSize(DataPath(name)); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { return -1; }
    }

    /// <summary>The volume is the containers' to fill: the walk recurses into real directories only,
    /// a symlink is counted as itself and never followed out of the volume.</summary>
    static long TreeSize(string dir)
    {
        if (!Directory.Exists(dir)) return 0;
        var options = new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = 0 };
        var files = new System.IO.Enumeration.FileSystemEnumerable<long>(dir, (ref System.IO.Enumeration.FileSystemEntry e) => e.Length, options)
        {
            ShouldIncludePredicate = (ref System.IO.Enumeration.FileSystemEntry e) => !e.IsDirectory && (e.Attributes & FileAttributes.ReparsePoint) == 0,
        };
        long total = 0;
        foreach (var size in files) total += size;
        return total;
    }

    // ---- containers' use ------------------------------------------------------------------------

    /// <summary>Creates the volume if missing (labels/owner apply then only) and records that the
    /// container uses it; one step under the lock, so a concurrent `volume rm` or prune cannot take
    /// it in between. Returns its _data path.</summary>
    public string Acquire(string containerId, string name, IReadOnlyDictionary<string, string>? labels, IdMap? owner)
    {
        lock (_lock)
        {
            Create(name, LocalDriver, null, labels, owner);
            if (!_users.TryGetValue(name, out var set)) _users[name] = set = new HashSet<string>(StringComparer.Ordinal);
            set.Add(containerId);
            return DataPath(name);
        }
    }

    /// <summary>A container loaded at daemon start: its volumes are in use again (a missing one is
    /// not recreated here; the container's start reports it).</summary>
    public void Track(string containerId, IEnumerable<string> names)
    {
        lock (_lock)
        {
            EnsureLoaded();
            foreach (var name in names)
            {
                if (!_users.TryGetValue(name, out var set)) _users[name] = set = new HashSet<string>(StringComparer.Ordinal);
                set.Add(containerId);
            }
        }
    }

    /// <summary>The container is gone: its volumes are no longer in use by it, and its anonymous
    /// ones are removed if asked (`rm -v`, `--rm`) and no other container uses them. Named volumes stay.
    /// Returns the names removed.</summary>
    public List<string> Release(string containerId, IEnumerable<string> names, bool removeAnonymous)
    {
        var removed = new List<string>();
        lock (_lock)
        {
            EnsureLoaded();
            foreach (var name in names.Distinct(StringComparer.Ordinal))
            {
                if (_users.TryGetValue(name, out var set))
                {
                    set.Remove(containerId);
                    if (set.Count == 0) _users.Remove(name);
                }
                if (removeAnonymous && _volumes.TryGetValue(name, out var v) && v.Anonymous && !_users.ContainsKey(name))
                {
                    Delete(name);
                    removed.Add(name);
                }
            }
        }
        return removed;
    }
}
