using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using Gocker.Api;
using Gocker.Syscalls.Native;
using Gocker.Syscalls.Terminal;

namespace Gocker.Host;

/// <summary>
/// The daemon's exec instances by id, from create to some minutes after they finish (Docker keeps
/// them until the container goes). They live in the host, not in the engine: what they hold is
/// the API's view (the create request, the exit code inspect reports, the pty master resize needs),
/// while the process itself belongs to the container's ExecActor, which spawns, kills and reaps it.
/// </summary>
public sealed class ExecSessions
{
    /// <summary>Finished execs stay inspectable this long.</summary>
    static readonly TimeSpan Keep = TimeSpan.FromMinutes(10);

    readonly ConcurrentDictionary<string, ExecSession> _store = new(StringComparer.Ordinal);

    /// <summary>A new instance under a fresh 64-hex id (CSPRNG: an id is the only handle to an exec).</summary>
    public ExecSession Add(string containerId, ExecCreateRequest config)
    {
        Prune();
        var execId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        var session = new ExecSession(execId, containerId, config);
        _store[execId] = session;
        return session;
    }

    public bool TryGet(string id, [NotNullWhen(true)] out ExecSession? session) => _store.TryGetValue(id, out session);

    void Prune()
    {
        var cutoff = DateTimeOffset.UtcNow - Keep;
        foreach (var (k, v) in _store)
            if (v.Finished is { } f && f < cutoff) _store.TryRemove(k, out _);
    }
}

/// <summary>One exec instance: its config from create, whether it was started, and what inspect and
/// resize read while and after it runs. Fields under Gate.</summary>
public sealed class ExecSession(string id, string containerId, ExecCreateRequest config)
{
    public string Id { get; } = id;
    public string ContainerId { get; } = containerId;
    public ExecCreateRequest Config { get; } = config;
    public readonly object Gate = new();
    public bool Started, Running;
    public int? ExitCode;
    public int Pid;
    /// <summary>The pty master of a -t exec while it runs (for resize); -1 otherwise. Under Gate.</summary>
    public int Master = -1;
    public string? Error;
    public DateTimeOffset? Finished;

    public void Finish(int code, string? error = null)
    {
        lock (Gate) { ExitCode = code; Running = false; Error ??= error; Finished = DateTimeOffset.UtcNow; }
    }

    /// <summary>Marks it started; false if it was already (an exec runs once).</summary>
    public bool TryStart()
    {
        lock (Gate)
        {
            var already = Started;
            Started = true;
            return !already;
        }
    }

    /// <summary>Nothing ran: it may be started again.</summary>
    public void Unstart()
    {
        lock (Gate) Started = false;
    }

    public void Resize(ushort rows, ushort cols)
    {
        lock (Gate)
        {
            // Without a terminal (or once it is gone) there is nothing to resize: OK, as Docker answers.
            if (Master >= 0) Pty.SetWindowSize(Master, rows, cols);
        }
    }

    /// <summary>Closes the pty master (the last of its users, or a start that failed).</summary>
    public void CloseMaster()
    {
        lock (Gate) { Sys.Close(Master); Master = -1; }
    }
}
