namespace Gocker.Actors.Containers;

/// <summary>A network a container was connected to besides its NetworkMode (`network connect`), kept
/// in its spec as Docker keeps it in the container's config: a running container joins it at once
/// and again at every start; a created or stopped one joins it at its next start.</summary>
public sealed record ExtraNetwork
{
    /// <summary>The network's full id (a network removed and made again by the same name is another one).</summary>
    public required string NetworkId { get; init; }
    /// <summary>Its name when connected, for messages when it is gone.</summary>
    public required string NetworkName { get; init; }
    /// <summary>`connect --alias`: names of the container on this network only.</summary>
    public string[] Aliases { get; init; } = [];
}
