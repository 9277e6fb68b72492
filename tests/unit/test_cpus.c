/* Unit tests of src/util/cpus.c: cpu.max contents parsed into CPUs, and the cgroup v2 quota
 * found along the process's cgroup path in a fake tree (proc/self/cgroup, sys/fs/cgroup/...). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/cpus.h"

static void test_parse_max(void **state)
{
    (void)state;
    assert_int_equal(cpus_parse_max("max 100000\n"), 0);
    assert_int_equal(cpus_parse_max("max 100000"), 0);
    assert_int_equal(cpus_parse_max("200000 100000\n"), 2);
    assert_int_equal(cpus_parse_max("150000 100000\n"), 2);   /* 1.5 CPUs: rounded up */
    assert_int_equal(cpus_parse_max("50000 100000\n"), 1);
    assert_int_equal(cpus_parse_max("1 100000"), 1);
    assert_int_equal(cpus_parse_max("6400000 100000\n"), 64);
    /* Malformed: no limit. */
    assert_int_equal(cpus_parse_max(""), 0);
    assert_int_equal(cpus_parse_max("\n"), 0);
    assert_int_equal(cpus_parse_max("200000"), 0);
    assert_int_equal(cpus_parse_max("200000 "), 0);
    assert_int_equal(cpus_parse_max("200000 0"), 0);
    assert_int_equal(cpus_parse_max("0 100000"), 0);
    assert_int_equal(cpus_parse_max("-5 100000"), 0);
    assert_int_equal(cpus_parse_max("200000 100000 7"), 0);
    assert_int_equal(cpus_parse_max("abc 100000"), 0);
    assert_int_equal(cpus_parse_max("99999999999999999999999 1"), 0);
}

/* A fake root: ROOT/proc/self/cgroup holding `self`, and ROOT/sys/fs/cgroup. */
static void make_root(char *root, size_t cap, const char *self)
{
    char p[256];
    snprintf(root, cap, "/tmp/wosd-cpus-XXXXXX");
    assert_non_null(mkdtemp(root));
    const char *dirs[] = {"/proc", "/proc/self", "/sys", "/sys/fs", "/sys/fs/cgroup"};
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
        snprintf(p, sizeof p, "%s%s", root, dirs[i]);
        assert_int_equal(mkdir(p, 0700), 0);
    }
    if (!self) return;
    snprintf(p, sizeof p, "%s/proc/self/cgroup", root);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(self, f);
    fclose(f);
}

/* Makes ROOT/sys/fs/cgroup/rel (a directory) and, when max is not NULL, its cpu.max. */
static void put_cg(const char *root, const char *rel, const char *max)
{
    char p[256];
    snprintf(p, sizeof p, "%s/sys/fs/cgroup%s", root, rel);
    mkdir(p, 0700);
    if (!max) return;
    snprintf(p, sizeof p, "%s/sys/fs/cgroup%s/cpu.max", root, rel);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(max, f);
    fclose(f);
}

static void remove_root(const char *root)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    assert_int_equal(system(cmd), 0);
}

static void test_own_cgroup(void **state)
{
    (void)state;
    char root[64];
    make_root(root, sizeof root, "0::/system.slice/docker-1.scope\n");
    put_cg(root, "/system.slice", NULL);
    put_cg(root, "/system.slice/docker-1.scope", "200000 100000\n");
    assert_int_equal(cpus_cgroup_limit(root), 2);
    remove_root(root);
}

static void test_smallest_along_the_path(void **state)
{
    (void)state;
    char root[64];
    /* The parent's quota is the tighter one; the leaf has none. A v1 hybrid's other lines are
     * skipped. */
    make_root(root, sizeof root, "4:memory:/x\n1:cpu:/\n0::/a/b/c\n");
    put_cg(root, "", "max 100000\n");
    put_cg(root, "/a", "800000 100000\n");
    put_cg(root, "/a/b", "150000 100000\n");
    put_cg(root, "/a/b/c", "max 100000\n");
    assert_int_equal(cpus_cgroup_limit(root), 2);
    /* A tighter one at the top of the tree (a container's namespace root) wins too. */
    put_cg(root, "", "100000 100000\n");
    assert_int_equal(cpus_cgroup_limit(root), 1);
    remove_root(root);
}

static void test_no_limit(void **state)
{
    (void)state;
    char root[64];
    /* No proc/self/cgroup at all. */
    make_root(root, sizeof root, NULL);
    assert_int_equal(cpus_cgroup_limit(root), 0);
    remove_root(root);
    /* cgroup v1 only: no "0::" line. */
    make_root(root, sizeof root, "1:cpu,cpuacct:/docker/1\n");
    put_cg(root, "", "100000 100000\n");
    assert_int_equal(cpus_cgroup_limit(root), 0);
    remove_root(root);
    /* "max" all along, files missing, and a malformed one. */
    make_root(root, sizeof root, "0::/a/b/c/\n");
    put_cg(root, "/a", "max 100000\n");
    put_cg(root, "/a/b", "garbage\n");
    put_cg(root, "/a/b/c", NULL);
    assert_int_equal(cpus_cgroup_limit(root), 0);
    /* The process in the root cgroup ("0::/"): only the top's cpu.max counts. */
    remove_root(root);
    make_root(root, sizeof root, "0::/\n");
    assert_int_equal(cpus_cgroup_limit(root), 0);
    put_cg(root, "", "300000 100000");
    assert_int_equal(cpus_cgroup_limit(root), 3);
    remove_root(root);
}

static void test_outside_namespace(void **state)
{
    (void)state;
    char root[64];
    /* A cgroup above our namespace's root: nothing below the visible root is ours. */
    make_root(root, sizeof root, "0::/../../other\n");
    put_cg(root, "", "400000 100000\n");
    assert_int_equal(cpus_cgroup_limit(root), 4);
    remove_root(root);
}

static void test_usable(void **state)
{
    (void)state;
    long n = cpus_usable();
    assert_true(n >= 1);
    assert_true(n <= sysconf(_SC_NPROCESSORS_CONF));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_max),
        cmocka_unit_test(test_own_cgroup),
        cmocka_unit_test(test_smallest_along_the_path),
        cmocka_unit_test(test_no_limit),
        cmocka_unit_test(test_outside_namespace),
        cmocka_unit_test(test_usable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
