#!/usr/bin/env bash
# Crash-loop storm: N containers under `--restart always --restart-delay 0` whose command exits
# after 100 ms, for DURATION seconds. Meanwhile `gocker ps` is timed in a loop (whole console
# process: the API's answer under load) and the daemon's RSS sampled every second; restarts done
# are summed from inspect at the end. Usage: bench/storm-bench.sh [N] [DURATION]
# (as root, after ./build.sh). Prints a Markdown section.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
n=${1:-200}
secs=${2:-60}
bin=${GOCKER_BENCH_BIN:-$PWD/artifacts/bin}
root=$(mktemp -d /tmp/gocker-storm-XXXX)
sock=$root/gocker.sock
cg=gocker-storm-$$
"$bin/gockerd" --data-root "$root/data" --exec-root "$root/exec" -H "unix://$sock" --cgroup-parent $cg \
  --default-network none >"$root/gockerd.log" 2>&1 &
daemon=$!
g="$bin/gocker -H unix://$sock"
cleanup() {
  $g ps -aq 2>/dev/null | xargs -r $g rm -f >/dev/null 2>&1 || true
  kill $daemon 2>/dev/null; wait $daemon 2>/dev/null || true
  rm_daemon_nat_rules "$root/data"
  rm -rf "$root"
  rm_cgroup_parent $cg
}
trap cleanup EXIT
for _ in $(seq 1 400); do [ -S "$sock" ] && $g version >/dev/null 2>&1 && break; sleep 0.05; done
for _ in 1 2 3; do $g run --rm busybox true; done
rss() { awk '/^VmRSS/ {print $2}' /proc/$daemon/status; }
rss0=$(rss)
for i in $(seq 1 "$n"); do
  $g run -d --restart always --restart-delay 0 --name "storm$i" busybox sh -c 'sleep 0.1' >/dev/null
done
python3 - "$secs" "$daemon" "$bin/gocker" "unix://$sock" >"$root/samples" <<'PY'
import subprocess, sys, time
secs, pid, gocker, host = float(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
end = time.time() + secs
lat, rss, last = [], [], 0
while time.time() < end:
    t0 = time.perf_counter()
    subprocess.run([gocker, "-H", host, "ps"], stdout=subprocess.DEVNULL, check=True)
    lat.append((time.perf_counter() - t0) * 1000)
    if time.time() - last >= 1:
        last = time.time()
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS"): rss.append(int(line.split()[1]))
    time.sleep(0.05)
lat.sort()
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
print(f"{len(lat)} {q(0.5):.1f} {q(0.99):.1f} {lat[-1]:.1f} {rss[0]} {rss[len(rss)//2]} {rss[-1]}")
PY
read -r count p50 p99 pmax rssA rssM rssB < "$root/samples"
restarts=$($g inspect $($g ps -aq) | python3 -c 'import json,sys; print(sum(c["RestartCount"] for c in json.load(sys.stdin)))')
echo "### Crash-loop storm (\`bench/storm-bench.sh $n $secs\`)"
echo
echo "$n containers \`--restart always --restart-delay 0 busybox sh -c 'sleep 0.1'\`, ${secs} s."
echo
echo "| measure | value |"
echo "|---|---|"
echo "| restarts done (all containers) | $restarts ($(( restarts / ${secs%.*} )) per second) |"
echo "| \`gocker ps\` under the storm: median / p99 / max ($count samples) | $p50 / $p99 / $pmax ms |"
echo "| daemon RSS before the containers / first second / middle / end | $((rss0/1024)) / $((rssA/1024)) / $((rssM/1024)) / $((rssB/1024)) MB |"
