#!/usr/bin/env bash
# Paired A/B of the start path: `run --rm --network none busybox true` against variants of the daemon
# (its environment, its flags) and/or of the console, all daemons up at once and the runs interleaved
# (A B C, then C B A, ...), so every variant sees the same machine: this machine's speed drifts by
# several ms within minutes, which round-by-round comparisons (ab-bench.sh) cannot tell from an effect.
# Usage: bench/pair-bench.sh RUNS WARM 'LABEL|ENV|DAEMON-ARGS|CONSOLE|GOCKERD' ...   (as root, after ./build.sh)
#   ENV: space-separated NAME=VALUE for gockerd (or empty); CONSOLE: a gocker binary (empty: artifacts/bin/gocker);
#   GOCKERD: a gockerd build (empty: artifacts/bin/gockerd; e.g. one published from another commit).
#   WARM: runs per daemon before measuring (interleaved too); ~1200 lets the daemon's JIT settle
#   (while one daemon still compiles, its JIT's CPU slows every variant's runs alike).
# Example: bench/pair-bench.sh 400 600 'old|||/tmp/old/gocker' 'new|||'
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
runs=${1:?runs}; warm=${2:?warm}; shift 2
bin=$PWD/artifacts/bin
tmp=$(mktemp -d /tmp/gocker-pair-XXXX)
pids=(); specs=(); i=0
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for j in $(seq 0 $((i - 1))); do rm_cgroup_parent "gocker-pair-$j-$$"; rm_daemon_nat_rules "$tmp/v$j/data"; done
  rm -rf "$tmp"
}
trap cleanup EXIT
for v in "$@"; do
  IFS='|' read -r label env args console daemon <<<"$v"
  r=$tmp/v$i; mkdir -p "$r"
  # shellcheck disable=SC2086 # ENV and DAEMON-ARGS are word lists
  env $env "${daemon:-$bin/gockerd}" --data-root "$r/data" --exec-root "$r/exec" -H "unix://$r/s.sock" \
    --cgroup-parent "gocker-pair-$i-$$" --default-network none $args >"$r/gockerd.log" 2>&1 &
  pids+=($!)
  specs+=("$label|${console:-$bin/gocker} -H unix://$r/s.sock run --rm busybox true")
  i=$((i + 1))
done
for s in "${specs[@]}"; do
  g=${s#*|}; g=${g% run --rm busybox true}
  for _ in $(seq 600); do $g version >/dev/null 2>&1 && break; sleep 0.1; done
done
for _ in $(seq "$warm"); do for s in "${specs[@]}"; do ${s#*|} >/dev/null; done; done
sleep 1
python3 - "$runs" "${specs[@]}" <<'PY'
import os, sys, time, statistics, shlex
n = int(sys.argv[1])
vs = [(s.split('|', 1)[0], shlex.split(s.split('|', 1)[1]), []) for s in sys.argv[2:]]
null = os.open('/dev/null', os.O_WRONLY)
for i in range(n):
    for label, argv, ts in (vs if i % 2 == 0 else vs[::-1]):
        t0 = time.perf_counter()
        pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=[(os.POSIX_SPAWN_DUP2, null, 1), (os.POSIX_SPAWN_DUP2, null, 2)])
        _, status = os.waitpid(pid, 0)
        ts.append(time.perf_counter() - t0)
        if status != 0: sys.exit(f"{label}: a run failed (status {status})")
for label, _, ts in vs:
    ts.sort()
    print(f"{label:14} median {statistics.median(ts)*1e3:6.2f} ms, p10 {ts[len(ts)//10]*1e3:6.2f}, p90 {ts[len(ts)*9//10]*1e3:6.2f}")
PY
