#!/usr/bin/env bash
# One command from a fresh checkout to a running container, on the built-in defaults:
#   ./gocker.sh run --rm busybox echo hello
# Installs what is missing (busybox-static), builds and installs gocker/gockerd/gocker-init,
# starts gockerd in the background if it is not answering, then runs `gocker "$@"`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" = 0 ] || { echo "gocker.sh: run as root (containers need namespaces, mounts and cgroups)" >&2; exit 125; }
"$here/deps.sh"
[ -x "$here/artifacts/bin/gocker" ] && [ -x "$here/artifacts/bin/gocker-init" ] && [ -e "$here/artifacts/bin/gockerd" ] || "$here/build.sh" >&2
"$here/install.sh" >/dev/null
sock=/run/gocker.sock
if ! curl -sf --unix-socket "$sock" http://d/_ping >/dev/null 2>&1; then
  mkdir -p /var/log
  nohup gockerd >>/var/log/gockerd.log 2>&1 &
  for _ in $(seq 1 200); do
    curl -sf --unix-socket "$sock" http://d/_ping >/dev/null 2>&1 && break
    sleep 0.05
  done
fi
[ $# -gt 0 ] || set -- run --rm busybox echo hello
exec gocker "$@"
