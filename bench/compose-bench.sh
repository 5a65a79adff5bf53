#!/usr/bin/env bash
# docker-compose benchmark: `docker-compose up -d` and `down` of the three-service busybox project of
# DockerComposeTests (web, api with a network alias, worker with restart: on-failure, one user network
# with its own subnet) against a private gockerd, RUNS times; prints the medians as a Markdown section.
# Usage: bench/compose-bench.sh [RUNS]   (as root, after ./build.sh; needs Debian's docker-compose 1.29).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
n=${1:-5}
compose=/usr/bin/docker-compose
[ -x $compose ] || { echo "docker-compose is not installed at $compose" >&2; exit 1; }
bin=$PWD/artifacts/bin
root=$(mktemp -d /tmp/gocker-cpbench-XXXX)
sock=$root/gocker.sock
cg=gocker-cpbench-$$
bridge=gcpb$$
# A /21 of its own (default bridge: its first /24, user networks: the rest), none of the host's routes.
block=10.$((200 + RANDOM % 40)).$(( (RANDOM % 32) * 8 ))
base=${block%.*}; third=${block##*.}
"$bin/gockerd" --data-root "$root/data" --exec-root "$root/exec" -H "unix://$sock" --cgroup-parent $cg \
  --bridge $bridge --bridge-subnet "$base.$third.0/24" --address-pool "$base.$((third + 4)).0/22" >"$root/gockerd.log" 2>&1 &
daemon=$!
project=cpb$$
proj_dir=$root/project
cleanup() {
  (cd "$proj_dir" 2>/dev/null && DOCKER_HOST=unix://$sock $compose -p $project down >/dev/null 2>&1) || true
  $bin/gocker -H "unix://$sock" ps -aq 2>/dev/null | xargs -r $bin/gocker -H "unix://$sock" rm -f >/dev/null 2>&1 || true
  kill $daemon 2>/dev/null; wait $daemon 2>/dev/null || true
  rm_daemon_nat_rules "$root/data"
  rm_bench_bridge $bridge "$base.$third.0/24"
  rm -rf "$root"
  rm_cgroup_parent $cg
}
trap cleanup EXIT
for _ in $(seq 1 400); do [ -S "$sock" ] && "$bin/gocker" -H "unix://$sock" version >/dev/null 2>&1 && break; sleep 0.05; done
mkdir -p "$proj_dir"
cat >"$proj_dir/docker-compose.yml" <<YAML
version: "2.4"
services:
  web:
    image: busybox
    command: ["sh", "-c", "mkdir -p /www && echo hello-from-web > /www/index.html; trap 'exit 0' TERM; httpd -f -p 80 -h /www & wait"]
    networks: [appnet]
  api:
    image: busybox
    command: ["sh", "-c", "echo api-started; trap 'exit 0' TERM; while :; do sleep 1; done"]
    networks:
      appnet:
        aliases: [backend]
  worker:
    image: busybox
    restart: on-failure
    command: ["sh", "-c", "if [ -f /ran ]; then echo worker-second-run; trap 'exit 0' TERM; while :; do sleep 1; done; else touch /ran; echo worker-first-run; exit 3; fi"]
    networks: [appnet]
networks:
  appnet:
    ipam:
      config:
        - subnet: $base.$((third + 7)).0/24
YAML
cd "$proj_dir"
export DOCKER_HOST=unix://$sock DOCKER_CONFIG=$root/docker-config
ms() { python3 -c 'import time; print(int(time.monotonic()*1000))'; }
"$bin/gocker" -H "unix://$sock" run --rm busybox true   # warm-up: busybox image, the daemon's JIT of the start path
ups=(); downs=()
for i in $(seq 0 "$n"); do
  t0=$(ms); $compose -p $project up -d >/dev/null 2>&1; t1=$(ms)
  # The project works before it goes: a service name resolves from another service.
  $compose -p $project exec -T api wget -qO- http://web/ | grep -q hello-from-web
  t2=$(ms); $compose -p $project down >/dev/null 2>&1; t3=$(ms)
  left=$("$bin/gocker" -H "unix://$sock" ps -aq | wc -l)
  [ "$left" = 0 ] || { echo "containers left after down: $left" >&2; exit 1; }
  # Run 0 is a warm-up (the daemon's first compose requests, python's caches).
  [ "$i" = 0 ] && continue
  ups+=($((t1 - t0))); downs+=($((t3 - t2)))
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
echo "## docker-compose 1.29 against gockerd (bench/compose-bench.sh $n, $(date -u +%F))"
echo
echo "| measure (3 busybox services, 1 user network, $n runs after 1 warm-up) | median | runs (ms) |"
echo "|---|---|---|"
echo "| \`docker-compose up -d\` (whole command) | $(median "${ups[@]}") ms | ${ups[*]} |"
echo "| \`docker-compose down\` (whole command) | $(median "${downs[@]}") ms | ${downs[*]} |"
