#!/usr/bin/env bash
# Lifecycle benchmark: N sequential `gocker run -d busybox sleep 1000` (whole console process each,
# against a warm gockerd on its own roots), then ONE `gocker rm -f` of all N. Reports time per
# `run -d`, the total, the removal time, and the daemon's RSS per running container, plus any
# per-container helper processes (there should be none: containers write their output to files).
# Usage: bench/lifecycle-bench.sh [N]   (as root, after ./build.sh). Prints a Markdown section.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
n=${1:-50}
bin=$PWD/artifacts/bin
root=$(mktemp -d /tmp/gocker-lcbench-XXXX)
sock=$root/gocker.sock
cg=gocker-lcbench-$$
"$bin/gockerd" --data-root "$root/data" --exec-root "$root/exec" -H "unix://$sock" --cgroup-parent $cg ${GOCKER_BENCH_DAEMON_ARGS:-} >"$root/gockerd.log" 2>&1 &
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
# Warm-up: image build, then the JIT's tiering of the start path (a fresh daemon re-compiles hot
# paths for its first few hundred starts: see bench/RESULTS.md); then drop those containers.
for _ in $(seq 1 ${GOCKER_BENCH_WARM:-1200}); do $g run --rm busybox true; done
ids=$($g run -d busybox sleep 1000); $g rm -f $ids >/dev/null
sleep 1
rss() { awk '/^VmRSS/ {print $2}' /proc/$daemon/status; }   # kB
children() { (ps -o pid= --ppid $daemon || true) | wc -l; }
rss0=$(rss); kids0=$(children)
now() { date +%s%N; }
times=()
ids=()
t0=$(now)
for i in $(seq 1 "$n"); do
  a=$(now)
  ids+=("$($g run -d busybox sleep 1000)")
  b=$(now)
  times+=($(( (b - a) / 1000 )))
done
t1=$(now)
sleep 1
rss1=$(rss); kids1=$(children)
running=$($g ps -q | wc -l)
r0=$(now)
$g rm -f "${ids[@]}" >/dev/null
r1=$(now)
left=$($g ps -aq | wc -l)
python3 - "$n" "$(( (t1 - t0) / 1000 ))" "$(( (r1 - r0) / 1000 ))" "$rss0" "$rss1" "$kids0" "$kids1" "$running" "$left" "${times[@]}" <<'PY'
import sys, statistics
n, total, rm, rss0, rss1, k0, k1, running, left = map(int, sys.argv[1:10])
t = sorted(int(x) / 1000 for x in sys.argv[10:])
print(f"### Lifecycle: {n} sequential `run -d busybox sleep 1000`, then one `rm -f` of all {n}")
print()
print("| measure | value |")
print("|---|---|")
print(f"| `run -d` median (whole console process) | {statistics.median(t):.1f} ms |")
print(f"| `run -d` p90 / max | {t[int(len(t)*0.9)-1]:.1f} / {t[-1]:.1f} ms |")
print(f"| total for {n} | {total/1000:.0f} ms |")
print(f"| one `rm -f` of all {n} | {rm/1000:.0f} ms |")
print(f"| gockerd RSS before / with {n} running | {rss0/1024:.1f} / {rss1/1024:.1f} MiB |")
print(f"| daemon RSS per running container | {(rss1-rss0)/n:.0f} KiB |")
print(f"| helper processes per container | {(k1-k0-running)/n:.0f} (gockerd's children: {k0} -> {k1}, i.e. only the {running} container inits) |")
print(f"| containers left after rm -f | {left} |")
PY
