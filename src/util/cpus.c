/* cpus — the CPUs the process may use: affinity bounded by a cgroup v2 quota (cpus.h).
 *
 * A container limited to 2 CPUs on a 64-CPU host usually has all 64 in its affinity and the
 * limit in its cgroup's cpu.max instead; sizing threads by the affinity alone would start 64
 * event threads that the quota then throttles. Only cgroup v2 is read: a v1-only host has no
 * "0::" line and counts as unlimited. */
#include "util/cpus.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

long cpus_parse_max(const char *text)
{
    char *end;
    if (!strncmp(text, "max", 3)) return 0;
    errno = 0;
    long long quota = strtoll(text, &end, 10);
    if (errno || end == text || quota <= 0 || *end != ' ') return 0;
    const char *p = end + 1;
    long long period = strtoll(p, &end, 10);
    if (errno || end == p || period <= 0 || (*end && strcmp(end, "\n") != 0)) return 0;
    long long n = quota / period + (quota % period != 0);
    return n > LONG_MAX ? LONG_MAX : (long)n;
}

/* The limit in one cgroup directory's cpu.max, 0 for none or unreadable. */
static long limit_in(const char *dir)
{
    char path[PATH_MAX + 16], text[64];
    if (snprintf(path, sizeof path, "%s/cpu.max", dir) >= (int)sizeof path) return 0;
    FILE *f = fopen(path, "re");
    if (!f) return 0;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    return cpus_parse_max(text);
}

long cpus_cgroup_limit(const char *root)
{
    char path[PATH_MAX], line[PATH_MAX];
    snprintf(path, sizeof path, "%s/proc/self/cgroup", root);
    FILE *f = fopen(path, "re");
    if (!f) return 0;
    const char *cg = NULL;
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "0::/", 4)) {
            line[strcspn(line, "\n")] = '\0';
            cg = line + 3;
            break;
        }
    }
    fclose(f);
    if (!cg) return 0;
    /* A cgroup outside our namespace's root shows as "/../.."; only the root we see is ours. */
    if (strstr(cg, "/..")) cg = "/";
    int len = snprintf(path, sizeof path, "%s/sys/fs/cgroup%s", root, cg);
    if (len < 0 || len >= (int)sizeof path) return 0;
    size_t top = strlen(root) + strlen("/sys/fs/cgroup");
    long best = 0;
    for (size_t end = (size_t)len;;) {
        while (end > top && path[end - 1] == '/') end--;   /* "0::/" and trailing slashes */
        path[end] = '\0';
        long n = limit_in(path);
        if (n > 0 && (best == 0 || n < best)) best = n;
        if (end <= top) break;
        while (end > top && path[end - 1] != '/') end--;
    }
    return best;
}

long cpus_usable(void)
{
    cpu_set_t set;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) n = CPU_COUNT(&set);
    long quota = cpus_cgroup_limit("");
    if (quota > 0 && quota < n) n = quota;
    return n < 1 ? 1 : n;
}
