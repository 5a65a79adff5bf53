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
    public static int Run(CliContext ctx, string? format = null)
    {
        var w = ctx.IO.Out;
        if (!string.IsNullOrEmpty(format)) return RunFormat(ctx, format);
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

    /// <summary>version --format: the template over {"Client": {...}, "Server": GET /version} (docker's
    /// versionInfo); docker names this template "version" in its errors. An unreachable daemon leaves
    /// Server null after the client part is known, as docker's does.</summary>
    static int RunFormat(CliContext ctx, string format)
    {
        static string Named(string m) => m.Replace("template: :", "template: version:").Replace("executing \"\"", "executing \"version\"");
        Templates.GoTemplate? t = null;
        if (format != "json")
        {
            try { t = Templates.FormatOutput.Parse(format, Templates.FormatErrors.Info); }
            catch (Templates.TemplateFailure e) { throw new Templates.TemplateFailure(e.ExitCode, Named(e.Message)); }
        }
        byte[] server;
        using (var r = ctx.Client.Http.Send("GET", "/version"))
        {
            GockerClient.EnsureSuccess(r);
            server = r.ReadBodyBytes();
        }
        var buf = new MemoryStream();
        using (var w = new System.Text.Json.Utf8JsonWriter(buf))
        {
            w.WriteStartObject();
            w.WriteStartObject("Client");
            w.WriteString("Version", ClientVersion);
            w.WriteString("ApiVersion", ApiVersion);
            w.WriteString("DefaultAPIVersion", ApiVersion);
            w.WriteString("Os", "linux");
            w.WriteString("Arch", Arch);
            w.WriteString("Context", "default");
            w.WriteEndObject();
            w.WritePropertyName("Server");
            using (var s = System.Text.Json.JsonDocument.Parse(server)) s.RootElement.WriteTo(w);
            w.WriteEndObject();
        }
        using var doc = System.Text.Json.JsonDocument.Parse(buf.ToArray());
        string text;
        if (t is null) text = Templates.GoTemplate.Json(doc.RootElement);
        else
        {
            try { text = Templates.FormatOutput.Execute(t, doc.RootElement, Templates.FormatErrors.Info); }
            catch (Templates.TemplateFailure e) { throw new Templates.TemplateFailure(e.ExitCode, Named(e.Message)); }
        }
        ctx.IO.Out.Write(text + "\n");
        return 0;
    }
}
