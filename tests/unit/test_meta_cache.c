/* test_meta_cache — the object row cache on its own: what it keeps, when it stops trusting an
 * entry, and how it stays within its budget. (test_meta.c checks, through meta.h, that no
 * change of an object is ever hidden behind it.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/meta_cache.h"
#include "util/arena.h"

static meta_object inline_row(const char *data, const char *headers)
{
    meta_object o = {.size = (int64_t)strlen(data), .mtime_ms = 42, .headers = headers,
                     .inline_data = data, .parts_count = 0, .expire_ms = 7};
    snprintf(o.etag, sizeof o.etag, "etag");
    snprintf(o.storage_class, sizeof o.storage_class, "STANDARD");
    return o;
}

static void test_hit_copies_the_row(void **state)
{
    (void)state;
    mcache *c = mcache_new(1 << 20);
    arena *a = arena_new(1024);
    uint64_t g = mcache_generation();
    meta_object o = inline_row("hello", "content-type: text/plain\n"), got;
    meta_status st;
    assert_false(mcache_get(c, g, "b", "k", a, &got, &st));
    mcache_put(c, g, "b", "k", META_OK, &o);
    assert_true(mcache_get(c, g, "b", "k", a, &got, &st));
    assert_int_equal(st, META_OK);
    assert_string_equal(got.key, "k");
    assert_int_equal(got.size, 5);
    assert_memory_equal(got.inline_data, "hello", 5);
    assert_string_equal(got.headers, "content-type: text/plain\n");
    assert_string_equal(got.etag, "etag");
    assert_int_equal(got.expire_ms, 7);
    assert_int_equal(got.nextents, 0);
    assert_null(got.extents);
    /* The same key in another bucket, and a bucket/key split differently, are other rows. */
    assert_false(mcache_get(c, g, "bk", "", a, &got, &st));
    assert_false(mcache_get(c, g, "x", "k", a, &got, &st));

    /* An empty inline object stays inline (non-NULL data), as the store returns it. */
    meta_object e = inline_row("", "");
    mcache_put(c, g, "b", "empty", META_OK, &e);
    assert_true(mcache_get(c, g, "b", "empty", a, &got, &st));
    assert_non_null(got.inline_data);
    assert_int_equal(got.size, 0);

    /* Extents come back whole. */
    meta_extent x[3];
    memset(x, 0, sizeof x);
    for (int i = 0; i < 3; i++) {
        snprintf(x[i].blob_id, sizeof x[i].blob_id, "%032d", i);
        x[i].size = 100 + i;
        snprintf(x[i].etag, sizeof x[i].etag, "e%d", i);
    }
    meta_object m = {.size = 303, .headers = "", .nextents = 3, .extents = x, .parts_count = 3};
    mcache_put(c, g, "b", "multi", META_OK, &m);
    assert_true(mcache_get(c, g, "b", "multi", a, &got, &st));
    assert_null(got.inline_data);
    assert_int_equal(got.nextents, 3);
    assert_memory_equal(got.extents, x, sizeof x);
    assert_ptr_not_equal(got.extents, x);

    /* An absence is kept too. */
    mcache_put(c, g, "b", "gone", META_NOT_FOUND, NULL);
    assert_true(mcache_get(c, g, "b", "gone", a, &got, &st));
    assert_int_equal(st, META_NOT_FOUND);
    /* Errors are not. */
    mcache_put(c, g, "b", "err", META_ERROR, NULL);
    assert_false(mcache_get(c, g, "b", "err", a, &got, &st));

    arena_free(a);
    mcache_free(c);
}

static void test_generation_outdates_everything(void **state)
{
    (void)state;
    mcache *c = mcache_new(1 << 20);
    arena *a = arena_new(1024);
    meta_object o = inline_row("v1", ""), got;
    meta_status st;
    uint64_t g = mcache_generation();
    mcache_put(c, g, "b", "k", META_OK, &o);
    mcache_put(c, g, "b", "absent", META_NOT_FOUND, NULL);
    size_t held = mcache_bytes(c);
    assert_true(held > 0);
    mcache_bump();
    uint64_t g2 = mcache_generation();
    assert_true(g2 > g);
    assert_false(mcache_get(c, g2, "b", "k", a, &got, &st));
    assert_false(mcache_get(c, g2, "b", "absent", a, &got, &st));
    assert_int_equal(mcache_bytes(c), 0);   /* outdated entries are dropped when met */

    /* A row read before a commit landed (put with the older generation) is never served. */
    mcache_put(c, g, "b", "k", META_OK, &o);
    assert_false(mcache_get(c, g2, "b", "k", a, &got, &st));
    /* A later reading is not replaced by an earlier one. */
    meta_object o2 = inline_row("v2", "");
    mcache_put(c, g2, "b", "k", META_OK, &o2);
    mcache_put(c, g, "b", "k", META_OK, &o);
    assert_true(mcache_get(c, g2, "b", "k", a, &got, &st));
    assert_memory_equal(got.inline_data, "v2", 2);
    arena_free(a);
    mcache_free(c);
}

