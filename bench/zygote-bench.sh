#!/usr/bin/env bash
# Start path with and without zygotes (gocker.spawn.zygotes = 0 vs 1): `run --rm --network none
# busybox true` against two daemons of the same build, one after the other in alternating rounds
# (each round: a fresh daemon, WARM warm-up runs for the JIT, then hyperfine). Prints one line per
# round: median, min and p10 in ms.
# Usage: bench/zygote-bench.sh [ROUNDS] [RUNS] [WARM]   (as root, after ./build.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
rounds=${1:-2}; runs=${2:-200}; warm=${3:-300}
command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine >/dev/null; }
bin=$PWD/artifacts/bin
tmp=$(mktemp -d /tmp/gocker-zybench-XXXX)
trap 'rm -rf "$tmp"' EXIT
one() { # zygotes
  local root=$tmp/z$1 cg=gocker-zb-$1-$$
  mkdir -p "$root"
  sed "s/zygotes = [0-9]*/zygotes = $1/" hocon/gocker.hocon >"$root/gocker.hocon"
  "$bin/gockerd" --config "$root/gocker.hocon" --data-root "$root/data" --exec-root "$root/exec" -H "unix://$root/s.sock" \
    --cgroup-parent $cg --default-network none >"$root/gockerd.log" 2>&1 &
  local pid=$!
  local g="$bin/gocker -H unix://$root/s.sock"
  for _ in $(seq 600); do $g version >/dev/null 2>&1 && break; sleep 0.1; done
  for _ in $(seq "$warm"); do $g run --rm busybox true >/dev/null; done
  hyperfine -N -w 10 -r "$runs" "$g run --rm busybox true" --export-json "$root/h.json" >/dev/null 2>&1
  python3 -c "import json,statistics as s; t=sorted(json.load(open('$root/h.json'))['results'][0]['times']); print('zygotes=$1: median %.1f ms, min %.1f, p10 %.1f' % (s.median(t)*1e3, t[0]*1e3, t[len(t)//10]*1e3))"
  kill $pid; wait $pid 2>/dev/null || true
  rm_cgroup_parent $cg
  rm_daemon_nat_rules "$root/data"
  rm -rf "$root"
}
for _ in $(seq "$rounds"); do one 0; one 1; done
