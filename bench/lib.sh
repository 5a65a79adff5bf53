# Shared by the bench scripts (sourced).
# Removes a daemon's cgroup parent from every hierarchy (v1 controllers, the hybrid's unified tree,
# a pure v2 root): gockerd creates it and, by design, never removes it.
rm_cgroup_parent() {
  local d
  for d in /sys/fs/cgroup/*/"$1" /sys/fs/cgroup/"$1"; do [ -d "$d" ] && rmdir "$d" 2>/dev/null; done
  return 0
}

# Removes the NAT rule of every network a bench daemon kept under DATA_ROOT (one MASQUERADE rule per
# network, commented "gocker-net ID12"; gockerd keeps it while the network exists, and a bench that
# deletes its data root would otherwise leave it behind, one rule per run on the shared gocker0).
rm_daemon_nat_rules() {
  local f id
  for f in "$1"/network/networks/*.json; do
    [ -e "$f" ] || continue
    id=$(basename "$f" .json)
    iptables -w -t nat -S POSTROUTING | grep -- "--comment \"gocker-net ${id:0:12}\"" | sed 's/^-A /-D /' |
      while read -r rule; do eval iptables -w -t nat "$rule"; done || true
  done
  return 0
}

# Removes a bench network's own bridge and its host rules: the NAT rule (one per network) and the
# two isolation rules (the GOCKER-ISOLATION chains themselves stay, as gockerd leaves them).
rm_bench_bridge() { # BRIDGE SUBNET
  local chain
  ip link del "$1" 2>/dev/null || true
  iptables -w -t nat -S POSTROUTING | grep -- "-s $2 ! -o $1" | sed 's/^-A /-D /' |
    while read -r rule; do eval iptables -w -t nat "$rule"; done || true
  for chain in GOCKER-ISOLATION-1 GOCKER-ISOLATION-2; do
    iptables -w -S $chain 2>/dev/null | grep -E -- "-[io] $1 " | sed 's/^-A /-D /' |
      while read -r rule; do eval iptables -w "$rule"; done || true
  done
  return 0
}