static void test_budget(void **state)
{
    (void)state;
    enum { BUDGET = 256 * 1024 };
    mcache *c = mcache_new(BUDGET);
    arena *a = arena_new(1024);
    static char big[4096];
    memset(big, 'x', sizeof big - 1);
    meta_object o = inline_row(big, ""), got;
    meta_status st;
    uint64_t g = mcache_generation();
    char key[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "k%04d", i);
        mcache_put(c, g, "b", key, META_OK, &o);
        assert_true(mcache_bytes(c) <= BUDGET + 16 * 4400);
        /* The newest row is kept, whatever had to go for it. */
        assert_true(mcache_get(c, g, "b", key, a, &got, &st));
    }
    assert_true(mcache_bytes(c) > BUDGET / 2);
    int kept = 0;
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "k%04d", i);
        kept += mcache_get(c, g, "b", key, a, &got, &st);
    }
    assert_true(kept > 20 && kept < 64);

    /* A row too large to keep is not kept, and does not push anything out. */
    size_t before = mcache_bytes(c);
    char *huge = malloc(MCACHE_ENTRY_MAX);
    memset(huge, 'y', MCACHE_ENTRY_MAX - 1);
    huge[MCACHE_ENTRY_MAX - 1] = 0;
    meta_object h = inline_row(huge, "");
    mcache_put(c, g, "b", "huge", META_OK, &h);
    assert_false(mcache_get(c, g, "b", "huge", a, &got, &st));
    assert_int_equal(mcache_bytes(c), before);
    free(huge);

    /* A NULL cache (out of memory at open) caches nothing and fails nothing. */
    mcache_put(NULL, g, "b", "k", META_OK, &o);
    assert_false(mcache_get(NULL, g, "b", "k", a, &got, &st));
    arena_free(a);
    mcache_free(c);
}

/* Threads reading, putting and bumping at once: every hit is a row that was put with the
 * generation it was asked for (the bytes tell which), and the budget holds. */
typedef struct race {
    mcache *c;
    int id;
    int bad;
} race;

static void *race_main(void *p)
{
    race *r = p;
    arena *a = arena_new(4096);
    char key[16], data[64];
    for (int i = 0; i < 20000; i++) {
        snprintf(key, sizeof key, "k%d", i % 97);
        uint64_t g = mcache_generation();
        meta_object got;
        meta_status st;
        if (mcache_get(r->c, g, "b", key, a, &got, &st)) {
            char want[64];
            snprintf(want, sizeof want, "%s@%llu", key, (unsigned long long)g);
            if (st != META_OK || got.size != (int64_t)strlen(want) || memcmp(got.inline_data, want, strlen(want)))
                r->bad++;
        } else {
            snprintf(data, sizeof data, "%s@%llu", key, (unsigned long long)g);
            meta_object o = inline_row(data, "h\n");
            mcache_put(r->c, g, "b", key, META_OK, &o);
        }
        if (r->id == 0 && i % 500 == 0) mcache_bump();
        if (mcache_bytes(r->c) > 64 * 1024 + 16 * 1024) r->bad++;
        if (i % 1000 == 0) {
            arena_free(a);
            a = arena_new(4096);
        }
    }
    arena_free(a);
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    mcache *c = mcache_new(64 * 1024);
    pthread_t t[4];
    race r[4];
    for (int i = 0; i < 4; i++) {
        r[i] = (race){.c = c, .id = i};
        assert_int_equal(pthread_create(&t[i], NULL, race_main, &r[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(r[i].bad, 0);
    }
    mcache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hit_copies_the_row),
        cmocka_unit_test(test_generation_outdates_everything),
        cmocka_unit_test(test_budget),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
