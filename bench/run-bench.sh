#!/usr/bin/env bash
# Measures `gocker run --rm busybox true` end to end (whole process, median of many runs) against a
# warm gockerd on its own roots, and the same with crun, runc and docker where installed.
# Usage: bench/run-bench.sh [RUNS]   (as root, after ./build.sh). Prints a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
runs=${1:-200}
command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine >/dev/null; }
bin=$PWD/artifacts/bin
root=$(mktemp -d /tmp/gocker-bench-XXXX)
sock=$root/gocker.sock
"$bin/gockerd" --data-root "$root/data" --exec-root "$root/exec" -H "unix://$sock" --cgroup-parent gocker-bench \
  -b gkbench0 --bridge-subnet 10.231.0.0/24 >"$root/gockerd.log" 2>&1 &
daemon=$!
cleanup() {
  kill $daemon 2>/dev/null; wait $daemon 2>/dev/null || true
  rm_bench_bridge gkbench0 10.231.0.0/24
  rm -rf "$root"
  rm_cgroup_parent gocker-bench
}
trap cleanup EXIT
for _ in $(seq 1 200); do curl -sf --unix-socket "$sock" http://d/_ping >/dev/null 2>&1 && break; sleep 0.05; done
g="$bin/gocker -H unix://$sock"
$g run --rm busybox true   # builds the busybox image once
# A fresh daemon runs its first few hundred starts while the JIT is still re-compiling the hot
# paths (tiered compilation and PGO: ~1,100 starts): report that phase on its own, then measure the warm daemon.
hyperfine -N --runs 100 --export-json "$root/fresh.json" "$g run --rm --network none busybox true" >/dev/null 2>&1
fresh=$(python3 -c 'import json,sys; print("%.1f" % (json.load(open(sys.argv[1]))["results"][0]["median"]*1000))' "$root/fresh.json")
for _ in $(seq 1 ${GOCKER_BENCH_WARM:-1200}); do $g run --rm --network none busybox true; done
favor=$(grep -o favordynmods /proc/mounts | head -1); echo "cgroup favordynmods: ${favor:-off}"
# "median ms | min ms" (the min shows the path's own cost when other jobs share the cores)
median() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print("%.1f ms | %.1f" % (r["median"]*1000, r["min"]*1000))' "$1"; }
row() { # name, command
  hyperfine -N --warmup 20 --runs "$runs" --export-json "$root/h.json" "$2" >/dev/null 2>&1 && echo "| $1 | $(median "$root/h.json") ms |" || echo "| $1 | failed | |"
}
echo "| command | median | min |"
echo "|---|---|---|"
echo "| gocker run --rm --network none busybox true, first 100 runs of a fresh daemon | $fresh ms | |"
row "gocker run --rm --network none busybox true" "$g run --rm --network none busybox true"
row "gocker run --rm --network none busybox echo hello" "$g run --rm --network none busybox echo hello"
row "gocker run --rm busybox true (default bridge network)" "$g run --rm busybox true"
row "gocker version (console startup, warm daemon)" "$g version"
row "unshare -uinpm --fork true (floor, no rootfs)" "unshare -uinpm --fork true"
# The OCI runtimes, where installed, on a bundle of the same static busybox (read-only root, no
# network namespace setup beyond runc's default spec): the peers' rows, measured in the same minutes.
for rt in crun runc; do
  command -v $rt >/dev/null || continue
  bundle=$root/bundle-$rt
  mkdir -p "$bundle/rootfs/bin" "$bundle/rootfs/proc" "$bundle/rootfs/dev" "$bundle/rootfs/sys"
  cp /bin/busybox "$bundle/rootfs/bin/"; ln -s busybox "$bundle/rootfs/bin/true"
  (cd "$bundle" && $rt spec && python3 -c 'import json; s=json.load(open("config.json")); s["process"]["terminal"]=False; s["process"]["args"]=["/bin/true"]; s["root"]["readonly"]=True; json.dump(s,open("config.json","w"))')
  if (cd "$bundle" && $rt run gocker-bench-probe >/dev/null 2>&1); then
    (cd "$bundle" && row "$rt run (busybox true, OCI bundle)" "$rt run gocker-bench-$rt")
  else echo "| $rt run | refuses this machine's cgroup layout |"; fi
done
if docker info >/dev/null 2>&1; then row "docker run --rm --network none busybox true" "docker run --rm --network none busybox true"; fi
echo
echo "daemon RSS after the runs: $(ps -o rss= -p $daemon) kB"
