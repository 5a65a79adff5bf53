# The part of a start's cgroup-namespace step that waits for the daemon's placement (so is on the
# critical path when nothing else, e.g. a CNI ADD, runs meanwhile), on a hybrid host as this one:
# unshare(CLONE_NEWCGROUP) and the 7 v1 hierarchies + unified mounted read-only. The tmpfs skeleton
# (CgroupMounts.Prepare) is made before, untimed. Each round in a fresh child with its own private mount
# namespace. Usage (root): python3 bench/cgroupns-mount-cost.py ROUNDS
import ctypes, os, time, statistics, sys
libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNS, CLONE_NEWCGROUP = 0x20000, 0x02000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 8, 32, 4096, 16384, 1 << 18
F = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC
def mount(src, tgt, fs, fl, data):
    if libc.mount(src, tgt, fs, ctypes.c_ulong(fl), data) != 0:
        e = ctypes.get_errno(); raise OSError(e, f"mount {tgt}: {os.strerror(e)}")
subs = ["cpu", "cpuacct", "cpuset", "devices", "freezer", "memory", "pids"]
def child(w):
    if libc.unshare(CLONE_NEWNS) != 0: os._exit(2)
    mount(None, b"/", None, MS_REC | MS_PRIVATE, None)
    t = b"/sys/fs/cgroup"
    # Before the wait (CgroupMounts.Prepare): not timed.
    mount(b"tmpfs", t, b"tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, b"mode=755,size=64k")
    for s in subs + ["unified"]: os.mkdir(b"/sys/fs/cgroup/" + s.encode())
    mount(None, t, None, MS_REMOUNT | MS_BIND | F, None)
    # After the placed byte (CgroupMounts.NewNamespace + Mount): timed.
    t0 = time.perf_counter()
    if libc.unshare(CLONE_NEWCGROUP) != 0: os._exit(3)
    for s in subs:
        mount(b"cgroup", b"/sys/fs/cgroup/" + s.encode(), b"cgroup", F, s.encode())
    mount(b"cgroup2", b"/sys/fs/cgroup/unified", b"cgroup2", F, None)
    dt = time.perf_counter() - t0
    os.write(w, f"{dt}\n".encode()); os._exit(0)
n = int(sys.argv[1]); ts = []
for _ in range(n):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0: os.close(r); child(w)
    os.close(w); _, st = os.waitpid(pid, 0); ts.append(float(os.read(r, 100))); os.close(r)
ts.sort()
print(f"{n} rounds: median {statistics.median(ts)*1e6:.0f} us, p10 {ts[n//10]*1e6:.0f}, p90 {ts[n*9//10]*1e6:.0f}")
