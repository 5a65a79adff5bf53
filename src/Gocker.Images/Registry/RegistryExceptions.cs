namespace Gocker.Images.Registry;

/// <summary>A registry refused or failed a request. The message says which registry and what it said;
/// it never holds credentials.</summary>
public class RegistryException(string message, int statusCode = 0, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>The registry's HTTP status (0: no answer).</summary>
    public int StatusCode { get; } = statusCode;
}

/// <summary>401/403: no or wrong credentials.</summary>
public sealed class RegistryAuthException(string message, int statusCode) : RegistryException(message, statusCode);

/// <summary>The tag, digest or repository does not exist on the registry.</summary>
public sealed class RegistryNotFoundException(string message) : RegistryException(message, 404);

/// <summary>Content whose digest or size is not what its descriptor says (a tampered or broken blob).</summary>
public sealed class DigestMismatchException(string message) : RegistryException(message);
