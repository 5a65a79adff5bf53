using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using Gocker.Api;

namespace Gocker.Tests.Cli;

/// <summary>Runs the real console binary (a child process) against a fake daemon and sends it SIGINT.</summary>
public partial class SignalProxyTests
{
    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int sig);

    private const int SIGINT = 2;

    [Fact]
    public async Task Sigint_to_an_attached_run_is_forwarded_to_the_container()
    {
        var started = new ManualResetEventSlim();
        var killed = new ManualResetEventSlim();
        string? killTarget = null;
        using var d = new FakeUnixServer((req, s) =>
        {
            switch (req.Path)
            {
                case "/containers/create":
                    FakeUnixServer.Respond(s, 201, "{\"Id\":\"c1\",\"Warnings\":[]}");
                    break;
                case "/containers/c1/attach":
                    FakeUnixServer.StartChunked(s);
                    if (!started.Wait(TimeSpan.FromSeconds(30))) return;
                    FakeUnixServer.WriteChunk(s, FakeUnixServer.Frame(Multiplex.Stdout, "running\n"u8));
                    if (!killed.Wait(TimeSpan.FromSeconds(30))) return;
                    FakeUnixServer.WriteChunk(s, FakeUnixServer.Frame(Multiplex.Stdout, "interrupted\n"u8));
                    // The run's end, as gockerd sends it when asked with gockerWait.
                    if (req.Target.Contains("gockerWait=next-exit"))
                        FakeUnixServer.WriteChunk(s, FakeUnixServer.Frame(Multiplex.System, "{\"StatusCode\":130}"u8));
                    FakeUnixServer.EndChunked(s);
                    break;
                case "/containers/c1/wait":
                    if (!killed.Wait(TimeSpan.FromSeconds(30))) return;
                    FakeUnixServer.Respond(s, 200, "{\"StatusCode\":130}");
                    break;
                case "/containers/c1/start":
                    FakeUnixServer.RespondNoContent(s);
                    started.Set();
                    break;
                case "/containers/c1/kill":
                    killTarget = req.Target;
                    FakeUnixServer.RespondNoContent(s);
                    killed.Set();
                    break;
            }
        });

        var psi = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "gocker"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "run", "busybox", "sleep", "100" }) psi.ArgumentList.Add(a);
        psi.Environment["GOCKER_HOST"] = d.HostUri;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        try
        {
            Assert.True(started.Wait(TimeSpan.FromSeconds(60)), "the console never started the container");
            // The proxy is installed before start, so once start arrived the signal must be forwarded.
            Assert.Equal(0, kill(p.Id, SIGINT));
            Assert.True(p.WaitForExit(TimeSpan.FromSeconds(60)), "the console did not exit");
        }
        finally
        {
            if (!p.HasExited) p.Kill();
        }
        Assert.Equal("/containers/c1/kill?signal=SIGINT", killTarget);
        Assert.Equal(130, p.ExitCode);
        Assert.Equal("running\ninterrupted\n", await stdout);
        Assert.Equal("", await stderr);
    }
}
