# Shared by the bench scripts (sourced).
# Removes a daemon's cgroup parent from every hierarchy (v1 controllers, the hybrid's unified tree,
# a pure v2 root): gockerd creates it and, by design, never removes it.
rm_cgroup_parent() {
  local d
  for d in /sys/fs/cgroup/*/"$1" /sys/fs/cgroup/"$1"; do [ -d "$d" ] && rmdir "$d" 2>/dev/null; done
  return 0
}
