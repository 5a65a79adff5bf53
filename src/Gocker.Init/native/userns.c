// gocker-init's user-namespace entry, run as an ELF constructor: before the .NET runtime starts any
// thread. Why C and why here (runc's nsexec has the same shape, for the same reason): the kernel
// lets only a single-threaded process unshare(CLONE_NEWUSER) or setns() into a user namespace, and
// a .NET process (the daemon, or this binary once its runtime is up) always has several threads.
//
// Driven by the environment the daemon gives this process (never a container's: the command's
// environment comes from the init spec):
//   _GOCKER_USERNS=new:FLAGS  a container's init. unshare(CLONE_NEWUSER); say "U" on fd 5 and wait
//                              for the daemon to write uid_map/gid_map (it answers "G"); then unshare
//                              FLAGS (mount, UTS, IPC, PID and maybe net: created after the user
//                              namespace, so owned by it) and fork the init with CLONE_PARENT, so it is
//                              PID 1 of the new PID namespace and the daemon's own child (reaped by
//                              pidfd). The intermediate sends the init's pid (4 bytes) on fd 5 and exits.
//   _GOCKER_USERNS=hold        a user namespace for the daemon's idmapped mounts: unshare, "U", then
//                              wait for EOF on fd 5 (the daemon has opened /proc/PID/ns/user) and exit.
//   _GOCKER_USERNS=join        `gocker-init --exec` into a remapped container: setns(fd 5, a pidfd of
//                              the container's PID 1, CLONE_NEWUSER). The other namespaces were joined
//                              by the daemon's spawn thread; the mount namespace is joined later, by
//                              the managed code, as for any exec.
// In every mode the process keeps the host's credentials (an unmapped uid inside) and gets every
// capability in the new user namespace; the managed code switches to the mapped root once it has
// opened the host files it needs (see Init.Run).
// A failure is reported on fd 3 in the init's protocol ("125 STEP: MESSAGE") and the process exits 125.
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define STATUS_FD 3
#define HANDSHAKE_FD 5

static void fail(const char *what, int err)
{
    char line[256];
    int n = snprintf(line, sizeof line, "125 userns: %s: %s\n", what, strerror(err));
    if (n > 0) (void)!write(STATUS_FD, line, (size_t)n);
    _exit(125);
}

static void write_all(const void *buf, size_t n, const char *what)
{
    const char *p = buf;
    while (n > 0)
    {
        ssize_t w = write(HANDSHAKE_FD, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) fail(what, w < 0 ? errno : EPIPE);
        p += w;
        n -= (size_t)w;
    }
}

static char read_one(const char *what)
{
    char b;
    ssize_t r;
    do r = read(HANDSHAKE_FD, &b, 1); while (r < 0 && errno == EINTR);
    if (r < 0) fail(what, errno);
    return r == 0 ? 0 : b;
}

__attribute__((constructor)) static void gocker_userns(void)
{
    const char *mode = getenv("_GOCKER_USERNS");
    if (mode == NULL) return;

    if (strcmp(mode, "join") == 0)
    {
        if (syscall(SYS_setns, HANDSHAKE_FD, CLONE_NEWUSER) != 0) fail("setns user namespace", errno);
        return;
    }

    int hold = strcmp(mode, "hold") == 0;
    long flags = 0;
    if (!hold)
    {
        if (strncmp(mode, "new:", 4) != 0) fail("bad _GOCKER_USERNS", EINVAL);
        char *end;
        flags = strtol(mode + 4, &end, 16);
        if (*end != 0 || (flags & ~(long)(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET)) != 0)
            fail("bad _GOCKER_USERNS flags", EINVAL);
    }

    if (unshare(CLONE_NEWUSER) != 0) fail("unshare user namespace", errno);
    write_all("U", 1, "handshake");
    char go = read_one("wait for the id maps");
    if (hold) _exit(0);
    if (go != 'G') _exit(125); // the daemon gave up (it reports why)

    if (unshare((int)flags) != 0) fail("unshare namespaces", errno);
    // A raw clone: fork() would run the libc's atfork handlers, for nothing. No stack: fork semantics.
    pid_t pid = (pid_t)syscall(SYS_clone, (unsigned long)(CLONE_PARENT | SIGCHLD), 0, 0, 0, 0);
    if (pid < 0) fail("clone the init", errno);
    if (pid == 0)
    {
        close(HANDSHAKE_FD);
        // The daemon spawned the intermediate as a session leader (POSIX_SPAWN_SETSID); the init must
        // be one, to take a terminal as its controlling tty (TIOCSCTTY).
        if (setsid() < 0) fail("setsid", errno);
        return; // the init: on into the runtime and Main
    }
    write_all(&pid, sizeof pid, "send the init's pid");
    _exit(0);
}
