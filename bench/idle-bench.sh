#!/usr/bin/env bash
# What an idle daemon costs (issue #22): CPU (% of one core), wakeups (context switches a second, all
# threads, from `perf stat`) and RSS, over SECS seconds in four phases: fresh (nothing ever ran), after
# 20 `run --rm`, with N sleeping containers, and after removing them. Variants run side by side and are
# measured at the same time (this machine's speed drifts within minutes), e.g. Gocker's scheduler
# against Akka's default. dockerd/containerd are measured beside them where installed.
# Usage: bench/idle-bench.sh [SECS=60] [N=100] ['LABEL|DAEMON-ARGS' ...]   (as root, after ./build.sh)
#   default variants: 'timer-queue|' (the shipped hocon) and 'akka-wheel|--config FILE' (the same hocon
#   with Akka's HashedWheelTimerScheduler, the scheduler before #22).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
secs=${1:-60}; n=${2:-100}; shift $(( $# >= 2 ? 2 : $# ))
bin=$PWD/artifacts/bin
tmp=$(mktemp -d /tmp/gocker-idle-XXXX)
wheel=$tmp/wheel.hocon
sed 's/^\(  scheduler.implementation = \).*/\1"Akka.Actor.HashedWheelTimerScheduler"/' hocon/gocker.hocon >"$wheel"
grep -q HashedWheelTimerScheduler "$wheel" || { echo "hocon/gocker.hocon has no akka.scheduler.implementation line" >&2; exit 1; }
[ $# -gt 0 ] || set -- 'timer-queue|' "akka-wheel|--config $wheel"
pids=(); labels=(); socks=(); i=0
cleanup() {
  for j in $(seq 0 $((i - 1))); do
    "$bin/gocker" -H "unix://${socks[$j]}" ps -aq 2>/dev/null | xargs -r "$bin/gocker" -H "unix://${socks[$j]}" rm -f >/dev/null 2>&1 || true
  done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for j in $(seq 0 $((i - 1))); do rm_cgroup_parent "gocker-idle-$j-$$"; done
  rm -rf "$tmp"
}
trap cleanup EXIT
for v in "$@"; do
  IFS='|' read -r label args <<<"$v"
  r=$tmp/v$i; mkdir -p "$r"
  # shellcheck disable=SC2086 # DAEMON-ARGS is a word list
  "$bin/gockerd" --data-root "$r/data" --exec-root "$r/exec" -H "unix://$r/s.sock" \
    --cgroup-parent "gocker-idle-$i-$$" --default-network none $args >"$r/gockerd.log" 2>&1 &
  pids+=($!); labels+=("$label"); socks+=("$r/s.sock"); i=$((i + 1))
done
for s in "${socks[@]}"; do
  for _ in $(seq 600); do "$bin/gocker" -H "unix://$s" version >/dev/null 2>&1 && break; sleep 0.1; done
done
others=()
for d in dockerd containerd; do
  p=$(pgrep -xo "$d" || true)
  if [ -n "$p" ]; then others+=("$d|$p"); else echo "$d: not running here, not measured"; fi
done

measure() { # PHASE: all variants at once, SECS seconds
  local phase=$1 all=() j p ms=()
  for j in $(seq 0 $((i - 1))); do all+=("${labels[$j]}|${pids[$j]}"); done
  all+=("${others[@]}")
  for v in "${all[@]}"; do
    ( label=${v%%|*}; p=${v#*|}
      t0=$(awk '{print $14+$15}' "/proc/$p/stat")
      cs=$(perf stat -x, -e context-switches -p "$p" -- sleep "$secs" 2>&1 | awk -F, '/context-switches/{print $1}')
      t1=$(awk '{print $14+$15}' "/proc/$p/stat")
      rss=$(awk '/VmRSS/{print int($2/1024)}' "/proc/$p/status")
      awk -v ph="$phase" -v l="$label" -v d=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v s="$secs" -v cs="$cs" -v rss="$rss" \
        'BEGIN{printf "%-22s %-14s cpu %6.2f%%  wakeups %8.1f/s  rss %4d MiB\n", ph, l, 100*d/hz/s, cs/s, rss}' ) &
    ms+=($!)
  done
  wait "${ms[@]}" # not a bare wait: the daemons are children too
}

sleep 15 # the daemons' start-up work (the JIT's background tiering) is not idle cost
measure fresh
for j in $(seq 0 $((i - 1))); do
  for _ in $(seq 20); do "$bin/gocker" -H "unix://${socks[$j]}" run --rm busybox true >/dev/null; done
done
sleep 5 # let the last exits' work (and the JIT's tiering of what just ran) finish
measure "after-20-runs"
for j in $(seq 0 $((i - 1))); do
  for _ in $(seq "$n"); do "$bin/gocker" -H "unix://${socks[$j]}" run -d busybox sleep 1d >/dev/null; done
done
sleep 5
measure "$n-sleeping"
for j in $(seq 0 $((i - 1))); do
  "$bin/gocker" -H "unix://${socks[$j]}" ps -aq | xargs -r "$bin/gocker" -H "unix://${socks[$j]}" rm -f >/dev/null
done
sleep 5
measure "after-rm"
