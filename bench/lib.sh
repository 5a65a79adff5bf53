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
