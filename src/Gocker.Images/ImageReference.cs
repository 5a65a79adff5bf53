using System.Text.RegularExpressions;

namespace Gocker.Images;

/// <summary>Image names as Docker spells them: lowercase path components separated by '/',
/// optional ":tag". A bare name means ":latest". Names are stored and shown as "name:tag".</summary>
public static partial class ImageReference
{
    // Docker's path-component grammar: alphanumerics joined by one '.', one or two '_', or any run of '-'.
    // An optional registry host with a port first ("127.0.0.1:5000/", "localhost:5000/"): a host without
    // a port already matches the path grammar.
    [GeneratedRegex(@"^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*:[0-9]{1,5}/)?[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$")]
    private static partial Regex NamePattern();

    [GeneratedRegex(@"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")]
    private static partial Regex TagPattern();

    [GeneratedRegex(@"^(?:sha256:)?[0-9a-f]{4,64}$")]
    private static partial Regex IdPrefixPattern();

    public const int MaxNameLength = 255;

    /// <summary>Returns "name:tag" or throws <see cref="InvalidImageNameException"/>.</summary>
    public static string Normalize(string reference)
    {
        if (!TryNormalize(reference, out var normal, out var reason))
            throw new InvalidImageNameException(reference, reason);
        return normal;
    }

    public static bool TryNormalize(string reference, out string normalized, out string reason)
    {
        normalized = "";
        if (string.IsNullOrEmpty(reference)) { reason = "empty name"; return false; }
        if (reference.Contains('@')) { reason = "digest references are not supported"; return false; }
        string name = reference, tag = "latest";
        // The tag is after the last ':' unless that ':' belongs to a registry host ("host:5000/x").
        int colon = reference.LastIndexOf(':');
        if (colon >= 0 && reference.IndexOf('/', colon) < 0)
        {
            name = reference[..colon];
            tag = reference[(colon + 1)..];
            if (!TagPattern().IsMatch(tag))
            {
                reason = $"tag \"{tag}\" must be 1-128 of [A-Za-z0-9_.-], not starting with '.' or '-'";
                return false;
            }
        }
        if (name.Length == 0) { reason = "empty name"; return false; }
        if (name.Length > MaxNameLength) { reason = $"name longer than {MaxNameLength} characters"; return false; }
        if (!NamePattern().IsMatch(name))
        {
            reason = "must be lowercase [a-z0-9] path components separated by '/', each joined only by '.', '_', '__' or '-'";
            return false;
        }
        normalized = Familiar(name) + ":" + tag;
        reason = "";
        return true;
    }

    /// <summary>Docker Hub's long forms name the same image as the short one (skopeo and docker save
    /// write "docker.io/library/x"): stored and shown as Docker shows them, "x" and "user/x".</summary>
    static string Familiar(string name)
    {
        foreach (var hub in new[] { "docker.io/", "index.docker.io/" })
        {
            if (!name.StartsWith(hub, StringComparison.Ordinal)) continue;
            var rest = name[hub.Length..];
            if (rest.StartsWith("library/", StringComparison.Ordinal) && rest.IndexOf('/', "library/".Length) < 0) rest = rest["library/".Length..];
            return rest;
        }
        return name;
    }

    /// <summary>True if the reference could be an image id or an id prefix (at least 4 hex digits).</summary>
    public static bool LooksLikeId(string reference) => IdPrefixPattern().IsMatch(reference);

    /// <summary>The hex part of an id or id prefix ("sha256:" removed).</summary>
    public static string HexOf(string idOrPrefix) =>
        idOrPrefix.StartsWith("sha256:", StringComparison.Ordinal) ? idOrPrefix["sha256:".Length..] : idOrPrefix;
}
