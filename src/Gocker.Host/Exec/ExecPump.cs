using Gocker.Actors.Containers;
using Gocker.Api;
using Gocker.Syscalls.Terminal;
using Microsoft.Win32.SafeHandles;

namespace Gocker.Host;

/// <summary>Moves an exec's bytes between its pipes (or pty master) and the client's connection, on
/// dedicated threads (pipe reads block, and an interactive exec may last for hours), and records its
/// exit on the session.</summary>
public static class ExecPump
{
    public static async Task Pump(Stream conn, ExecPipes fds, ContainerActor.ExecStarted started, ExecSession inst, bool hasInput, bool framedStdin)
    {
        var gate = new object();
        var broken = false;
        void Send(byte stream, byte[] buffer, int n)
        {
            lock (gate)
            {
                if (broken) return;
                try
                {
                    Multiplex.WriteHeader(buffer, stream, n);
                    conn.Write(buffer, 0, Multiplex.HeaderSize + n);
                    conn.Flush();
                }
                catch (Exception) { broken = true; } // the client went away: keep draining, drop the rest
            }
        }
        if (!started.Result.Ok)
        {
            var msg = System.Text.Encoding.UTF8.GetBytes($"gocker: exec failed: {started.Result}\n");
            var frame = new byte[Multiplex.HeaderSize + msg.Length];
            msg.CopyTo(frame, Multiplex.HeaderSize);
            Send(Multiplex.Stderr, frame, msg.Length);
        }
        // Dedicated threads: pipe reads block, and an interactive exec may last for hours.
        Task Out(int fd, byte stream) => fd < 0 ? Task.CompletedTask : Task.Factory.StartNew(() =>
        {
            using var fs = new FileStream(new SafeFileHandle(fd, ownsHandle: false), FileAccess.Read, 1);
            var buffer = new byte[Multiplex.HeaderSize + 32 * 1024];
            int n;
            while ((n = fs.Read(buffer, Multiplex.HeaderSize, buffer.Length - Multiplex.HeaderSize)) > 0) Send(stream, buffer, n);
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

        var stdout = Out(fds.OutR, Multiplex.Stdout);
        var stderr = Out(fds.ErrR, Multiplex.Stderr);
        if (hasInput && fds.InW >= 0)
        {
            _ = Task.Factory.StartNew(() =>
            {
                // Client bytes after the upgrade are stdin; its EOF closes the process's stdin. Docker
                // clients signal EOF by half-closing (served: HalfCloseConnection keeps the output
                // going); a client may also ask for framed stdin (`?stdin=framed`): Multiplex frames
                // on stream 0, an empty frame = EOF, on the connection that stays open.
                try
                {
                    using var fs = new FileStream(new SafeFileHandle(fds.InW, ownsHandle: false), FileAccess.Write, 1);
                    CopyStdin(conn, framedStdin, data => { fs.Write(data); fs.Flush(); });
                }
                catch (Exception) { /* the process closed its stdin or exited, or the client went away */ }
                finally { fds.CloseStdin(); }
            }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }
        else fds.CloseStdin();

        try
        {
            await Task.WhenAll(stdout, stderr);
            if (started.Result.Ok)
            {
                var status = await started.Exit;
                inst.Finish(status.ExitCode);
            }
        }
        finally
        {
            fds.CloseOutputs();
            // stdin is closed by its pump when the connection goes (returning ends the hijacked connection).
            if (!hasInput) fds.CloseStdin();
        }
    }

    /// <summary>-t: one pty master carries both directions, raw (no frames, as Docker's tty streams).
    /// The master is closed by whichever of the two copies ends last, under the instance's gate
    /// (resize uses it too).</summary>
    public static async Task PumpTty(Stream conn, ExecPipes fds, ContainerActor.ExecStarted started, ExecSession inst, bool hasInput, bool framedStdin)
    {
        int users = hasInput ? 2 : 1;
        void Release()
        {
            if (Interlocked.Decrement(ref users) != 0) return;
            inst.CloseMaster();
        }
        int master = inst.Master;
        if (!started.Result.Ok)
        {
            try { conn.Write(System.Text.Encoding.UTF8.GetBytes($"gocker: exec failed: {started.Result}\r\n")); conn.Flush(); }
            catch (Exception) { }
        }
        if (hasInput)
        {
            _ = Task.Factory.StartNew(() =>
            {
                try { CopyStdin(conn, framedStdin, data => { if (!Pty.WriteAll(master, data)) throw new IOException("terminal closed"); }); }
                catch (Exception) { /* the terminal or the client went away */ }
                finally { Release(); }
            }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }
        try
        {
            await Task.Factory.StartNew(() =>
            {
                var buffer = new byte[32 * 1024];
                var broken = false;
                int n;
                // 0 (EIO on a master) once every slave descriptor is closed: the process and its children are done.
                while ((n = Pty.Read(master, buffer)) > 0)
                {
                    if (broken) continue;
                    try { conn.Write(buffer, 0, n); conn.Flush(); }
                    catch (Exception) { broken = true; }
                }
            }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            if (started.Result.Ok) inst.Finish((await started.Exit).ExitCode);
        }
        finally { Release(); }
    }

    /// <summary>Client bytes to the process: raw until EOF, or (framed) stream-0 frames until an empty one.</summary>
    static void CopyStdin(Stream conn, bool framed, Action<ReadOnlySpan<byte>> write)
    {
        var buffer = new byte[32 * 1024];
        if (!framed)
        {
            int n;
            while ((n = conn.Read(buffer, 0, buffer.Length)) > 0) write(buffer.AsSpan(0, n));
            return;
        }
        var header = new byte[Multiplex.HeaderSize];
        while (conn.ReadAtLeast(header, header.Length, throwOnEndOfStream: false) == header.Length)
        {
            var (_, length) = Multiplex.ReadHeader(header);
            if (length <= 0) return; // the client's stdin ended
            while (length > 0)
            {
                int got = conn.Read(buffer, 0, Math.Min(buffer.Length, length));
                if (got <= 0) return;
                write(buffer.AsSpan(0, got));
                length -= got;
            }
        }
    }
}
