#!/usr/bin/env bash
# Image benchmark: `gocker load` of a ~100 MB docker-save image (MB/s), the first `run` from it, and
# `commit` of a container with 50 MB of changes. Usage: bench/image-bench.sh (as root, after ./build.sh).
# Prints a Markdown section (append it to bench/RESULTS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
bin=$PWD/artifacts/bin
root=$(mktemp -d /tmp/gocker-ibench-XXXX)
sock=$root/gocker.sock
"$bin/gockerd" --data-root "$root/data" --exec-root "$root/exec" -H "unix://$sock" --cgroup-parent gocker-ibench >"$root/gockerd.log" 2>&1 &
daemon=$!
trap 'kill $daemon 2>/dev/null; wait $daemon 2>/dev/null; rm_daemon_nat_rules "$root/data"; rm -rf "$root"; rm_cgroup_parent gocker-ibench' EXIT
for _ in $(seq 1 200); do curl -sf --unix-socket "$sock" http://d/_ping >/dev/null 2>&1 && break; sleep 0.05; done
g="$bin/gocker -H unix://$sock"
export GOCKER_NO_PROGRESS=1

# A 3-layer image of ~100 MB: busybox + 2 layers of 48 MB of incompressible files (many small + a few big).
img=$root/img; mkdir -p "$img"
mk_layer() { # dir, seed
  local d=$root/l$2; mkdir -p "$d/data$2"
  if [ "$2" = 1 ]; then mkdir -p "$d/bin" "$d/tmp"; cp /bin/busybox "$d/bin/busybox"; ln -s busybox "$d/bin/sh"; ln -s busybox "$d/bin/true"; chmod 1777 "$d/tmp"; fi
  for i in $(seq 1 400); do head -c 65536 /dev/urandom >"$d/data$2/small$i"; done   # 25 MB in 400 files
  for i in 1 2 3; do head -c 8M /dev/urandom >"$d/data$2/big$i"; done                # 24 MB in 3 files
  tar -C "$d" --numeric-owner -cf "$img/layer$2.tar" .
}
mk_layer x 1; mk_layer x 2
( cd "$root/l1" && true )
python3 - "$img" <<'PY'
import hashlib, json, os, sys, tarfile, io
d = sys.argv[1]
layers = [f"{d}/layer1.tar", f"{d}/layer2.tar"]
def sha(p):
    h = hashlib.sha256()
    with open(p, 'rb') as f:
        for b in iter(lambda: f.read(1 << 20), b''): h.update(b)
    return h.hexdigest()
diffs = [sha(p) for p in layers]
cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"], "Env": ["PATH=/bin"]},
                  "rootfs": {"type": "layers", "diff_ids": ["sha256:" + x for x in diffs]}}).encode()
ch = hashlib.sha256(cfg).hexdigest()
with tarfile.open(f"{d}/image.tar", "w") as t:
    for p, x in zip(layers, diffs): t.add(p, arcname=f"{x}/layer.tar")
    def add(name, data):
        ti = tarfile.TarInfo(name); ti.size = len(data); t.addfile(ti, io.BytesIO(data))
    add(f"{ch}.json", cfg)
    add("manifest.json", json.dumps([{"Config": f"{ch}.json", "RepoTags": ["bench:big"], "Layers": [f"{x}/layer.tar" for x in diffs]}]).encode())
PY
size=$(stat -c %s "$img/image.tar")
t() { local s e; s=$(date +%s%N); "$@" >/dev/null; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
load_ms=$(t $g load -i "$img/image.tar")
mbs=$(python3 -c "print('%.0f' % ($size/1048576/($load_ms/1000)))")
first_run_ms=$(t $g run --rm bench:big true)
second_run_ms=$(t $g run --rm bench:big true)
cid=$($g run -d bench:big sh -c 'mkdir /chg; for i in $(seq 1 50); do head -c 1048576 /dev/urandom > /chg/f$i; done; rm -r /data1')
$g wait "$cid" >/dev/null
commit_ms=$(t $g commit "$cid" bench:committed)
commit_run_ms=$(t $g run --rm bench:committed true)
save_ms=$(t $g save -o "$root/saved.tar" bench:committed)
saved=$(stat -c %s "$root/saved.tar")
$g rm "$cid" >/dev/null
echo "## Images (bench/image-bench.sh, $(date -u +%Y-%m-%d))"
echo
echo "| operation | time |"
echo "|---|---|"
echo "| load of a $(( size / 1048576 )) MB docker-save image (2 layers, 806 files) | $load_ms ms ($mbs MB/s) |"
echo "| first run from it (\`run --rm bench:big true\`) | $first_run_ms ms |"
echo "| second run | $second_run_ms ms |"
echo "| commit of a container with 50 MB of changes (+ a deleted dir) | $commit_ms ms |"
echo "| first run of the committed image | $commit_run_ms ms |"
echo "| save of the committed image ($(( saved / 1048576 )) MB) | $save_ms ms |"
