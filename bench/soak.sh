#!/usr/bin/env bash
# Soak: N cycles against a private gockerd, printing leak counts at the start and every 1,000 cycles.
# A cycle is one `run --rm busybox true`, alternately on --network none and on the soak's own bridge
# network (veth, IP, NAT rule per run); every 10th cycle also a `run -d ... sleep 100` then `rm -f`.
# Counted (all scoped to this daemon, so other daemons on the host do not disturb the figures):
#   mounts   lines of /proc/self/mountinfo under the daemon's roots
#   cgroups  directories under the daemon's cgroup parent, every hierarchy
#   veths    links whose master is the soak network's bridge
#   rules    iptables rules (filter and nat) naming that bridge or its subnet
#   netns    files under the exec root's netns dir (pins, pooled namespaces)
#   fds      the daemon's open descriptors;  threads  its threads;  rss  its VmRSS (MiB)
#   ctrs     containers it lists (ps -a), which must stay 0
# Usage: bench/soak.sh [N] [SUBNET]   (as root, after ./build.sh). Default N 10000, SUBNET 10.251.0.0/24.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
n=${1:-10000}
subnet=${2:-10.251.0.0/24}
bin=${GOCKER_SOAK_BIN:-$PWD/artifacts/bin}   # another build: GOCKER_SOAK_BIN=DIR
root=$(mktemp -d /tmp/gocker-soak-XXXX)
sock=$root/gocker.sock
cg=gocker-soak-$$
"$bin/gockerd" --data-root "$root/data" --exec-root "$root/exec" -H "unix://$sock" --cgroup-parent $cg \
  --default-network none ${GOCKER_SOAK_DAEMON_ARGS:-} >"$root/gockerd.log" 2>&1 &
daemon=$!
g="$bin/gocker -H unix://$sock"
bridge=
cleanup() {
  $g ps -aq 2>/dev/null | xargs -r $g rm -f >/dev/null 2>&1 || true
  $g network rm soaknet >/dev/null 2>&1 || true
  kill $daemon 2>/dev/null; wait $daemon 2>/dev/null || true
  rm_daemon_nat_rules "$root/data"
  [ -n "$bridge" ] && rm_bench_bridge "$bridge" "$subnet"
  if [ -n "${GOCKER_SOAK_KEEP_LOG:-}" ]; then cp "$root/gockerd.log" "$GOCKER_SOAK_KEEP_LOG"; fi
  rm -rf "$root"
  rm_cgroup_parent $cg
}
trap cleanup EXIT
# A stop by signal (kill PID, ^C) still cleans up: EXIT runs through exit.
trap 'exit 143' TERM; trap 'exit 130' INT
for _ in $(seq 1 400); do [ -S "$sock" ] && $g version >/dev/null 2>&1 && break; sleep 0.05; done
netid=$($g network create --subnet "$subnet" soaknet)
bridge=gk-${netid:0:12}
counts() {
  local mounts cgroups veths rules netns fds threads rss ctrs
  mounts=$(grep -c -e "$root" /proc/self/mountinfo || true)
  cgroups=$(find /sys/fs/cgroup -maxdepth 3 -type d -path "*/$cg*" 2>/dev/null | wc -l)
  veths=$(ip -o link show master "$bridge" 2>/dev/null | wc -l)
  rules=$( { iptables-save -t filter; iptables-save -t nat; } | grep -c -e "$bridge" -e "$subnet" || true)
  netns=$(find "$root/exec" -path '*netns*' -type f 2>/dev/null | wc -l)
  fds=$(ls /proc/$daemon/fd | wc -l)
  threads=$(awk '/^Threads/ {print $2}' /proc/$daemon/status)
  rss=$(awk '/^VmRSS/ {printf "%.1f", $2/1024}' /proc/$daemon/status)
  ctrs=$($g ps -aq | wc -l)
  printf '| %6d | %6d | %7d | %5d | %5d | %5d | %4d | %7d | %6s | %4d | %s |\n' "$1" "$mounts" "$cgroups" "$veths" "$rules" "$netns" "$fds" "$threads" "$rss" "$ctrs" "$(date -u +%T)"
}
echo "### Soak: $n cycles (\`bench/soak.sh $n\`), $(date -u +%F), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| cycles | mounts | cgroups | veths | rules | netns | fds | threads | rss MiB | ctrs | time |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
# Warm-up outside the counts: the image, the JIT, the pools' first fill.
for _ in $(seq 1 20); do $g run --rm busybox true; $g run --rm --network soaknet busybox true; done
sleep 2
counts 0
failures=0
for i in $(seq 1 "$n"); do
  if (( i % 2 )); then net=none; else net=soaknet; fi
  $g run --rm --network $net busybox true || failures=$((failures + 1))
  if (( i % 10 == 0 )); then
    id=$($g run -d --network $net busybox sleep 100) || failures=$((failures + 1))
    $g rm -f "$id" >/dev/null || failures=$((failures + 1))
  fi
  if (( i % 1000 == 0 )); then sleep 2; counts "$i"; fi
done
echo
echo "failed commands: $failures; daemon log errors: $(grep -ci -e error -e exception "$root/gockerd.log" || true)"
