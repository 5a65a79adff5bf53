namespace Gocker.Images;

/// <summary>A reference that is neither a valid image name nor an id. The message names it.</summary>
public class InvalidImageNameException(string reference, string reason)
    : ArgumentException($"invalid image name \"{reference}\": {reason}")
{
    public string Reference { get; } = reference;
}

/// <summary>An id prefix that matches more than one image.</summary>
public class AmbiguousImageReferenceException(string reference)
    : Exception($"image reference \"{reference}\" matches more than one image id; give more characters");
