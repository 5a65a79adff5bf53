using System.CommandLine;
using System.Text.Json;
using Gocker.Api;
using Gocker.Cli.Http;

namespace Gocker.Cli.Commands;

/// <summary>`gocker exec [-i] [-t] [-d] [-e K=V] [-w DIR] [-u USER] CONTAINER CMD...`.</summary>
public sealed class ExecOptions
{
    public readonly Option<bool> Interactive = new("--interactive", "-i") { Description = "Keep STDIN open and send it to the command" };
    public readonly Option<bool> Tty = new("--tty", "-t") { Description = "Allocate a pseudo-TTY" };
    public readonly Option<bool> Detach = new("--detach", "-d") { Description = "Detached mode: run command in the background" };
    public readonly Option<string[]> Env = new("--env", "-e") { Description = "Set environment variables (K=V, or K to take the console's value)", HelpName = "list" };
    public readonly Option<string[]> EnvFile = new("--env-file") { Description = "Read in a file of environment variables (KEY=VALUE lines)", HelpName = "list" };
    public readonly Option<string?> Workdir = new("--workdir", "-w") { Description = "Working directory inside the container" };
    public readonly Option<string?> User = new("--user", "-u") { Description = "Username or UID (format: <name|uid>[:<group|gid>])" };
    public readonly Argument<string> Container = new("CONTAINER") { Description = "Container to run the command in" };
    public readonly Argument<string[]> Command = new("COMMAND") { Description = "Command and arguments, passed as is", Arity = ArgumentArity.ZeroOrMore };

    public Command Build(Func<ParseResult, Func<int>, int> guard, CliContext ctx, Func<string[]> containerCommand)
    {
        var cmd = new Command("exec", "Execute a command in a running container")
            { Interactive, Tty, Detach, Env, EnvFile, Workdir, User, Container, Command };
        cmd.SetAction(pr => guard(pr, () => ExecCommands.Exec(ctx, pr, this, containerCommand())));
        return cmd;
    }
}

public static class ExecCommands
{
    public static int Exec(CliContext ctx, ParseResult pr, ExecOptions o, string[] command)
    {
        if (command.Length == 0) throw new UsageException("\"gocker exec\" requires at least 2 arguments: CONTAINER COMMAND [ARG...]");
        bool tty = pr.GetValue(o.Tty), interactive = pr.GetValue(o.Interactive), detach = pr.GetValue(o.Detach);
        if (tty && interactive && !detach && !Gocker.Syscalls.Terminal.TerminalMode.IsTerminal(0))
            throw new UsageException("the input device is not a TTY");
        var env = RunFlags.ResolveEnv([.. EnvFile.Read(pr.GetValue(o.EnvFile) ?? [], ctx.GetEnv, File.ReadLines), .. pr.GetValue(o.Env) ?? []], ctx.GetEnv);
        var request = new ExecCreateRequest
        {
            Cmd = [.. command],
            Env = env.Count > 0 ? env : null,
            WorkingDir = pr.GetValue(o.Workdir),
            User = pr.GetValue(o.User),
            AttachStdin = interactive && !detach,
            AttachStdout = !detach,
            AttachStderr = !detach,
            Tty = tty,
        };
        var client = ctx.Client;
        var http = client.Http;
        string container = pr.GetValue(o.Container)!;
        string execId;
        using (var r = http.Send("POST", $"/containers/{Uri.EscapeDataString(container)}/exec",
                   JsonSerializer.SerializeToUtf8Bytes(request, GockerClient.Json.ExecCreateRequest), "application/json"))
        {
            GockerClient.EnsureSuccess(r);
            execId = JsonSerializer.Deserialize(r.ReadBodyBytes(), GockerClient.Json.ExecCreateResponse)?.Id
                     ?? throw new ApiException(r.StatusCode, "the daemon answered no exec id");
        }
        if (detach)
        {
            using var r = http.Send("POST", $"/exec/{execId}/start",
                JsonSerializer.SerializeToUtf8Bytes(new ExecStartRequest { Detach = true }, GockerClient.Json.ExecStartRequest), "application/json");
            GockerClient.EnsureSuccess(r);
            return 0;
        }

        if (tty) return ExecTty(ctx, http, execId, interactive);
        using (var stream = HijackedStream.Open(http, "POST", $"/exec/{execId}/start?stdin=framed"))
        {
            if (interactive && stream is HijackedStream hijacked)
            {
                // Background: the console exits when the output ends, whether or not stdin did.
                var pump = new Thread(() =>
                {
                    try
                    {
                        // Framed (see ExecRoutes): the daemon cannot see a half-close, so EOF is an empty frame.
                        var buffer = new byte[Multiplex.HeaderSize + 32 * 1024];
                        int n;
                        while ((n = ReadStdin(buffer.AsSpan(Multiplex.HeaderSize))) > 0)
                        {
                            Multiplex.WriteHeader(buffer, Multiplex.Stdin, n);
                            hijacked.Write(buffer.AsSpan(0, Multiplex.HeaderSize + n));
                        }
                        Multiplex.WriteHeader(buffer, Multiplex.Stdin, 0);
                        hijacked.Write(buffer.AsSpan(0, Multiplex.HeaderSize));
                    }
                    catch (Exception e) when (e is IOException or ObjectDisposedException) { }
                }) { IsBackground = true, Name = "stdin" };
                pump.Start();
            }
            ctx.IO.Flush();
            MultiplexPump.Pump(stream, ctx.IO.StdOut, ctx.IO.StdErr);
        }

        return ExitCode(ctx, http, execId);
    }

