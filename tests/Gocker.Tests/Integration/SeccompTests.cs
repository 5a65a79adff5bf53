using System.Diagnostics;
using Gocker.Syscalls.Native;

namespace Gocker.Tests.Integration;

/// <summary>Docker's default seccomp profile on real containers through the daemon and the console.</summary>
[Trait("Needs", "root")]
public sealed class SeccompTests(DaemonFixture daemon) : IClassFixture<DaemonFixture>, IDisposable
{
    public void Dispose() => daemon.AssertNoLeaks();

    string Ok(params string[] args)
    {
        var r = daemon.Gocker(args);
        Assert.True(r.ExitCode == 0, $"gocker {string.Join(' ', args)}: {r}\n{daemon.DaemonLog}");
        return r.Stdout;
    }

    // Calls busybox cannot make: each prints NAME=RC/ERRNO.
    const string ProbeSource = """
        #define _GNU_SOURCE
        #include <stdio.h>
        #include <errno.h>
        #include <unistd.h>
        #include <sys/syscall.h>
        #define P(name, expr) do { long r = (expr); printf("%s=%ld/%d\n", name, r < 0 ? -1L : 0L, r < 0 ? errno : 0); } while (0)
        int main(int argc, char **argv) {
            P("keyctl_search", syscall(SYS_keyctl, 10 /*KEYCTL_SEARCH*/, -4L /*KEY_SPEC_USER_KEYRING*/, "user", argv[1], 0L));
            P("request_key", syscall(SYS_request_key, "user", argv[1], 0L, 0L));
            P("add_key", syscall(SYS_add_key, "user", "probe", "v", 1L, -2L /*KEY_SPEC_PROCESS_KEYRING*/));
            char attr[128] = { 0 }; *(unsigned *)(attr + 4) = sizeof attr; /* type 0 = HARDWARE, config 0 = CPU cycles */
            P("perf_event_open", syscall(SYS_perf_event_open, attr, 0L, -1L, -1L, 0L));
            P("clone3", syscall(435 /*clone3*/, 0L, 0L));
            P("personality_query", syscall(SYS_personality, 0xffffffffUL));
            P("personality_set", syscall(SYS_personality, 0x0040000UL /*ADDR_NO_RANDOMIZE*/));
            return 0;
        }
        """;

    /// <summary>The probe, compiled static (the container has no libc of the host) into the fixture's root.</summary>
    string Probe()
    {
        var dir = Path.Combine(daemon.Root, "probe-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "probe.c"), ProbeSource);
        var psi = new ProcessStartInfo("gcc", ["-static", "-O1", "-o", Path.Combine(dir, "probe"), Path.Combine(dir, "probe.c")])
        { RedirectStandardError = true };
        using var gcc = Process.Start(psi)!;
        string err = gcc.StandardError.ReadToEnd();
        gcc.WaitForExit();
        Assert.True(gcc.ExitCode == 0, $"gcc {dir}/probe.c: {err}");
        return Path.Combine(dir, "probe");
    }

    static Dictionary<string, (int Rc, int Errno)> Parse(string output) =>
        output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('=', '/'))
            .ToDictionary(p => p[0], p => (int.Parse(p[1]), int.Parse(p[2])));

    const int EPERM = 1, ENOSYS = 38;

    [Fact]
    public void A_default_container_runs_under_the_filter_and_cannot_make_namespaces_or_mounts()
    {
        var output = Ok("run", "--rm", "--network", "none", "busybox", "sh", "-c",
            "grep Seccomp: /proc/self/status; unshare -U true 2>/dev/null && echo UNSHARED; " +
            "mount -t tmpfs t /mnt 2>/dev/null && echo MOUNTED; echo end");
        Assert.Equal("Seccomp:\t2\nend\n", output);
    }

    [Fact]
    public unsafe void Host_keys_perf_and_personality_changes_are_refused_and_clone3_is_enosys()
    {
        var probe = Probe();
        // A key in the host root's user keyring: keys are not namespaced, so uid 0 in a container
        // would find it (the probe run on the host does) unless seccomp refuses the keyring calls.
        string keyName = "gocker-seccomp-" + Guid.NewGuid().ToString("N")[..8];
        long serial;
        fixed (byte* type = "user\0"u8, payload = "host-secret"u8)
        fixed (byte* desc = System.Text.Encoding.ASCII.GetBytes(keyName + "\0"))
            serial = Libc.syscall(248 /*add_key*/, (nint)type, (nint)desc, (nint)payload, 11, -4 /*KEY_SPEC_USER_KEYRING*/);
        Assert.True(serial > 0, $"add_key {keyName}: errno {Libc.Errno}");
        try
        {
            using (var host = Process.Start(new ProcessStartInfo(probe, [keyName]) { RedirectStandardOutput = true })!)
            {
                var onHost = Parse(host.StandardOutput.ReadToEnd());
                host.WaitForExit();
                Assert.Equal(0, onHost["keyctl_search"].Rc); // found: the control
            }
            var inside = Parse(Ok("run", "--rm", "--network", "none", "-v", probe + ":/probe:ro", "busybox", "/probe", keyName));
            Assert.Equal((-1, EPERM), inside["keyctl_search"]);
            Assert.Equal((-1, EPERM), inside["request_key"]);
            Assert.Equal((-1, EPERM), inside["add_key"]);
            Assert.Equal((-1, EPERM), inside["perf_event_open"]);
            Assert.Equal((-1, ENOSYS), inside["clone3"]);
            Assert.Equal((0, 0), inside["personality_query"]);
            Assert.Equal((-1, EPERM), inside["personality_set"]);
        }
        finally { Libc.syscall(250 /*keyctl*/, 21 /*KEYCTL_INVALIDATE*/, (nint)serial, 0, 0, 0); }
    }

    [Fact]
    public void Exec_processes_get_the_containers_filter()
    {
        var name = "secc-" + Guid.NewGuid().ToString("N")[..8];
        Ok("run", "-d", "--name", name, "--network", "none", "busybox", "sleep", "1000");
        try
        {
            Assert.Equal("Seccomp:\t2\n", Ok("exec", name, "grep", "Seccomp:", "/proc/self/status"));
            Assert.Equal("Seccomp:\t2\n", Ok("exec", "-u", "nobody", name, "grep", "Seccomp:", "/proc/self/status"));
            Assert.NotEqual(0, daemon.Gocker("exec", name, "unshare", "-U", "true").ExitCode);
            // The container's PID 1 too.
            Assert.Equal("Seccomp:\t2\n", Ok("exec", name, "grep", "Seccomp:", "/proc/1/status"));
        }
        finally { Ok("rm", "-f", name); }
    }
}
