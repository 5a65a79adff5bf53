#!/usr/bin/env bash
# Measures `gocker exec C true` end to end (whole console process, median) against a warm gockerd on
# its own roots and one running busybox container, and `docker exec` where a docker daemon answers.
# Usage: bench/exec-bench.sh [RUNS]   (as root, after ./build.sh). Prints a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
runs=${1:-200}
command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine >/dev/null; }
bin=$PWD/artifacts/bin
root=$(mktemp -d /tmp/gocker-exec-bench-XXXX)
sock=$root/gocker.sock
"$bin/gockerd" --data-root "$root/data" --exec-root "$root/exec" -H "unix://$sock" --cgroup-parent gocker-exec-bench \
  --default-network none >"$root/gockerd.log" 2>&1 &
daemon=$!
g="$bin/gocker -H unix://$sock"
cleanup() {
  $g rm -f bench-exec >/dev/null 2>&1 || true
  kill $daemon 2>/dev/null; wait $daemon 2>/dev/null; rm_daemon_nat_rules "$root/data"; rm -rf "$root"
  rm_cgroup_parent gocker-exec-bench
}
trap cleanup EXIT
for _ in $(seq 1 200); do curl -sf --unix-socket "$sock" http://d/_ping >/dev/null 2>&1 && break; sleep 0.05; done
$g run -d --name bench-exec busybox sleep 100000 >/dev/null
median() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print("%.1f ms (min %.1f)" % (r["median"]*1000, r["min"]*1000))' "$1"; }
row() { # name, command
  hyperfine -N --warmup 20 --runs "$runs" --export-json "$root/h.json" "$2" >/dev/null 2>&1 && echo "| $1 | $(median "$root/h.json") |" || echo "| $1 | failed |"
}
echo "| command | median |"
echo "|---|---|"
row "gocker exec C true" "$g exec bench-exec true"
row "gocker exec C echo hello" "$g exec bench-exec echo hello"
row "gocker exec -u nobody C true" "$g exec -u nobody bench-exec true"
row "gocker version (console startup, warm daemon)" "$g version"
if command -v docker >/dev/null; then
  # The docker CLI itself against gockerd (same container): its exec is create, an upgraded start
  # with a body (UpgradeBodyConnection), inspect; the difference to gocker's row is the client.
  export DOCKER_CONFIG=$root/docker-config
  row "docker -H gockerd exec C true (the docker CLI against gockerd)" "docker -H unix://$sock exec bench-exec true"
fi
if docker info >/dev/null 2>&1; then
  docker run -d --name gocker-bench-exec --network none busybox sleep 100000 >/dev/null
  row "docker exec C true" "docker exec gocker-bench-exec true"
  docker rm -f gocker-bench-exec >/dev/null
fi
echo
echo "daemon fds after the runs: $(ls /proc/$daemon/fd | wc -l); RSS: $(ps -o rss= -p $daemon) kB"
