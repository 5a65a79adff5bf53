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
# Each round: `gocker ps` as a user runs it (a whole console process), then the same request on
# the API from this already-running client (a new connection, `GET /containers/json`): the API's
# own latency under the storm, without a process start that waits for a core.
python3 - "$secs" "$daemon" "$bin/gocker" "unix://$sock" "$sock" >"$root/samples" <<'PY'
import socket, subprocess, sys, time
secs, pid, gocker, host, path = float(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
def api():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(b"GET /containers/json HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n")
    data = b""
    while chunk := s.recv(65536): data += chunk
    s.close()
    assert data.startswith(b"HTTP/1.1 200"), data[:80]
end = time.time() + secs
lat, api_lat, rss, last = [], [], [], 0
while time.time() < end:
    t0 = time.perf_counter()
    subprocess.run([gocker, "-H", host, "ps"], stdout=subprocess.DEVNULL, check=True)
    lat.append((time.perf_counter() - t0) * 1000)
    t0 = time.perf_counter()
    api()
    api_lat.append((time.perf_counter() - t0) * 1000)
    if time.time() - last >= 1:
        last = time.time()
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS"): rss.append(int(line.split()[1]))
    time.sleep(0.05)
def q(l, p):
    l = sorted(l)
    return l[min(len(l) - 1, int(p * len(l)))]
print(f"{len(lat)} {q(lat, 0.5):.1f} {q(lat, 0.99):.1f} {max(lat):.1f} {rss[0]} {rss[len(rss)//2]} {rss[-1]} "
      f"{q(api_lat, 0.5):.1f} {q(api_lat, 0.99):.1f} {max(api_lat):.1f}")
PY
read -r count p50 p99 pmax rssA rssM rssB a50 a99 amax < "$root/samples"
restarts=$($g inspect $($g ps -aq) | python3 -c 'import json,sys; print(sum(c["RestartCount"] for c in json.load(sys.stdin)))')
echo "### Crash-loop storm (\`bench/storm-bench.sh $n $secs\`)"
echo
echo "$n containers \`--restart always --restart-delay 0 busybox sh -c 'sleep 0.1'\`, ${secs} s."
echo
echo "| measure | value |"
echo "|---|---|"
echo "| restarts done (all containers) | $restarts ($(( restarts / ${secs%.*} )) per second) |"
echo "| \`gocker ps\` under the storm: median / p99 / max ($count samples) | $p50 / $p99 / $pmax ms |"
echo "| API \`GET /containers/json\` (new connection each) under the storm: median / p99 / max | $a50 / $a99 / $amax ms |"
echo "| daemon RSS before the containers / first second / middle / end | $((rss0/1024)) / $((rssA/1024)) / $((rssM/1024)) / $((rssB/1024)) MB |"
