using System.Text.RegularExpressions;

namespace Gocker.Images.Registry;

/// <summary>An image reference as Docker's distribution/reference parses it: "busybox" is
/// docker.io/library/busybox:latest, "user/app" docker.io/user/app, "host:5000/ns/app:v1" on that
/// registry, "NAME@sha256:HEX" a pinned manifest (a tag may stand before it, as Docker allows).</summary>
public sealed partial record RegistryReference(string Registry, string Repository, string? Tag, string? Digest)
{
    public const string DockerHub = "docker.io";

    [GeneratedRegex(@"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$")]
    private static partial Regex PathPattern();

    [GeneratedRegex(@"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]{1,5})?$")]
    private static partial Regex DomainPattern();

    [GeneratedRegex(@"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")]
    private static partial Regex TagPattern();

    [GeneratedRegex(@"^sha256:[0-9a-f]{64}$")]
    private static partial Regex DigestPattern();

    public static RegistryReference Parse(string reference)
    {
        if (!TryParse(reference, out var r, out var reason)) throw new InvalidImageNameException(reference, reason);
        return r!;
    }

    public static bool TryParse(string reference, out RegistryReference? result, out string reason)
    {
        result = null;
        if (string.IsNullOrEmpty(reference)) { reason = "empty name"; return false; }
        string? digest = null;
        var rest = reference;
        int at = rest.IndexOf('@');
        if (at >= 0)
        {
            digest = rest[(at + 1)..];
            rest = rest[..at];
            if (!DigestPattern().IsMatch(digest)) { reason = $"digest \"{digest}\" must be sha256: and 64 lowercase hex digits"; return false; }
        }
        string? tag = null;
        int colon = rest.LastIndexOf(':');
        if (colon >= 0 && rest.IndexOf('/', colon) < 0)
        {
            tag = rest[(colon + 1)..];
            rest = rest[..colon];
            if (!TagPattern().IsMatch(tag)) { reason = $"tag \"{tag}\" must be 1-128 of [A-Za-z0-9_.-], not starting with '.' or '-'"; return false; }
        }
        string registry = DockerHub, path = rest;
        int slash = rest.IndexOf('/');
        if (slash > 0)
        {
            var first = rest[..slash];
            // Docker's rule: the first component is a registry if it has a '.' or a ':' or is "localhost".
            if (first.Contains('.') || first.Contains(':') || first == "localhost" || first.Any(char.IsUpper))
            {
                if (!DomainPattern().IsMatch(first)) { reason = $"registry \"{first}\" is not a host[:port]"; return false; }
                registry = first;
                path = rest[(slash + 1)..];
            }
        }
        if (registry is "index.docker.io" or "registry-1.docker.io") registry = DockerHub;
        if (path.Length == 0 || path.Length > ImageReference.MaxNameLength) { reason = "empty or too long repository name"; return false; }
        if (!PathPattern().IsMatch(path))
        {
            reason = "repository name must be lowercase [a-z0-9] path components separated by '/', each joined only by '.', '_', '__' or '-'";
            return false;
        }
        if (registry == DockerHub && !path.Contains('/')) path = "library/" + path;
        if (tag is null && digest is null) tag = "latest";
        result = new RegistryReference(registry, path, tag, digest);
        reason = "";
        return true;
    }

    /// <summary>The name as Docker shows it: "busybox", "user/app", "host:5000/ns/app".</summary>
    public string FamiliarName =>
        Registry != DockerHub ? Registry + "/" + Repository
        : Repository.StartsWith("library/", StringComparison.Ordinal) && Repository.IndexOf('/', 8) < 0 ? Repository[8..]
        : Repository;

    /// <summary>"name:tag" as the image store keeps it (null for a digest-only reference).</summary>
    public string? StoreName => Tag is null ? null : FamiliarName + ":" + Tag;

    /// <summary>What goes after /manifests/: the digest if pinned, else the tag.</summary>
    public string ManifestReference => Digest ?? Tag!;

    /// <summary>The host the v2 API is on (Docker Hub's API host differs from its name).</summary>
    public string ApiHost => Registry == DockerHub ? "registry-1.docker.io" : Registry;

    public override string ToString() =>
        Registry + "/" + Repository + (Tag is null ? "" : ":" + Tag) + (Digest is null ? "" : "@" + Digest);

    /// <summary>The key login stores credentials under: Docker Hub's is its index URL, as docker's.</summary>
    public static string CredentialKey(string registry) =>
        registry is DockerHub or "index.docker.io" or "registry-1.docker.io" ? "https://index.docker.io/v1/" : registry;
}
