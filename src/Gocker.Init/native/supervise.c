// gocker-init as the container's PID 1 for `--init` (HostConfig.Init), tini's behaviour: spawn the
// command as a child, forward the signals PID 1 receives to it, reap every process reparented to
// us (orphans become PID 1's children), and exit with the child's status (its exit code, or 128+n
// when signal n killed it) once it is gone. The kernel then kills whatever is left in the PID
// namespace, as for any PID 1.
//
// Why C: by the time this runs the .NET runtime has threads of its own (finalizer, ...) whose signal
// masks we do not control, so a process-directed signal may be delivered to any of them. The handler
// below therefore only writes the signal number to a pipe (async-signal-safe, no managed code on a
// runtime thread) and the calling thread does the work. A PID 1 with a SIG_DFL SIGTERM sent from the
// host would die of it; with a handler installed it is caught and forwarded instead.
//
// No binary is added to the container: this is the same process, still running from the daemon's
// sealed memfd copy of gocker-init.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define STATUS_FD 3

static int sig_pipe_w = -1;

static void on_signal(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    // Non-blocking: a full pipe drops the byte (a flood of the same signal needs forwarding once).
    (void)!write(sig_pipe_w, &b, 1);
    errno = saved;
}

// tini's list of signals it does not forward: synchronous faults (the runtime's own handlers stay),
// and the job-control ones a PID 1 gets from its terminal.
static int forwarded(int sig)
{
    switch (sig)
    {
        case SIGKILL: case SIGSTOP:
        case SIGSEGV: case SIGBUS: case SIGILL: case SIGFPE: case SIGABRT: case SIGTRAP: case SIGSYS:
        case SIGTTIN: case SIGTTOU:
            return 0;
        default:
            return 1;
    }
}

static int report(int code, const char *what, int err)
{
    char line[512];
    int n = snprintf(line, sizeof line, "%d exec: %s: %s\n", code, what, strerror(err));
    if (n > 0) (void)!write(STATUS_FD, line, (size_t)n);
    return code;
}

// Returns the exit code for PID 1. The exec-status protocol is kept: fd 3 reaches EOF once the command
// runs (it is CLOEXEC, and closed here after the spawn), or carries "CODE exec: MESSAGE" if it cannot.
static int supervise(const char *path, char *const argv[], char *const envp[], int tty)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return report(125, "init pipe", errno);
    int fl = fcntl(p[1], F_GETFL);
    if (fl < 0 || fcntl(p[1], F_SETFL, fl | O_NONBLOCK) != 0) return report(125, "init pipe", errno);
    sig_pipe_w = p[1];

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigfillset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    // Before the spawn: a signal (or the child's exit) that comes at once is not lost.
    for (int sig = 1; sig < 32; sig++)
        if (forwarded(sig) && sig != SIGCHLD) (void)sigaction(sig, &sa, NULL);
    if (sigaction(SIGCHLD, &sa, NULL) != 0) return report(125, "sigaction SIGCHLD", errno);

    posix_spawnattr_t attr;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_init(&fa);
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    // The command starts as execve would have left it without us: default dispositions, no mask.
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setsigmask(&attr, &none);
    // Its own process group (tini's isolate_child): a terminal's Ctrl-C reaches the command's group,
    // not PID 1 twice; with -t that group becomes the terminal's foreground group.
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
    if (tty) posix_spawn_file_actions_addtcsetpgrp_np(&fa, 0);

    pid_t child;
    int rc = posix_spawn(&child, path, &fa, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) return report(rc == ENOENT || rc == ENOTDIR ? 127 : 126, argv[0], rc);
    close(STATUS_FD); // the command runs: EOF for the daemon

    for (;;)
    {
        unsigned char b;
        ssize_t n = read(p[0], &b, 1);
        if (n < 0 && errno == EINTR) continue;
        if (n != 1) return 125; // cannot happen: we hold the write end
        int sig = b;
        if (sig != SIGCHLD)
        {
            kill(child, sig);
            continue;
        }
        // Reap every exited child: the command and any orphan reparented to PID 1.
        for (;;)
        {
            int st;
            pid_t w = waitpid(-1, &st, WNOHANG);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) break;
            if (w == child)
            {
                // Reap what else has exited already, then go: the kernel kills the rest with us.
                while (waitpid(-1, NULL, WNOHANG) > 0) { }
                if (WIFEXITED(st)) return WEXITSTATUS(st);
                if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
                return 125;
            }
        }
    }
}

// Never returns to the runtime: the managed side reset every signal disposition before the exec
// step (its activation signal included), so a runtime shutdown could die of its own signal; _exit
// gives the daemon exactly the child's status.
__attribute__((noreturn)) void gocker_init_supervise(const char *path, char *const argv[], char *const envp[], int tty)
{
    _exit(supervise(path, argv, envp, tty));
}
