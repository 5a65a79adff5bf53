using System.Reflection;
using System.Runtime.InteropServices;
using Gocker.Api;

namespace Gocker.Cli.Commands;

public static class VersionCommand
{
    public const string ApiVersion = "1.43";

    public static string ClientVersion
    {
        get
        {
            var v = typeof(VersionCommand).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";
            int plus = v.IndexOf('+');
            return plus < 0 ? v : v[..plus];
        }
    }

    public static string Arch => RuntimeInformation.OSArchitecture switch
    {
        Architecture.X64 => "amd64",
        Architecture.Arm64 => "arm64",
        var a => a.ToString().ToLowerInvariant(),
    };

    /// <summary>Client part first, then the server's; an unreachable daemon still shows the client.</summary>
    public static int Run(CliContext ctx)
    {
        var w = ctx.IO.Out;
        w.Write("Client:\n");
        w.Write($" Version:           {ClientVersion}\n");
        w.Write($" API version:       {ApiVersion}\n");
        w.Write($" OS/Arch:           linux/{Arch}\n");
        w.Flush();
        VersionResponse v = ctx.Client.Version();
        w.Write("\nServer:\n Engine:\n");
        w.Write($"  Version:          {v.Version}\n");
        w.Write($"  API version:      {v.ApiVersion}\n");
        w.Write($"  OS/Arch:          {v.Os}/{v.Arch}\n");
        w.Write($"  Kernel Version:   {v.KernelVersion}\n");
        if (v.CgroupMode.Length > 0) w.Write($"  Cgroup Mode:      {v.CgroupMode}\n");
        return 0;
    }
}
