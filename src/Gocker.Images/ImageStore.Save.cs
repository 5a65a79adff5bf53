using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text.Json;

namespace Gocker.Images;

// save (docker save format) and export (a container's merged rootfs).
public sealed partial class ImageStore
{
    /// <summary>Writes a `docker save` archive: &lt;diff id&gt;/layer.tar per layer, &lt;config digest&gt;.json,
    /// manifest.json and repositories. Layer tars are regenerated from the layer dirs (deterministically);
    /// when they hash to the recorded diff ids the config is written byte for byte as loaded, so the image
    /// keeps its id through save and load. Otherwise (imports, busybox, layers first made by another tool)
    /// a config is written with the new diff ids, and the image gets a new id when loaded.</summary>
    public void Save(IReadOnlyList<string> references, Stream output, Action<long>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(references);
        if (references.Count == 0) throw new ArgumentException("no image to save");
        var images = references.Select(r => (Ref: r, Image: Resolve(r))).ToList();
        var work = NewWorkDir();
        try
        {
            using var tar = new TarWriter(output, TarEntryFormat.Gnu, leaveOpen: true);
            var written = new Dictionary<string, string>(StringComparer.Ordinal); // layer path -> diff hex
            var manifest = new List<DockerManifestEntry>();
            var repositories = new Dictionary<string, Dictionary<string, string>>(StringComparer.Ordinal);
            var configsWritten = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (reference, image) in images)
            {
                var diffHexes = new List<string>();
                foreach (var layer in image.Layers.Reverse())
                {
                    if (!written.TryGetValue(layer, out var hex))
                    {
                        hex = WriteLayerEntry(tar, layer, work, progress);
                        written[layer] = hex;
                    }
                    diffHexes.Add(hex);
                }
                var configBytes = SavedConfig(image, diffHexes);
                var configHex = Convert.ToHexStringLower(SHA256.HashData(configBytes));
                if (configsWritten.Add(configHex))
                    WriteBytes(tar, configHex + ".json", configBytes);
                // By name: that name; by id: every name the image has (docker does the same).
                var tags = ImageReference.TryNormalize(reference, out var n, out _) && image.Name == n ? [n]
                    : NamesOf(image.Id).ToList();
                manifest.Add(new DockerManifestEntry
                {
                    Config = configHex + ".json",
                    RepoTags = tags.Count > 0 ? tags : null,
                    Layers = diffHexes.Select(h => h + "/layer.tar").ToList(),
                });
                foreach (var t in tags)
                {
                    int colon = t.LastIndexOf(':');
                    if (!repositories.TryGetValue(t[..colon], out var m)) repositories[t[..colon]] = m = new(StringComparer.Ordinal);
                    m[t[(colon + 1)..]] = diffHexes.Count > 0 ? diffHexes[^1] : configHex;
                }
            }
            WriteBytes(tar, "manifest.json", JsonSerializer.SerializeToUtf8Bytes(manifest, ArchiveJsonContext.Default.ListDockerManifestEntry));
            WriteBytes(tar, "repositories", JsonSerializer.SerializeToUtf8Bytes(repositories, ArchiveJsonContext.Default.DictionaryStringDictionaryStringString));
        }
        finally
        {
            RemoveTree(work);
        }
    }

    /// <summary>Tars one layer dir into a temp file (a tar entry needs its size up front), hashing it,
    /// then copies it into the archive as &lt;hex&gt;/layer.tar.</summary>
    static string WriteLayerEntry(TarWriter tar, string layerDir, string work, Action<long>? progress)
    {
        var tmp = Path.Combine(work, "layer.tar");
        string hex;
        using (var file = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
        using (var hashing = new HashingWriteStream(file))
        {
            using (var writer = new TreeTarWriter(hashing, progress)) writer.WriteLayer(layerDir);
            hex = hashing.Hex();
        }
        var dir = new GnuTarEntry(TarEntryType.Directory, hex + "/") { Mode = (UnixFileMode)0b111_101_101, ModificationTime = DateTimeOffset.UnixEpoch };
        tar.WriteEntry(dir);
        using (var data = new FileStream(tmp, FileMode.Open, FileAccess.Read, FileShare.None, 1 << 16))
            tar.WriteEntry(new GnuTarEntry(TarEntryType.RegularFile, hex + "/layer.tar")
            {
                Mode = (UnixFileMode)0b110_100_100, ModificationTime = DateTimeOffset.UnixEpoch, DataStream = data,
            });
        File.Delete(tmp);
        return hex;
    }

    static void WriteBytes(TarWriter tar, string name, byte[] bytes) =>
        tar.WriteEntry(new GnuTarEntry(TarEntryType.RegularFile, name)
        {
            Mode = (UnixFileMode)0b110_100_100, ModificationTime = DateTimeOffset.UnixEpoch, DataStream = new MemoryStream(bytes),
        });

    byte[] SavedConfig(ImageRecord image, List<string> diffHexes)
    {
        var hex = ImageReference.HexOf(image.Id);
        var stored = Path.Combine(_root, hex, "config.json");
        if (File.Exists(stored))
        {
            var bytes = File.ReadAllBytes(stored);
            var parsed = JsonSerializer.Deserialize(bytes, ArchiveJsonContext.Default.ImageConfigFile);
            if (parsed?.Rootfs?.DiffIds.SequenceEqual(diffHexes.Select(h => "sha256:" + h)) == true) return bytes;
            if (parsed is not null)
            {
                parsed.Rootfs = new RootfsSection { DiffIds = diffHexes.Select(h => "sha256:" + h).ToList() };
                parsed.History = null; // it described the old layers
                return JsonSerializer.SerializeToUtf8Bytes(parsed, ArchiveJsonContext.Default.ImageConfigFile);
            }
        }
        var config = new ImageConfigFile
        {
            Architecture = System.Runtime.InteropServices.RuntimeInformation.OSArchitecture == System.Runtime.InteropServices.Architecture.Arm64 ? "arm64" : "amd64",
            Os = "linux",
            Created = image.Created,
            Comment = image.Comment,
            Config = new ContainerDefaults
            {
                Env = image.Env.ToList(),
                Cmd = image.Cmd.ToList(),
                Entrypoint = image.Entrypoint?.ToList(),
                WorkingDir = image.WorkingDir,
                User = image.User.Length > 0 ? image.User : null,
                ExposedPorts = image.ExposedPorts.Length > 0 ? image.ExposedPorts.ToDictionary(p => p, _ => JsonDocument.Parse("{}").RootElement) : null,
                Volumes = image.Volumes.Length > 0 ? image.Volumes.ToDictionary(p => p, _ => JsonDocument.Parse("{}").RootElement) : null,
            },
            Rootfs = new RootfsSection { DiffIds = diffHexes.Select(h => "sha256:" + h).ToList() },
        };
        return JsonSerializer.SerializeToUtf8Bytes(config, ArchiveJsonContext.Default.ImageConfigFile);
    }

    /// <summary>The merged view of a container's layers (its upper dir first, then the image's layers
    /// topmost first) as one tar, as `docker export` writes it.</summary>
    /// <param name="upperIds">A remapped container's ids: its upper dir's owners are written as the container's.</param>
    public static void Export(IReadOnlyList<string> layersTopFirst, Stream output, Action<long>? progress = null,
        Gocker.Syscalls.Security.IdMap? upperIds = null)
    {
        using var writer = new TreeTarWriter(output, progress, upperIds);
        writer.WriteMerged(layersTopFirst);
    }
}
