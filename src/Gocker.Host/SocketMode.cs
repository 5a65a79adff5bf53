namespace Gocker.Host;

/// <summary>
/// Gives the API socket its mode (0660: root and the socket's group may drive the daemon, which can
/// run anything as root) once Kestrel has created it and BEFORE the host announces it started: the
/// systemd lifetime sends READY=1 from ApplicationStarted, which comes after every StartedAsync, so a
/// client woken by READY=1 never meets a socket with the umask's mode.
/// </summary>
sealed class SocketMode(string path) : IHostedLifecycleService
{
    public Task StartedAsync(CancellationToken ct)
    {
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite);
        return Task.CompletedTask;
    }

    public Task StartingAsync(CancellationToken ct) => Task.CompletedTask;
    public Task StartAsync(CancellationToken ct) => Task.CompletedTask;
    public Task StopAsync(CancellationToken ct) => Task.CompletedTask;
    public Task StoppingAsync(CancellationToken ct) => Task.CompletedTask;
    public Task StoppedAsync(CancellationToken ct) => Task.CompletedTask;
}
