namespace Gocker.Images;

/// <summary>Settings of an <see cref="ImageStore"/>.</summary>
public sealed record ImageStoreOptions
{
    /// <summary>The host's static busybox, from which the built-in "busybox" image is made.</summary>
    public string BusyboxPath { get; init; } = "/bin/busybox";

    /// <summary>Most bytes read from an import stream (compressed size for gzip input).</summary>
    public long MaxArchiveBytes { get; init; } = 8L << 30;

    /// <summary>Most bytes of file content an import may unpack (guards against gzip bombs too).</summary>
    public long MaxUnpackedBytes { get; init; } = 16L << 30;

    /// <summary>Whether character/block device entries may be created. Off by default: a device node in
    /// an image gives the container whatever device it names (e.g. the host's disk) if the runtime's
    /// device cgroup ever lets it through.</summary>
    public bool AllowDeviceNodes { get; init; }
}
