#!/usr/bin/env bash
# Pull benchmark (#25): a ~100 MB three-layer image from a local registry (Debian's docker-registry on
# loopback), pulled by gockerd cold, with two of its three layers present, and with all present; paired
# in each round with `skopeo copy` of the same image to a local directory (what skopeo's own fetch and
# verification cost). Usage: bench/pull-bench.sh [ROUNDS] (as root, after ./build.sh). Prints Markdown.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
rounds=${1:-3}
bin=$PWD/artifacts/bin
root=$(mktemp -d /tmp/gocker-pbench-XXXX)
sock=$root/gocker.sock
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
reg=127.0.0.1:$port
mkdir -p "$root/storage"
cat >"$root/registry.yml" <<YML
version: 0.1
log: { level: error, accesslog: { disabled: true } }
storage: { filesystem: { rootdirectory: $root/storage } }
http: { addr: $reg, secret: bench }
YML
/usr/bin/docker-registry serve "$root/registry.yml" >"$root/registry.log" 2>&1 &
registry=$!
"$bin/gockerd" --data-root "$root/data" --exec-root "$root/exec" -H "unix://$sock" --cgroup-parent gocker-pbench >"$root/gockerd.log" 2>&1 &
daemon=$!
trap 'kill $daemon $registry 2>/dev/null; wait $daemon $registry 2>/dev/null; rm_daemon_nat_rules "$root/data"; rm -rf "$root"; rm_cgroup_parent gocker-pbench; true' EXIT
for _ in $(seq 1 200); do curl -sf --unix-socket "$sock" http://d/_ping >/dev/null 2>&1 && curl -sf "http://$reg/v2/" >/dev/null 2>&1 && break; sleep 0.05; done
g="$bin/gocker -H unix://$sock"

# Three layers of ~33 MB each (incompressible: gzip keeps their size), busybox in the first.
for n in 1 2 3; do
  d=$root/l$n; mkdir -p "$d/data$n"
  if [ $n = 1 ]; then mkdir -p "$d/bin"; cp /bin/busybox "$d/bin/busybox"; ln -s busybox "$d/bin/sh"; ln -s busybox "$d/bin/true"; fi
  for i in $(seq 1 200); do head -c 65536 /dev/urandom >"$d/data$n/small$i"; done   # 13 MB in 200 files
  for i in 1 2; do head -c 10M /dev/urandom >"$d/data$n/big$i"; done                 # 20 MB in 2 files
  tar -C "$d" --numeric-owner -cf "$root/layer$n.tar" .
done
python3 - "$root" <<'PY'
import gzip, hashlib, json, os, sys
root = sys.argv[1]
def layout(name, layers):
    d = f"{root}/{name}"; os.makedirs(f"{d}/blobs/sha256", exist_ok=True)
    def put(b):
        h = hashlib.sha256(b).hexdigest(); open(f"{d}/blobs/sha256/{h}", "wb").write(b); return h
    diffs, descs = [], []
    for l in layers:
        raw = open(f"{root}/layer{l}.tar", "rb").read()
        diffs.append("sha256:" + hashlib.sha256(raw).hexdigest())
        gz = gzip.compress(raw, compresslevel=1, mtime=0)
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "sha256:" + put(gz), "size": len(gz)})
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]}, "rootfs": {"type": "layers", "diff_ids": diffs}}).encode()
    m = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + put(cfg), "size": len(cfg)},
                    "layers": descs}).encode()
    idx = {"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + put(m), "size": len(m),
                                               "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}
    open(f"{d}/index.json", "w").write(json.dumps(idx)); open(f"{d}/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
layout("full", [1, 2, 3]); layout("two", [1, 2])
PY
skopeo copy -q --dest-tls-verify=false "oci:$root/full:latest" "docker://$reg/bench/full:v1"
skopeo copy -q --dest-tls-verify=false "oci:$root/two:latest" "docker://$reg/bench/two:v1"
size=$(du -cb "$root"/full/blobs/sha256/* | tail -1 | cut -f1)

ms() { local s e; s=$(date +%s%N); "$@" >/dev/null; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
cold=() warm=() present=() sk=()
for r in $(seq 1 "$rounds"); do
  sync
  cold+=("$(ms $g pull -q "$reg/bench/full:v1")")
  present+=("$(ms $g pull -q "$reg/bench/full:v1")")
  $g rmi "$reg/bench/full:v1" >/dev/null
  $g pull -q "$reg/bench/two:v1" >/dev/null
  warm+=("$(ms $g pull -q "$reg/bench/full:v1")")
  $g rmi "$reg/bench/full:v1" "$reg/bench/two:v1" >/dev/null
  rm -rf "$root/skopeo-out"
  sk+=("$(ms skopeo copy -q --src-tls-verify=false "docker://$reg/bench/full:v1" "dir:$root/skopeo-out")")
done
mb=$(python3 -c "print('%.1f' % ($size/1048576))")
c=$(printf '%s\n' "${cold[@]}" | median); w=$(printf '%s\n' "${warm[@]}" | median)
p=$(printf '%s\n' "${present[@]}" | median); s=$(printf '%s\n' "${sk[@]}" | median)
rate() { python3 -c "print('%.0f' % ($size/1048576/($1/1000)))"; }
echo "## Pull (bench/pull-bench.sh $rounds, $(date -u +%Y-%m-%d))"
echo
echo "Image: 3 layers, $mb MB of gzip blobs (incompressible data), from docker-registry on loopback; medians of $rounds rounds, each round pairs every case."
echo
echo "| case | median | throughput | all rounds (ms) |"
echo "|---|---|---|---|"
echo "| gocker pull, cold (download + verify + unpack) | $c ms | $(rate "$c") MB/s | ${cold[*]} |"
echo "| skopeo copy to dir: (download + verify only) | $s ms | $(rate "$s") MB/s | ${sk[*]} |"
echo "| gocker pull, two of three layers present | $w ms | | ${warm[*]} |"
echo "| gocker pull, every layer present | $p ms | | ${present[*]} |"
