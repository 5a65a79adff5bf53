using System.Diagnostics;
using System.Text.Json;

namespace Gocker.Tests.Integration;

/// <summary>Runs a docker-py script against a test daemon (the tests of Debian's python3-docker share
/// it): the script is written under the daemon's root and run by python3 with the socket's URL, then
/// the given arguments; a script that hangs is killed and fails the test.</summary>
public static class DockerPy
{
    public static (int Code, string Out, string Err) Run(DaemonFixture daemon, string script, params string[] args)
    {
        var file = Path.Combine(daemon.Root, $"dockerpy-{Guid.NewGuid():N}.py");
        File.WriteAllText(file, script);
        var psi = new ProcessStartInfo(DockerPyFactAttribute.Python)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        psi.ArgumentList.Add(file);
        psi.ArgumentList.Add("unix://" + daemon.Socket);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEndAsync();
        if (!p.WaitForExit(120_000))
        {
            p.Kill(true);
            Assert.Fail($"docker-py {file} did not finish\n--- daemon\n{daemon.DaemonLog}");
        }
        p.WaitForExit();
        return (p.ExitCode, output.Result, err.Result);
    }

    /// <summary>The JSON object the script prints last; the test fails with the script's output and
    /// the daemon's log if the script did not exit 0.</summary>
    public static JsonDocument RunForJson(DaemonFixture daemon, string script, params string[] args)
    {
        var r = Run(daemon, script, args);
        Assert.True(r.Code == 0, $"docker-py: exit {r.Code}\n{r.Out}\n{r.Err}\n--- daemon\n{daemon.DaemonLog}");
        return JsonDocument.Parse(r.Out.Trim().Split('\n')[^1]);
    }
}
