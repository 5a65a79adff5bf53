#!/usr/bin/env bash
# Puts gocker, gockerd and gocker-init on PATH (/usr/local/bin) as links into artifacts/bin.
set -euo pipefail
cd "$(dirname "$0")"
[ -x artifacts/bin/gocker ] || ./build.sh
prefix=${PREFIX:-/usr/local}
for b in gocker gockerd gocker-init; do ln -sfn "$PWD/artifacts/bin/$b" "$prefix/bin/$b"; done
echo "installed gocker, gockerd, gocker-init into $prefix/bin"
