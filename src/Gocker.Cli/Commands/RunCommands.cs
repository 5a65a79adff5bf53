using System.CommandLine;
using Gocker.Api;
using Gocker.Cli.Http;

namespace Gocker.Cli.Commands;

/// <summary>run, create and start: the commands that make containers go.</summary>
public static class RunCommands
{
    // Docker's daemon answers attach's head at once; waiting for it is what guarantees the attach is in
    // place before start. The bound only keeps a daemon that delays the head from hanging the console.
    private static readonly TimeSpan AttachHeadTimeout = TimeSpan.FromSeconds(2);
    // When the attach stream already carried the exit code, the wait answer is only needed for --rm
    // (removal done); don't hang for ever if it never comes.
    private static readonly TimeSpan WaitAfterExitTimeout = TimeSpan.FromSeconds(10);

    public static int Create(CliContext ctx, ParseResult pr, RunOptions o, string[] cmd)
    {
        var request = o.BuildRequest(pr, pr.GetValue(o.Image)!, cmd, ctx.GetEnv);
        var created = ctx.Client.Create(request, pr.GetValue(o.Name));
        PrintWarnings(ctx, created);
        ctx.IO.Out.Write(created.Id + "\n");
        return 0;
    }

    public static int Run(CliContext ctx, ParseResult pr, RunOptions o, string[] cmd)
    {
        var request = o.BuildRequest(pr, pr.GetValue(o.Image)!, cmd, ctx.GetEnv);
        var client = ctx.Client;
        var created = client.Create(request, pr.GetValue(o.Name));
        PrintWarnings(ctx, created);

        if (pr.GetValue(o.Detach))
        {
            if (!TryStart(ctx, created.Id, out int code)) return code;
            ctx.IO.Out.Write(created.Id + "\n");
            return 0;
        }
        var waitCondition = pr.GetValue(o.Rm) ? "removed" : "next-exit";
        if (request.Tty || request.OpenStdin)
            return AttachSession.Run(ctx, created.Id, new AttachOptions(request.Tty, request.OpenStdin,
                DetachKeys.Parse(pr.GetValue(o.DetachKeysOption) ?? DetachKeys.Default), pr.GetValue(o.SigProxy)),
                start: true, waitCondition);
        return StartAttached(ctx, created.Id, waitCondition);
    }

