namespace Gocker.Cli;

/// <summary>Where the daemon listens: -H/--host, else GOCKER_HOST, else unix:///run/gocker.sock.</summary>
public static class HostAddress
{
    public const string Default = "unix:///run/gocker.sock";
    public const string EnvVar = "GOCKER_HOST";

    /// <summary>Returns the host URI and the socket path it names.</summary>
    public static (string Uri, string SocketPath) Resolve(string? flag, Func<string, string?> getEnv)
    {
        string uri = !string.IsNullOrEmpty(flag) ? flag
            : getEnv(EnvVar) is { Length: > 0 } fromEnv ? fromEnv
            : Default;
        if (!uri.StartsWith("unix://", StringComparison.Ordinal))
            throw new UsageException($"unsupported host '{uri}': only unix://PATH is supported (e.g. {Default})");
        string path = uri["unix://".Length..];
        if (path.Length == 0) throw new UsageException($"invalid host '{uri}': the socket path is empty");
        // Checked here so that it reads as the usage error it is, not as an unreachable daemon.
        int bytes = System.Text.Encoding.UTF8.GetByteCount(path);
        if (bytes > Http.UnixSocket.MaxPathBytes)
            throw new UsageException($"invalid host '{uri}': the socket path is {bytes} bytes long; a Unix socket address holds at most {Http.UnixSocket.MaxPathBytes}");
        return (uri, path);
    }
}
