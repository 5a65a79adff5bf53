#!/usr/bin/env bash
# Testcontainers for .NET benchmark: one test's whole lifetime (TestcontainersLifetimeTests: create a
# user network and a named volume, start a busybox httpd container with a published port, an HTTP
# wait on it and an exec wait, a file mapped in, exec, copy in, read a file back, a second container
# fetching the page by the network alias, dispose of everything) against a private gockerd, RUNS
# times after one warm-up; prints the median as a Markdown section. Every run asserts what the test
# asserts (the page served, the alias resolved, the volume's file kept, nothing left).
# Usage: bench/testcontainers-bench.sh [RUNS]   (as root, after ./build.sh; builds the test project).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
n=${1:-5}
bin=$PWD/artifacts/bin
root=$(mktemp -d /tmp/gocker-tcbench-XXXX)
sock=$root/gocker.sock
cg=gocker-tcbench-$$
bridge=gtcb$$
# A /21 of its own (default bridge: its first /24, user networks: the rest), none of the host's routes.
block=10.$((200 + RANDOM % 40)).$(( (RANDOM % 32) * 8 ))
base=${block%.*}; third=${block##*.}
dotnet build tests/Gocker.Tests -c Release -v quiet -nologo >/dev/null
"$bin/gockerd" --data-root "$root/data" --exec-root "$root/exec" -H "unix://$sock" --cgroup-parent $cg \
  --bridge $bridge --bridge-subnet "$base.$third.0/24" --address-pool "$base.$((third + 4)).0/22" >"$root/gockerd.log" 2>&1 &
daemon=$!
cleanup() {
  $bin/gocker -H "unix://$sock" ps -aq 2>/dev/null | xargs -r $bin/gocker -H "unix://$sock" rm -f >/dev/null 2>&1 || true
  kill $daemon 2>/dev/null; wait $daemon 2>/dev/null || true
  rm_daemon_nat_rules "$root/data"
  rm_bench_bridge $bridge "$base.$third.0/24"
  rm -rf "$root"
  rm_cgroup_parent $cg
}
trap cleanup EXIT
for _ in $(seq 1 400); do [ -S "$sock" ] && "$bin/gocker" -H "unix://$sock" version >/dev/null 2>&1 && break; sleep 0.05; done
"$bin/gocker" -H "unix://$sock" run --rm busybox true   # the busybox image, the daemon's JIT of the start path
out=$root/runs.txt
GOCKER_TC_BENCH_SOCKET=$sock GOCKER_TC_BENCH_DATA_ROOT=$root/data GOCKER_TC_BENCH_RUNS=$n GOCKER_TC_BENCH_OUT=$out \
  dotnet test tests/Gocker.Tests -c Release --no-build -nologo \
  --filter "FullyQualifiedName~TestcontainersLifetimeTests.Bench" >"$root/test.log" 2>&1 || { cat "$root/test.log" >&2; exit 1; }
[ -s "$out" ] || { echo "the bench test wrote no timings (was it skipped?)" >&2; cat "$root/test.log" >&2; exit 1; }
left=$("$bin/gocker" -H "unix://$sock" ps -aq | wc -l)
[ "$left" = 0 ] || { echo "containers left: $left" >&2; exit 1; }
mapfile -t runs <"$out"
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
echo "## Testcontainers for .NET 4.17 against gockerd (bench/testcontainers-bench.sh $n, $(date -u +%F))"
echo
echo "| measure ($n runs after 1 warm-up) | median | runs (ms) |"
echo "|---|---|---|"
echo "| one test's lifetime: network + volume create, start with port and exec waits, exec, copy in/out, alias from a 2nd container, dispose all | $(median "${runs[@]}") ms | ${runs[*]} |"
