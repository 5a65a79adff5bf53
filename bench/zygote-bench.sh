#!/usr/bin/env bash
# Start path with and without zygotes (gocker.spawn.zygotes = 0 vs 1): `run --rm --network none
# busybox true` in alternating rounds, a fresh daemon each (bench/ab-bench.sh does the rounds).
# Prints one line per round: median, min and p10 in ms.
# Usage: bench/zygote-bench.sh [ROUNDS] [RUNS] [WARM]   (as root, after ./build.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2}; runs=${2:-200}; warm=${3:-300}
tmp=$(mktemp -d /tmp/gocker-zybench-XXXX)
trap 'rm -rf "$tmp"' EXIT
for z in 0 1; do sed "s/zygotes = [0-9]*/zygotes = $z/" hocon/gocker.hocon >"$tmp/z$z.hocon"; done
bench/ab-bench.sh "$rounds" "$runs" "$warm" "zygotes=0||--config $tmp/z0.hocon|" "zygotes=1||--config $tmp/z1.hocon|"
