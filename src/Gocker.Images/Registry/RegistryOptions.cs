namespace Gocker.Images.Registry;

/// <summary>gocker.registry in the HOCON.</summary>
public sealed record RegistryOptions
{
    /// <summary>Registries ("host[:port]") reached over plain HTTP. Loopback ones always are.</summary>
    public IReadOnlyList<string> InsecureRegistries { get; init; } = [];
    /// <summary>Mirrors of Docker Hub ("http(s)://host[:port]"), tried in order before it.</summary>
    public IReadOnlyList<string> Mirrors { get; init; } = [];
    /// <summary>Connect + headers of one request (a layer's body may take longer: see <see cref="StallTimeout"/>).</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>A body read that gets no byte for this long counts as a dropped connection.</summary>
    public TimeSpan StallTimeout { get; init; } = TimeSpan.FromSeconds(60);
    /// <summary>Attempts of one request (5xx, 429, dropped connections) before the pull fails.</summary>
    public int Attempts { get; init; } = 5;
    public TimeSpan FirstBackoff { get; init; } = TimeSpan.FromMilliseconds(200);
    /// <summary>Layers fetched at once by one pull (Docker's max-concurrent-downloads).</summary>
    public int MaxConcurrentDownloads { get; init; } = 3;
    public int MaxConcurrentUploads { get; init; } = 5;
}

/// <summary>Credentials for one registry: user + password, or an identity (refresh) token.</summary>
public sealed record RegistryCredentials(string Username, string Password, string? IdentityToken = null);
