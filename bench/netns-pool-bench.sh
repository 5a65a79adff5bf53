#!/usr/bin/env bash
# Networking cost per start with and without the netns pool: two warm daemons of the same build,
# one with --netns-pool 0 (every start runs its CNI ADD) and one with --netns-pool 2, measured in
# interleaved rounds (the machine is shared: A/B in turns, so load hits both alike).
# Usage: bench/netns-pool-bench.sh [ROUNDS] [RUNS_PER_ROUND]   (as root, after ./build.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
rounds=${1:-5}
runs=${2:-40}
command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine >/dev/null; }
bin=$PWD/artifacts/bin
root=$(mktemp -d /tmp/gocker-poolbench-XXXX)
declare -A pids
start() { # name pool bridge subnet
  "$bin/gockerd" --data-root "$root/$1/data" --exec-root "$root/$1/exec" -H "unix://$root/$1.sock" --cgroup-parent "gocker-pb-$1" \
    -b "$3" --bridge-subnet "$4" --netns-pool "$2" >"$root/$1.log" 2>&1 &
  pids[$1]=$!
}
start p0 0 gkpb0 10.233.0.0/24
start p2 2 gkpb2 10.233.1.0/24
cleanup() {
  for n in p0 p2; do kill "${pids[$n]}" 2>/dev/null; wait "${pids[$n]}" 2>/dev/null || true; done
  grep -h -A1 "netns pool" "$root"/p2.log 2>/dev/null | grep -o "netns pool.*" || true
  rm_bench_bridge gkpb0 10.233.0.0/24
  rm_bench_bridge gkpb2 10.233.1.0/24
  rm -rf "$root"
  rm_cgroup_parent gocker-pb-p0; rm_cgroup_parent gocker-pb-p2
}
trap cleanup EXIT
for n in p0 p2; do
  for _ in $(seq 1 200); do curl -sf --unix-socket "$root/$n.sock" http://d/_ping >/dev/null 2>&1 && break; sleep 0.05; done
  g="$bin/gocker -H unix://$root/$n.sock"
  # Warm the JIT on both paths (as run-bench.sh does).
  for _ in $(seq 1 ${GOCKER_BENCH_WARM:-300}); do $g run --rm --network none busybox true; $g run --rm busybox true; done
done
for r in $(seq 1 "$rounds"); do
  for n in p0 p2; do
    g="$bin/gocker -H unix://$root/$n.sock"
    hyperfine -N --warmup 5 --runs "$runs" --export-json "$root/$n-none-$r.json" "$g run --rm --network none busybox true" >/dev/null 2>&1
    hyperfine -N --warmup 5 --runs "$runs" --export-json "$root/$n-bridge-$r.json" "$g run --rm busybox true" >/dev/null 2>&1
    hyperfine -N --warmup 5 --runs "$runs" --export-json "$root/$n-d-$r.json" "$g run -d --rm busybox true" >/dev/null 2>&1
  done
done
python3 - "$root" "$rounds" <<'PY'
import json, sys, statistics
root, rounds = sys.argv[1], int(sys.argv[2])
print("| daemon | command | median ms | min ms |")
print("|---|---|---|---|")
for n, label in (("p0", "--netns-pool 0"), ("p2", "--netns-pool 2")):
    for k, cmd in (("none", "run --rm --network none busybox true"), ("bridge", "run --rm busybox true"), ("d", "run -d --rm busybox true (bridge)")):
        t = []
        for r in range(1, rounds + 1):
            t += json.load(open(f"{root}/{n}-{k}-{r}.json"))["results"][0]["times"]
        print(f"| {label} | {cmd} | {statistics.median(t)*1000:.1f} | {min(t)*1000:.1f} |")
PY
