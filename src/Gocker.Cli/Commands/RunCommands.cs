using System.CommandLine;
using Gocker.Api;
using Gocker.Cli.Http;

namespace Gocker.Cli.Commands;

/// <summary>run, create and start: the commands that make containers go.</summary>
public static class RunCommands
{
    public static int Create(CliContext ctx, ParseResult pr, RunOptions o, string[] cmd) =>
        RegistryCommands.WithImage(ctx, pr.GetValue(o.Image)!, pr.GetValue(o.Pull), () => CreateOnce(ctx, pr, o, cmd));

    public static int Run(CliContext ctx, ParseResult pr, RunOptions o, string[] cmd) =>
        RegistryCommands.WithImage(ctx, pr.GetValue(o.Image)!, pr.GetValue(o.Pull), () => RunOnce(ctx, pr, o, cmd));

    static int CreateOnce(CliContext ctx, ParseResult pr, RunOptions o, string[] cmd)
    {
        var request = o.BuildRequest(pr, pr.GetValue(o.Image)!, cmd, ctx.GetEnv);
        var created = ctx.Client.Create(request, pr.GetValue(o.Name));
        PrintWarnings(ctx, created);
        ctx.IO.Out.Write(created.Id + "\n");
        return 0;
    }

    static int RunOnce(CliContext ctx, ParseResult pr, RunOptions o, string[] cmd)
    {
        var request = o.BuildRequest(pr, pr.GetValue(o.Image)!, cmd, ctx.GetEnv);
        var client = ctx.Client;
        var detach = pr.GetValue(o.Detach);
        var waitCondition = pr.GetValue(o.Rm) ? "removed" : "next-exit";
        ContainerCreateResponse created;
        if (!detach && !request.Tty && !request.OpenStdin)
        {
            // One request does create, attach, start and wait (gockerd's gockerRun).
            var answer = client.CreateAndRun(request, pr.GetValue(o.Name), waitCondition);
            if (answer.StatusCode != 201)
            {
                using (answer)
                {
                    GockerClient.EnsureSuccess(answer);
                    return AttachSession.RunCreated(ctx, answer, pr.GetValue(o.SigProxy), c => PrintWarnings(ctx, c));
                }
            }
            created = GockerClient.CreateAnswer(answer); // an older gockerd: the three requests follow
        }
        else if (detach)
        {
            // One request creates and starts it (gockerd's gockerStart); a failed start answers as
            // start would, and the container stays, as after the two requests.
            try { created = client.Create(request, pr.GetValue(o.Name), start: true); }
            catch (ApiException e) when (e.ExitCode is not null)
            {
                ctx.IO.Error("Error response from daemon: " + e.Message);
                return e.ExitCode.Value;
            }
        }
        else created = client.Create(request, pr.GetValue(o.Name));
        PrintWarnings(ctx, created);

        if (detach)
        {
            if (created.GockerStarted != true && !TryStart(ctx, created.Id, out int code)) return code;
            ctx.IO.Out.Write(created.Id + "\n");
            return 0;
        }
        return AttachSession.Run(ctx, created.Id, new AttachOptions(request.Tty, request.OpenStdin,
            DetachKeys.Parse(pr.GetValue(o.DetachKeysOption) ?? DetachKeys.Default), pr.GetValue(o.SigProxy)),
            start: true, waitCondition);
    }

    /// <summary>`attach`: back to a running container's output (and its stdin if it was created with -i;
    /// its terminal if with -t) until it exits or the detach keys are typed.</summary>
    public static int Attach(CliContext ctx, string id, bool noStdin, string? detachKeys, bool sigProxy)
    {
        var c = AttachTarget.Inspect(ctx, id);
        if (c.Status is not ("running" or "paused"))
            throw new ApiException(409, "You cannot attach to a stopped container, start it first");
        return AttachSession.Run(ctx, c.Id, c.Options(!noStdin, detachKeys, sigProxy), start: false, "next-exit");
    }

    /// <summary>
    /// `start`: without -a/-i, starts each container and prints its name. With -a (docker's
    /// `start --attach`), attaches to the one container's output, starts it (already running: only
    /// attaches) and relays until it exits, with its exit code, exactly as `run` without -d does;
    /// -i adds our stdin if the container was created with -i, and with -t its terminal (raw mode,
    /// resize, detach keys), as `run -it`.
    /// </summary>
    public static int Start(CliContext ctx, string[] ids, bool attach, bool interactive, string? detachKeys)
    {
        if (attach || interactive)
        {
            if (ids.Length > 1) throw new UsageException("you cannot start and attach multiple containers at once");
            var keys = DetachKeys.Parse(detachKeys ?? DetachKeys.Default);
            // Output only: the attach answer says whether it is a terminal's, no inspect needed.
            if (!interactive)
                return AttachSession.Run(ctx, ids[0], new AttachOptions(null, false, keys, SigProxy: true), start: true, "next-exit");
            var c = AttachTarget.Inspect(ctx, ids[0]);
            return AttachSession.Run(ctx, c.Id, c.Options(stdin: true, detachKeys, sigProxy: true), start: true, "next-exit");
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

    /// <summary>What an attach to an existing container needs to know of it (its inspect).</summary>
    private sealed record AttachTarget(string Id, bool Tty, bool OpenStdin, string? Status)
    {
        public static AttachTarget Inspect(CliContext ctx, string id)
        {
            using var doc = System.Text.Json.JsonDocument.Parse(ctx.Client.InspectRaw(id));
            var root = doc.RootElement;
            var config = root.GetProperty("Config");
            return new AttachTarget(root.GetProperty("Id").GetString()!,
                config.TryGetProperty("Tty", out var t) && t.GetBoolean(),
                config.TryGetProperty("OpenStdin", out var s) && s.GetBoolean(),
                root.GetProperty("State").GetProperty("Status").GetString());
        }

        /// <summary>Our stdin goes only to a container created with -i (docker ignores it otherwise);
        /// a terminal needs ours to be one.</summary>
        public AttachOptions Options(bool stdin, string? detachKeys, bool sigProxy)
        {
            stdin &= OpenStdin;
            if (Tty && stdin && !Gocker.Syscalls.Terminal.TerminalMode.IsTerminal(0))
                throw new UsageException("the input device is not a TTY");
            return new AttachOptions(Tty, stdin, DetachKeys.Parse(detachKeys ?? DetachKeys.Default), sigProxy);
        }
    }

    internal static bool TryStart(CliContext ctx, string id, out int exitCode)
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
