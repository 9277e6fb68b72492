/* Unit tests of src/store/datadir.c: a watch on DIR/meta.db notices the file deleted (the
 * cheap check) or the path naming another file (the periodic check), and stays failed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/datadir.h"

static void make_dir(char *dir, size_t cap, char *db, size_t dbcap)
{
    snprintf(dir, cap, "/tmp/wosd-datadir-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(db, dbcap, "%s/meta.db", dir);
    FILE *f = fopen(db, "w");
    assert_non_null(f);
    fclose(f);
}

static void test_deleted_file(void **state)
{
    (void)state;
    char dir[64], db[80];
    make_dir(dir, sizeof dir, db, sizeof db);
    datadir_watch *w;
    assert_int_equal(datadir_watch_open(dir, &w), 0);
    assert_true(datadir_intact(w));
    datadir_poll(w);
    assert_true(datadir_intact(w));
    assert_int_equal(unlink(db), 0);
    /* Known only once a check has looked. */
    assert_true(datadir_known_intact(w));
    assert_false(datadir_intact(w));
    assert_false(datadir_known_intact(w));
    /* Sticky: a new file at the same path is not the store's database. */
    FILE *f = fopen(db, "w");
    assert_non_null(f);
    fclose(f);
    assert_false(datadir_intact(w));
    datadir_watch_close(w);
    unlink(db);
    rmdir(dir);
}

static void test_replaced_file(void **state)
{
    (void)state;
    char dir[64], db[80], moved[96];
    make_dir(dir, sizeof dir, db, sizeof db);
    datadir_watch *w;
    assert_int_equal(datadir_watch_open(dir, &w), 0);
    snprintf(moved, sizeof moved, "%s/old.db", dir);
    assert_int_equal(rename(db, moved), 0);
    FILE *f = fopen(db, "w");
    assert_non_null(f);
    fclose(f);
    /* The opened file is still linked (under another name): only the path check sees it. */
    assert_true(datadir_intact(w));
    datadir_poll(w);
    assert_false(datadir_known_intact(w));
    assert_false(datadir_intact(w));
    datadir_watch_close(w);
    unlink(db);
    unlink(moved);
    rmdir(dir);
}

static void test_missing_at_open(void **state)
{
    (void)state;
    datadir_watch *w = NULL;
    assert_true(datadir_watch_open("/nonexistent-wosd-dir", &w) < 0);
    assert_null(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deleted_file),
        cmocka_unit_test(test_replaced_file),
        cmocka_unit_test(test_missing_at_open),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
