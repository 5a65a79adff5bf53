using System.Runtime.InteropServices;

namespace Gocker.Cli;

/// <summary>docker's --sig-proxy: while attached, SIGINT/SIGTERM/SIGHUP/SIGQUIT sent to the console
/// are forwarded to the container (POST kill?signal=...) instead of killing the console, which
/// stays to collect the output and the exit code.</summary>
public sealed class SignalProxy : IDisposable
{
    private readonly List<PosixSignalRegistration> _registrations = [];

    private SignalProxy() { }

    public static SignalProxy Install(Action<string> forward)
    {
        var proxy = new SignalProxy();
        foreach (var (signal, name) in new[]
                 {
                     (PosixSignal.SIGINT, "SIGINT"), (PosixSignal.SIGTERM, "SIGTERM"),
                     (PosixSignal.SIGHUP, "SIGHUP"), (PosixSignal.SIGQUIT, "SIGQUIT"),
                 })
        {
            proxy._registrations.Add(PosixSignalRegistration.Create(signal, ctx =>
            {
                ctx.Cancel = true;
                // Off the signal thread: the kill is a round trip to the daemon.
                ThreadPool.QueueUserWorkItem(static state =>
                {
                    var (f, n) = ((Action<string>, string))state!;
                    try { f(n); } catch (Exception) { /* the container may be gone already */ }
                }, (forward, name));
            }));
        }
        return proxy;
    }

    public void Dispose()
    {
        foreach (var r in _registrations) r.Dispose();
    }
}
