/* cpus — how many CPUs the process may really use, for sizing its thread pools: the CPUs of its
 * affinity (taskset, a cpuset) bounded by a cgroup v2 CPU quota (a container's `--cpus`), which
 * the affinity does not show. */
#ifndef WOSD_UTIL_CPUS_H
#define WOSD_UTIL_CPUS_H

/* The contents of a cgroup v2 cpu.max file, "<quota> <period>" (microseconds) or
 * "max <period>": the CPUs the quota is worth, rounded up (150000 100000 → 2, 50000 100000 → 1),
 * or 0 for no limit — "max", and anything malformed (a limit we cannot read is no limit). */
long cpus_parse_max(const char *text);

/* The CPU quota of the process's cgroup v2: reads ROOT/proc/self/cgroup, takes the cgroup of
 * its "0::/path" line, and reads ROOT/sys/fs/cgroup/path/cpu.max and that of every ancestor up
 * to ROOT/sys/fs/cgroup/cpu.max, since a parent's quota bounds its children. Returns the
 * smallest limit found (in CPUs, as cpus_parse_max), or 0 for no limit: no "0::" line (cgroup
 * v1 only), files missing, unreadable or malformed, or "max" all along the path. root is ""
 * for the real system; a test points it at a fake tree. */
long cpus_cgroup_limit(const char *root);

/* The CPUs the process may use: those of its affinity (or online, if that cannot be read),
 * bounded by cpus_cgroup_limit(""); at least 1. */
long cpus_usable(void);

#endif
