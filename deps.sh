#!/usr/bin/env bash
# Debian/Ubuntu packages Gocker needs at run and test time (run as root).
set -euo pipefail
need=()
[ -x /bin/busybox ] && /bin/busybox --list >/dev/null 2>&1 || need+=(busybox-static)
[ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
command -v ip >/dev/null || need+=(iproute2)
command -v iptables >/dev/null || need+=(iptables)
command -v hyperfine >/dev/null || need+=(hyperfine)
command -v tmux >/dev/null || need+=(tmux)
command -v skopeo >/dev/null || need+=(skopeo)   # image tests: real tools' archives
command -v umoci >/dev/null || need+=(umoci)
# Registry tests: a real registry (the CNCF distribution) on loopback, htpasswd for its basic auth.
[ -x /usr/bin/docker-registry ] || need+=(docker-registry)
command -v htpasswd >/dev/null || need+=(apache2-utils)
# Docker's own clients, driven against gockerd by the tests (ClientDropInTests): Debian's docker-compose
# (1.29) and its python3-docker.
dpkg -s docker-compose >/dev/null 2>&1 || need+=(docker-compose)
dpkg -s python3-docker >/dev/null 2>&1 || need+=(python3-docker)
ldconfig -p | grep -q 'libseccomp\.so\.2 ' || need+=(libseccomp2)   # gockerd compiles seccomp filters with it
command -v gcc >/dev/null || need+=(gcc)             # gocker-init's C constructor (native/userns.c); seccomp tests' static probe
[ -e /usr/lib/x86_64-linux-gnu/libc.a ] || need+=(libc6-dev)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
