using Gocker.Cli.Http;

namespace Gocker.Cli;

/// <summary>What a command handler needs: outputs, environment, clock, and the daemon client
/// (made on first use, so that parse errors and help never touch the socket).</summary>
public sealed class CliContext(CliIO io, Func<string, string?> getEnv, Func<DateTimeOffset> now)
{
    private GockerClient? _client;

    public CliIO IO => io;
    public Func<string, string?> GetEnv => getEnv;
    public DateTimeOffset Now => now();
    public string? HostFlag { get; set; }

    public GockerClient Client
    {
        get
        {
            if (_client is null)
            {
                var (uri, path) = HostAddress.Resolve(HostFlag, getEnv);
                _client = new GockerClient(new UnixHttpClient(path, uri));
            }
            return _client;
        }
    }
}
