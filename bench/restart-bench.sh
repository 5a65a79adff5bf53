#!/usr/bin/env bash
# Restart reaction benchmark: one container under `--restart always --restart-delay 0` whose command
# prints one line and exits at once. The gap between consecutive lines' `logs -t` timestamps (the
# time the daemon's log indexer saw each write; busybox's date has no %N) is one run's exit to the
# next run's command: the policy decision, teardown of the old run (OOM counter, cgroup rmdir, run dir), the
# state write, and the whole start path of the new run (cgroup, spawn, init, exec of sh and date).
# Usage: bench/restart-bench.sh [RESTARTS] [WARMUP]   (as root, after ./build.sh). Prints a Markdown
# section. The first WARMUP restarts (default 300) are not counted: the daemon's JIT (tiered
# compilation) needs a few hundred runs of the start path to settle.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
n=${1:-100}
warm=${2:-300}
bin=$PWD/artifacts/bin
root=$(mktemp -d /tmp/gocker-rsbench-XXXX)
sock=$root/gocker.sock
cg=gocker-rsbench-$$
"$bin/gockerd" --data-root "$root/data" --exec-root "$root/exec" -H "unix://$sock" --cgroup-parent $cg \
  --default-network none >"$root/gockerd.log" 2>&1 &
daemon=$!
cleanup() {
  $bin/gocker -H "unix://$sock" ps -aq 2>/dev/null | xargs -r $bin/gocker -H "unix://$sock" rm -f >/dev/null 2>&1 || true
  kill $daemon 2>/dev/null; wait $daemon 2>/dev/null || true
  rm_daemon_nat_rules "$root/data"
  rm -rf "$root"
  rm_cgroup_parent $cg
}
trap cleanup EXIT
for _ in $(seq 1 400); do [ -S "$sock" ] && "$bin/gocker" -H "unix://$sock" version >/dev/null 2>&1 && break; sleep 0.05; done
g="$bin/gocker -H unix://$sock"
for _ in 1 2 3; do $g run --rm busybox true; done   # warm-up: image build, JIT of the start path
id=$($g run -d --restart always --restart-delay 0 busybox sh -c 'echo run')
while :; do
  c=$($g inspect "$id" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["RestartCount"])')
  [ "$c" -ge $((n + warm)) ] && break
  sleep 0.2
done
$g stop -t 1 "$id" >/dev/null
$g logs -t "$id" | WARM=$warm python3 -c '
import os, sys, statistics, datetime
def ns(stamp):  # 2026-11-29T06:20:01.123456789Z
    sec, frac = stamp.rstrip("Z").split(".")
    return int(datetime.datetime.fromisoformat(sec).replace(tzinfo=datetime.timezone.utc).timestamp()) * 10**9 + int(frac.ljust(9, "0"))
w = int(os.environ["WARM"])
t = [ns(l.split()[0]) for l in sys.stdin if l.strip().endswith("run")][w:]
gaps = sorted((b - a) / 1e6 for a, b in zip(t, t[1:]))
n = len(gaps)
print(f"### Restart reaction: `--restart always --restart-delay 0`, {n} restarts of `sh -c \"echo run\"` (after {w} warm-up restarts)")
print()
print("| measure | value |")
print("|---|---|")
print(f"| exit to next run (median) | {statistics.median(gaps):.1f} ms |")
print(f"| p10 / p90 / max | {gaps[n//10]:.1f} / {gaps[int(n*0.9)-1]:.1f} / {gaps[-1]:.1f} ms |")
'

# Daemon side: a run that lasts 0.5 s leaves time to read inspect while it runs; StartedAt minus
# the previous run's FinishedAt (kept until the next exit) is exit recorded -> next run released.
$g rm -f "$id" >/dev/null
id=$($g run -d --restart always --restart-delay 0 busybox sh -c 'sleep 0.5')
samples=()
last=""
while [ ${#samples[@]} -lt 20 ]; do
  v=$($g inspect "$id" | python3 -c '
import json, sys, datetime
s = json.load(sys.stdin)[0]["State"]
def t(x):
    sec, frac = x.rstrip("Z").split(".")
    return datetime.datetime.fromisoformat(sec).timestamp() + int(frac.ljust(9, "0")) / 1e9
if s["Status"] == "running" and not s["FinishedAt"].startswith("0001"):
    print(s["StartedAt"], round((t(s["StartedAt"]) - t(s["FinishedAt"])) * 1000, 2))')
  if [ -n "$v" ] && [ "${v%% *}" != "$last" ]; then last=${v%% *}; samples+=("${v##* }"); fi
  sleep 0.1
done
python3 -c '
import sys, statistics
v = sorted(float(x) for x in sys.argv[1:])
print(f"| daemon side, exit recorded to next run released (median of {len(v)}) | {statistics.median(v):.1f} ms (min {v[0]:.1f}, max {v[-1]:.1f}) |")' "${samples[@]}"
echo
echo "load average during the run: $(cut -d" " -f1-3 /proc/loadavg)"
