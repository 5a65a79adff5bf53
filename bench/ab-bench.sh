#!/usr/bin/env bash
# A/B of the start path: `run --rm --network none busybox true` against variants of the daemon (its
# environment, its flags) or of the console, in alternating rounds (each round: a fresh daemon, WARM
# warm-up runs for the JIT, then hyperfine). One line per round: median, min and p10 in ms.
# Usage: bench/ab-bench.sh ROUNDS RUNS WARM 'LABEL|ENV|DAEMON-ARGS|CONSOLE' ...   (as root, after ./build.sh)
#   ENV: space-separated NAME=VALUE for gockerd (or empty); CONSOLE: a gocker binary (empty: artifacts/bin/gocker).
# Example: bench/ab-bench.sh 3 150 300 'wx-on|||' 'wx-off|DOTNET_EnableWriteXorExecute=0||'
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
rounds=${1:?rounds}; runs=${2:?runs}; warm=${3:?warm}; shift 3
command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine >/dev/null; }
bin=$PWD/artifacts/bin
tmp=$(mktemp -d /tmp/gocker-ab-XXXX)
trap 'rm -rf "$tmp"' EXIT
one() { # index, variant
  local label env args console
  IFS='|' read -r label env args console <<<"$2"
  local root=$tmp/v$1 cg=gocker-ab-$1-$$
  mkdir -p "$root"
  # shellcheck disable=SC2086 # ENV and DAEMON-ARGS are word lists
  env $env "$bin/gockerd" --data-root "$root/data" --exec-root "$root/exec" -H "unix://$root/s.sock" \
    --cgroup-parent $cg --default-network none $args >"$root/gockerd.log" 2>&1 &
  local pid=$!
  local g="${console:-$bin/gocker} -H unix://$root/s.sock"
  for _ in $(seq 600); do $g version >/dev/null 2>&1 && break; sleep 0.1; done
  for _ in $(seq "$warm"); do $g run --rm busybox true >/dev/null; done
  hyperfine -N -w 10 -r "$runs" "$g run --rm busybox true" --export-json "$root/h.json" >/dev/null 2>&1
  python3 -c "import json,statistics as s; t=sorted(json.load(open('$root/h.json'))['results'][0]['times']); print('%-12s median %.1f ms, min %.1f, p10 %.1f' % ('$label', s.median(t)*1e3, t[0]*1e3, t[len(t)//10]*1e3))"
  kill $pid; wait $pid 2>/dev/null || true
  rm_cgroup_parent $cg
  rm_daemon_nat_rules "$root/data"
  rm -rf "$root"
}
for _ in $(seq "$rounds"); do
  i=0
  for v in "$@"; do one $i "$v"; i=$((i + 1)); done
done