    /// <summary>read(2) on fd 0, not Console's stream: .NET's console stream puts a terminal back into
    /// canonical mode with echo before each read, which would undo raw mode (keys echoed twice,
    /// Ctrl-C turned into a SIGINT for the console instead of a byte for the container).</summary>
    static int ReadStdin(Span<byte> buffer) => Gocker.Syscalls.Terminal.Pty.Read(0, buffer);

    static int ExitCode(CliContext ctx, UnixHttpClient http, string execId)
    {
        using var inspect = http.Send("GET", $"/exec/{execId}/json");
        GockerClient.EnsureSuccess(inspect);
        var info = JsonSerializer.Deserialize(inspect.ReadBodyBytes(), GockerClient.Json.ExecInspect);
        if (info?.ExitCode is { } code) return code;
        ctx.IO.Error("the exec's exit code is unknown");
        return 126;
    }

    /// <summary>
    /// -t: the daemon gives the process a pty; this terminal goes raw (keys, Ctrl-C included, reach
    /// the container's terminal as bytes), the stream is raw both ways, the window size is sent at
    /// start and on every SIGWINCH, and the terminal is restored on every way out.
    /// </summary>
    static int ExecTty(CliContext ctx, UnixHttpClient http, string execId, bool interactive)
    {
        var size = Gocker.Syscalls.Terminal.TerminalMode.WindowSize(1) ?? Gocker.Syscalls.Terminal.TerminalMode.WindowSize(0);
        var query = size is { } s0 ? $"&h={s0.Rows}&w={s0.Cols}" : "";
        using var stream = HijackedStream.Open(http, "POST", $"/exec/{execId}/start?stdin=framed{query}");
        using var raw = interactive ? Gocker.Syscalls.Terminal.TerminalMode.MakeRaw(0) : null;
        using var winch = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGWINCH, c =>
        {
            c.Cancel = true;
            if ((Gocker.Syscalls.Terminal.TerminalMode.WindowSize(1) ?? Gocker.Syscalls.Terminal.TerminalMode.WindowSize(0)) is { } s)
            {
                try { using var r = http.Send("POST", $"/exec/{execId}/resize?h={s.Rows}&w={s.Cols}"); }
                catch (Exception) { /* the exec is over */ }
            }
        });
        if (interactive && stream is HijackedStream hijacked)
        {
            var pump = new Thread(() =>
            {
                try
                {
                    var buffer = new byte[Multiplex.HeaderSize + 4096];
                    int n;
                    while ((n = ReadStdin(buffer.AsSpan(Multiplex.HeaderSize))) > 0)
                    {
                        Multiplex.WriteHeader(buffer, Multiplex.Stdin, n);
                        hijacked.Write(buffer.AsSpan(0, Multiplex.HeaderSize + n));
                    }
                    Multiplex.WriteHeader(buffer, Multiplex.Stdin, 0);
                    hijacked.Write(buffer.AsSpan(0, Multiplex.HeaderSize));
                }
                catch (Exception e) when (e is IOException or ObjectDisposedException) { }
            }) { IsBackground = true, Name = "stdin" };
            pump.Start();
        }
        ctx.IO.Flush();
        MultiplexPump.PumpRaw(stream, ctx.IO.StdOut);
        raw?.Restore();
        return ExitCode(ctx, http, execId);
    }
}
