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
}

public class ImageNotFoundException(string reference)
    : Exception($"No such image: {reference} (import one with `gocker image import ROOTFS.tar {reference}`; `busybox` is built in)")
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
}
