using System.CommandLine;
using System.Text.Json;
using Gocker.Cli.Http;

namespace Gocker.Cli.Commands;

/// <summary>gocker debug inject-fault CONTAINER cgroup-write|spawn|mount [--count N]: arms an engine
/// fault for the container's next start(s) (POST /debug/faults), for supervision experiments.</summary>
public static class DebugCommands
{
    static readonly string[] Kinds = ["cgroup-write", "spawn", "mount"];

    public static Command Build(CliContext ctx, Func<ParseResult, Func<int>, int> guard)
    {
        var debug = new Command("debug", "Engine experiments (fault injection)");
        var container = new Argument<string>("CONTAINER");
        var kind = new Argument<string>("KIND") { Description = "cgroup-write, spawn or mount" };
        kind.AcceptOnlyFromAmong(Kinds);
        var count = new Option<int>("--count", "-n") { Description = "How many times the fault fires (0 disarms)", DefaultValueFactory = _ => 1, HelpName = "int" };
        var inject = new Command("inject-fault", "Make the container's next start fail at a step: cgroup-write (a cgroup write), spawn (the init's spawn) or mount (the init's rootfs setup)")
        {
            container, kind, count,
        };
        inject.SetAction(pr => guard(pr, () => InjectFault(ctx, pr.GetValue(container)!, pr.GetValue(kind)!, pr.GetValue(count))));
        debug.Add(inject);
        return debug;
    }

    public static int InjectFault(CliContext ctx, string container, string kind, int count)
    {
        if (count < 0) throw new UsageException($"--count {count}: must be 0 or more");
        var buf = new MemoryStream();
        using (var w = new Utf8JsonWriter(buf))
        {
            w.WriteStartObject();
            w.WriteString("Container", container);
            w.WriteString("Kind", kind);
            w.WriteNumber("Count", count);
            w.WriteEndObject();
        }
        using HttpResponse r = ctx.Client.Http.Send("POST", "/debug/faults", buf.ToArray(), "application/json");
        GockerClient.EnsureSuccess(r);
        using var doc = JsonDocument.Parse(r.ReadBodyBytes());
        var id = doc.RootElement.TryGetProperty("Container", out var v) ? v.GetString() ?? container : container;
        var armed = doc.RootElement.TryGetProperty("Count", out var c) && c.TryGetInt32(out var n) ? n : count;
        ctx.IO.Out.Write(armed == 0
            ? $"fault {kind} disarmed for {id[..Math.Min(12, id.Length)]}\n"
            : $"fault {kind} armed for {id[..Math.Min(12, id.Length)]}: fails its next {(armed == 1 ? "start" : armed + " attempts")}\n");
        return 0;
    }
}
