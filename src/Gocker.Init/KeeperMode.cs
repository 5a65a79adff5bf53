using System.Globalization;
using Gocker.Syscalls.Keeper;
using Gocker.Syscalls.Native;

namespace Gocker.Init;

/// <summary>
/// `gocker-init --keeper SOCKET`: the daemon's keeper (see TerminalKeeper). It holds a copy of each
/// running -t container's pty master, and of the read ends of each other container's stdout/stderr
/// pipes, so the terminal or pipe survives the daemon (no hang-up, no SIGPIPE); it never reads or
/// writes one. One thread, one poll loop over: the listening socket (fd 3, bound by the daemon), the
/// connected daemons, and the held descriptors (polled for hang-up only: a master whose slaves are
/// all closed belongs to a run that is over, and is dropped; so is a pipe without writers, unless
/// output is still buffered in it: that waits, unpolled, for a daemon to take it back and CLOSE it).
/// It exits when it holds nothing and no daemon is connected any more (a running daemon keeps it for
/// its next containers), or when nothing was handed to it within 10 s of its start (the daemon that
/// started it died first). It is non-dumpable: only root with CAP_SYS_PTRACE
/// (the daemon, by pidfd_getfd) can reach the terminals it holds.
/// </summary>
static class KeeperMode
{
    const int ListenFd = 3, MaxClients = 16, PR_SET_DUMPABLE = 4;
    const short POLLIN = 1, POLLHUP = 0x10, POLLERR = 8, POLLNVAL = 0x20;
    const nuint FIONREAD = 0x541B;
    static readonly TimeSpan FirstHoldWithin = TimeSpan.FromSeconds(10);

    public static int Run(string socketPath)
    {
        _ = socketPath; // for ps: says which daemon's keeper this is
        Libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        var clients = new List<int>();
        var held = new List<Held>();
        var buf = new byte[KeeperSocket.MaxMessage];
        var started = Environment.TickCount64;
        bool everHeld = false;
        var pfds = new long[1 + MaxClients + 4096];
        var polled = new List<int>(); // index into held of each polled descriptor

        while (true)
        {
            // Holding nothing, it stays while a daemon is connected: the next run hands it its pipes
            // at once instead of spawning a keeper per run (~10 ms each, paired). With no daemon left
            // and nothing held, nobody can need it.
            if (everHeld && held.Count == 0 && clients.Count == 0) return 0;
            int n = 0;
            pfds[n++] = Poll(ListenFd, POLLIN);
            foreach (var c in clients) pfds[n++] = Poll(c, POLLIN);
            int heldFrom = n;
            polled.Clear();
            for (int k = 0; k < held.Count; k++)
            {
                if (n == pfds.Length) break;
                if (held[k].Ended) continue; // hung up with output left: a POLLHUP forever, not polled
                polled.Add(k);
                pfds[n++] = Poll(held[k].Fd, 0);
            }
            int timeout = everHeld ? -1 : (int)Math.Max(0, FirstHoldWithin.TotalMilliseconds - (Environment.TickCount64 - started));
            int r = KeeperSocket.PollMany(pfds, n, timeout);
            if (r < 0) continue; // EINTR
            if (r == 0 && !everHeld) return 0;

            // Hung-up descriptors first (their runs are over), then requests, then new connections.
            for (int i = n - 1; i >= heldFrom; i--)
                if ((Revents(pfds[i]) & (POLLHUP | POLLERR | POLLNVAL)) != 0)
                {
                    int k = polled[i - heldFrom];
                    // A pipe whose container ended while no daemon copied it still holds its last
                    // output: kept for the next daemon (it drains it into the log, then CLOSEs it).
                    if (held[k].Pipe && Unread(held[k].Fd) > 0) { held[k] = held[k] with { Ended = true }; continue; }
                    Libc.close(held[k].Fd);
                    held.RemoveAt(k);
                }
            for (int i = clients.Count; i >= 1; i--)
            {
                var ev = Revents(pfds[i]);
                if (ev == 0) continue;
                int c = clients[i - 1];
                List<int> fds = [];
                var request = (ev & POLLIN) != 0 ? KeeperSocket.Receive(c, buf, out fds) : null;
                if (request is null)
                {
                    Libc.close(c);
                    clients.RemoveAt(i - 1);
                    continue;
                }
                var reply = Handle(request, fds, held, ref everHeld);
                KeeperSocket.Send(c, reply);
            }
            if ((Revents(pfds[0]) & POLLIN) != 0)
            {
                int c = KeeperSocket.Accept(ListenFd);
                if (c >= 0)
                {
                    // A daemon that restarted leaves its old connection behind: the oldest goes.
                    if (clients.Count == MaxClients) { Libc.close(clients[0]); clients.RemoveAt(0); }
                    clients.Add(c);
                }
            }
        }
    }

    /// <summary>A held descriptor: a pty master, or (Pipe) the read end of a container's output pipe.</summary>
    record struct Held(int Fd, string Tag, bool Pipe, bool Ended);

    static unsafe int Unread(int fd)
    {
        int n = 0;
        return Libc.ioctl(fd, FIONREAD, &n) == 0 ? n : 0;
    }

    static string Handle(string request, List<int> fds, List<Held> held, ref bool everHeld)
    {
        var parts = request.Split(' ');
        try
        {
            switch (parts)
            {
                case ["HOLD", var tag] when fds.Count == 1 && KeeperSocket.ValidTag(tag):
                    held.Add(new Held(fds[0], tag, false, false));
                    everHeld = true;
                    fds.Clear();
                    return "OK " + held[^1].Fd.ToString(CultureInfo.InvariantCulture);
                // Both pipes of a run in one message: the keeper can never exit between the two.
                case ["HOLDPIPES", var tag] when fds.Count == 2 && KeeperSocket.ValidTag(tag + ".1"):
                    held.Add(new Held(fds[0], tag + ".1", true, false));
                    held.Add(new Held(fds[1], tag + ".2", true, false));
                    everHeld = true;
                    fds.Clear();
                    return string.Create(CultureInfo.InvariantCulture, $"OK {held[^2].Fd} {held[^1].Fd}");
                case ["CLOSE", var fdText, var tag] when int.TryParse(fdText, NumberStyles.None, CultureInfo.InvariantCulture, out var fd):
                    // Only the descriptor held under that tag: a stale request never closes another's.
                    var i = held.FindIndex(h => h.Fd == fd && h.Tag == tag);
                    if (i >= 0) { Libc.close(fd); held.RemoveAt(i); }
                    return "OK " + held.Count.ToString(CultureInfo.InvariantCulture);
                case ["PID"]:
                    return "OK " + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
                case ["LIST"]:
                    var sb = new System.Text.StringBuilder("OK ").Append(held.Count);
                    foreach (var h in held) sb.Append('\n').Append(h.Fd).Append(' ').Append(h.Tag);
                    return sb.ToString();
                default:
                    return "ERR bad request";
            }
        }
        finally
        {
            foreach (var fd in fds) Libc.close(fd);
        }
    }

    static long Poll(int fd, short events) => (uint)fd | ((long)(ushort)events << 32);
    static short Revents(long pfd) => (short)(pfd >> 48);
}