    /// <summary>`attach`: back to a running container's output (and its stdin if it was created with -i;
    /// its terminal if with -t) until it exits or the detach keys are typed.</summary>
    public static int Attach(CliContext ctx, string id, bool noStdin, string? detachKeys, bool sigProxy)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(ctx.Client.InspectRaw(id));
        var root = doc.RootElement;
        var config = root.GetProperty("Config");
        bool tty = config.TryGetProperty("Tty", out var t) && t.GetBoolean();
        bool openStdin = config.TryGetProperty("OpenStdin", out var s) && s.GetBoolean();
        if (root.GetProperty("State").GetProperty("Status").GetString() is not ("running" or "paused"))
            throw new ApiException(409, "You cannot attach to a stopped container, start it first");
        bool stdin = openStdin && !noStdin;
        if (tty && stdin && !Gocker.Syscalls.Terminal.TerminalMode.IsTerminal(0))
            throw new UsageException("the input device is not a TTY");
        var fullId = root.GetProperty("Id").GetString()!;
        return AttachSession.Run(ctx, fullId, new AttachOptions(tty, stdin,
            DetachKeys.Parse(detachKeys ?? DetachKeys.Default), sigProxy), start: false, "next-exit");
    }

    public static int Start(CliContext ctx, string[] ids, bool attach)
    {
        if (attach)
        {
            if (ids.Length > 1) throw new UsageException("you cannot start and attach multiple containers at once");
            return StartAttached(ctx, ids[0], "next-exit");
        }
        int rc = 0;
        foreach (var id in ids)
        {
            try
            {
                ctx.Client.Start(id);
                ctx.IO.Out.Write(id + "\n");
            }
            catch (ApiException e)
            {
                ctx.IO.Error("Error response from daemon: " + e.Message);
                rc = 1;
            }
        }
        if (rc != 0) ctx.IO.Error("failed to start containers: " + string.Join(", ", ids));
        return rc;
    }

    /// <summary>
    /// Attach (connection A) and wait (connection B) are in place before start (connection C), so no
    /// output and no exit is missed; then the frames are pumped until the container has exited and
    /// its output is drained, and the exit code comes from the wait answer (or, failing that, the
    /// attach stream's final system frame).
    /// </summary>
    public static int StartAttached(CliContext ctx, string id, string waitCondition)
    {
        var client = ctx.Client;
        using var attachExchange = client.BeginAttach(id);
        using var waitExchange = client.BeginWait(id, waitCondition);

        HttpResponse? attach = null;
        // Before start, as docker does: a Ctrl-C right after start must reach the container, not
        // kill the console (which would leave the container running, detached from everything).
        using var proxy = SignalProxy.Install(signal => client.Kill(id, signal));
        try
        {
            if (attachExchange.WaitForAnswer(AttachHeadTimeout))
            {
                attach = attachExchange.ReadResponse();
                GockerClient.EnsureSuccess(attach);
            }
            // The wait's head too: gockerd sends it once the wait is registered with the container,
            // so an exit (or the --rm removal) right after start cannot slip past it.
            waitExchange.WaitForAnswer(AttachHeadTimeout);
            if (!TryStart(ctx, id, out int startCode)) return startCode;
            if (attach is null)
            {
                attach = attachExchange.ReadResponse();
                GockerClient.EnsureSuccess(attach);
            }

            ctx.IO.Flush();
            int? streamExit = null;
            if (attach.ContentType?.StartsWith(GockerClient.MultiplexedContentType, StringComparison.OrdinalIgnoreCase) ?? true)
                streamExit = MultiplexPump.Pump(attach.Body, ctx.IO.StdOut, ctx.IO.StdErr);
            else
                MultiplexPump.PumpRaw(attach.Body, ctx.IO.StdOut);
            return ReadExit(ctx, waitExchange, streamExit);
        }
        finally
        {
            attach?.Dispose();
        }
    }

    private static int ReadExit(CliContext ctx, HttpExchange waitExchange, int? streamExit)
    {
        try
        {
            if (streamExit is not null && !waitExchange.WaitForAnswer(WaitAfterExitTimeout)) return streamExit.Value;
            using var r = waitExchange.ReadResponse();
            if (r.StatusCode == 404 && streamExit is not null) return streamExit.Value; // already removed
            GockerClient.EnsureSuccess(r);
            var wait = System.Text.Json.JsonSerializer.Deserialize(r.ReadBodyBytes(), GockerClient.Json.WaitResponse);
            if (wait is null) return streamExit ?? 125;
            if (!string.IsNullOrEmpty(wait.Error?.Message))
            {
                ctx.IO.Error("error waiting for container: " + wait.Error.Message);
                return 125;
            }
            return wait.StatusCode;
        }
        catch (Exception e) when (streamExit is not null && e is IOException or System.Net.Sockets.SocketException or ApiException or System.Text.Json.JsonException)
        {
            return streamExit.Value;
        }
    }

    private static bool TryStart(CliContext ctx, string id, out int exitCode)
    {
        try
        {
            ctx.Client.Start(id);
            exitCode = 0;
            return true;
        }
        catch (ApiException e)
        {
            ctx.IO.Error("Error response from daemon: " + e.Message);
            exitCode = e.ExitCode ?? 125;
            return false;
        }
    }

    private static void PrintWarnings(CliContext ctx, ContainerCreateResponse created)
    {
        foreach (var w in created.Warnings) ctx.IO.Err.Write("WARNING: " + w + "\n");
        ctx.IO.Err.Flush();
    }
}
