namespace Gocker.Images;

/// <summary>An image Gocker can run: a read-only rootfs directory plus its default config.</summary>
public sealed record ImageRecord
{
    public required string Name { get; init; }          // "busybox", "myimg:latest" is stored as "myimg:latest"
    public required string Id { get; init; }            // "sha256:<64 hex>" of the rootfs content description
    /// <summary>Overlay lower dirs, topmost first.</summary>
    public required string[] Layers { get; init; }
    public string[] Env { get; init; } = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"];
    public string[] Cmd { get; init; } = ["sh"];
    public string WorkingDir { get; init; } = "/";
    public DateTimeOffset Created { get; init; }
    public long SizeBytes { get; init; }
    /// <summary>The image config's Entrypoint (null: none). `run` puts it before Cmd.</summary>
    public string[]? Entrypoint { get; init; }
    /// <summary>The image config's User ("" = root): what `run` uses unless -u/--user says otherwise.</summary>
    public string User { get; init; } = "";
    /// <summary>"80/tcp" etc. from the image config (informational).</summary>
    public string[] ExposedPorts { get; init; } = [];
    /// <summary>The image config's VOLUME paths: each gets an anonymous volume in a new container.</summary>
    public string[] Volumes { get; init; } = [];
    /// <summary>Layer references, bottom first ("sha256:&lt;diff id&gt;" or "rootfs:&lt;image hex&gt;").</summary>
    public string[] LayerIds { get; init; } = [];
    public string? Parent { get; init; }
    public string? Comment { get; init; }
    /// <summary>The image config's StopSignal (null: none), the default of `run --stop-signal`.</summary>
    public string? StopSignal { get; init; }
    /// <summary>The image config's Labels (for the `label` filters of image prune).</summary>
    public IReadOnlyDictionary<string, string>? Labels { get; init; }
    /// <summary>"name@sha256:..." of the manifests it was pulled as (docker's RepoDigests).</summary>
    public string[] RepoDigests { get; init; } = [];
}

/// <summary>What `rmi` did: names removed and image ids deleted (Docker's Untagged/Deleted items).</summary>
public sealed record ImageRemoval(IReadOnlyList<string> Untagged, IReadOnlyList<string> Deleted);

/// <summary>What `commit` needs from a container (its record is owned by the container's actor).</summary>
public sealed record ContainerCommit
{
    public required string UpperDir { get; init; }
    public required string BaseImageId { get; init; }
    /// <summary>A remapped container's ids (its upper dir holds host ids).</summary>
    public Gocker.Syscalls.Security.IdMap? Userns { get; init; }
    public string? Name { get; init; }
    public string[] Env { get; init; } = [];
    public string[] Args { get; init; } = [];
    public string WorkingDir { get; init; } = "/";
    public string? Comment { get; init; }
    public string? Author { get; init; }
}

public class ImageNotFoundException(string reference)
    : Exception($"No such image: {reference} (pull it with `gocker pull {reference}`, or import one with `gocker image import ROOTFS.tar {reference}`; `busybox` is built in)")
{
    public string Reference { get; } = reference;
}

/// <summary>A rootfs archive that is unsafe or broken. The message names the entry and the reason.</summary>
public class UnsafeArchiveException(string message) : Exception(message);

public interface IImageStore
{
    /// <summary>Finds an image by name ("busybox", "name:tag"; a bare name means ":latest") or id prefix.
    /// The built-in "busybox" image is made on first use from the host's static busybox.</summary>
    ImageRecord Resolve(string reference);
    /// <summary>Unpacks a plain rootfs tarball safely and registers it under name. All or nothing.</summary>
    ImageRecord Import(Stream tar, string name);
    IReadOnlyList<ImageRecord> List();
    /// <summary>Removes an image by name. The caller checks no container uses it.</summary>
    void Remove(string reference);

    // Added with layered images. Default bodies keep other implementations (test fakes) compiling.

    /// <summary>Loads a `docker save` archive or an OCI image layout (tar, optionally gzip): every layer
    /// verified against its digest and unpacked once. All or nothing. Returns the images loaded.</summary>
    IReadOnlyList<ImageRecord> LoadArchive(Stream archive, Action<long>? progress = null) => throw new NotSupportedException();
    /// <summary>Writes the images as a docker-loadable archive (docker save format).</summary>
    void Save(IReadOnlyList<string> references, Stream output, Action<long>? progress = null) => throw new NotSupportedException();
    /// <summary>Points target ("name[:tag]") at the image source resolves to.</summary>
    ImageRecord Tag(string source, string target) => throw new NotSupportedException();
    /// <summary>Like Remove; untagOnly removes the name but never the image data (rmi -f of an image in use).</summary>
    ImageRemoval Delete(string reference, bool untagOnly) => throw new NotSupportedException();
    /// <summary>Deletes images not in inUse: dangling ones only, or every unused one (all).</summary>
    IReadOnlyList<ImageRemoval> Prune(IReadOnlySet<string> inUse, bool all) => throw new NotSupportedException();
    /// <summary>The container's upper dir becomes a new layer on top of its image.</summary>
    ImageRecord CommitContainer(ContainerCommit commit) => throw new NotSupportedException();
    /// <summary>Docker's image history, newest first (ImageStore.History.cs).</summary>
    IReadOnlyList<ImageHistoryEntry> History(string reference) => throw new NotSupportedException();
    /// <summary>Every name pointing at the image id.</summary>
    IReadOnlyList<string> NamesOf(string id) => throw new NotSupportedException();
    /// <summary>Bytes of one layer of <see cref="ImageRecord.LayerIds"/> as recorded when it was
    /// stored (`system df`); -1 if unknown.</summary>
    long LayerSize(string layerId) => -1;
}
